/**
 * Preflight of `hastmon config check`: every program this node would run for
 * its resources — `exec`, each member's methods, `panic` and `fence` — exists
 * here and is executable, reported at the key that names it. A missing start
 * script is otherwise found at the worst moment: during a failover.
 */
import type { ConfigError, Pos } from "./diagnostics.ts";
import type { EffectiveConfig, Provenance } from "./types.ts";

/** One program to look at, and where the file names it. */
interface Program {
  path: string;
  key: string;
  /** The resources that run it, in file order. */
  resources: string[];
  pos: Pos;
}

/** Where a value was written, or `fallback` for a default. */
function at(from: Provenance | undefined, fallback: Pos): Pos {
  return from?.line !== undefined && from.col !== undefined
    ? { line: from.line, col: from.col }
    : fallback;
}

/** The programs this node's resources would run, each (path, position) once. */
export function programsOf(cfg: EffectiveConfig): Program[] {
  const out = new Map<string, Program>();
  const add = (p: Omit<Program, "resources">, resource: string) => {
    const id = `${p.path}@${p.pos.line}:${p.pos.col}`;
    const seen = out.get(id);
    if (!seen) out.set(id, { ...p, resources: [resource] });
    else if (!seen.resources.includes(resource)) seen.resources.push(resource);
  };
  for (const res of cfg.resources) {
    const v = res.self;
    if (!v) continue;
    if (v.exec !== null) {
      add({ path: v.exec, key: "exec", pos: at(v.settings.exec?.from, v.pos) }, res.name);
    }
    for (const m of v.members) {
      for (const [method, cmd] of Object.entries(m.commands)) {
        if (!cmd || cmd.argv.length === 0) continue;
        add(
          { path: cmd.argv[0], key: cmd.viaExec ? "exec" : method, pos: at(cmd.from, m.pos) },
          res.name,
        );
      }
    }
    for (const key of ["panic", "fence"] as const) {
      const cmd = v[key];
      if (cmd && cmd.length > 0) {
        add({ path: cmd[0], key, pos: at(v.settings[key]?.from, v.pos) }, res.name);
      }
    }
  }
  return [...out.values()];
}

/** Why `path` cannot be run, or null when it can. */
export async function notRunnable(path: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "does not exist on this node";
    if (e instanceof Deno.errors.PermissionDenied) return "cannot be looked at (permission denied)";
    return `cannot be looked at (${(e as Error).message})`;
  }
  if (info.isDirectory) return "is a directory, not a program";
  if (!info.isFile) return "is not a regular file";
  if (info.mode !== null && (info.mode & 0o111) === 0) {
    return `is not executable (mode ${
      (info.mode & 0o777).toString(8).padStart(4, "0")
    }): chmod +x it`;
  }
  return null;
}

/** An error for every program of this node's resources that is missing or not executable. */
export async function preflight(cfg: EffectiveConfig): Promise<ConfigError[]> {
  const errors: ConfigError[] = [];
  for (const p of programsOf(cfg)) {
    const why = await notRunnable(p.path);
    if (why === null) continue;
    errors.push({
      file: cfg.file,
      line: p.pos.line,
      col: p.pos.col,
      message: `\`${p.key}\` (resource${p.resources.length > 1 ? "s" : ""} ${
        p.resources.join(", ")
      }): ${p.path} ${why}`,
      // A program of one resource disables only it; a shared one concerns the file.
      ...(p.resources.length === 1 ? { resource: p.resources[0] } : {}),
    });
  }
  return errors;
}
