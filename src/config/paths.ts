/** Path arithmetic for configuration values (no @std/path here). */

/** The directory part of `file` ("." when it has none). */
export function dirname(file: string): string {
  const i = file.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : file.slice(0, i);
}

/**
 * `path` made absolute against `base` (relative paths in the configuration are
 * relative to the configuration file's directory), with `.` and `..` folded.
 */
export function resolvePath(base: string, path: string): string {
  const joined = path.startsWith("/") ? path : `${base}/${path}`;
  const absolute = joined.startsWith("/");
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else {
      out.push(part);
    }
  }
  const s = out.join("/");
  return absolute ? `/${s}` : s === "" ? "." : s;
}
