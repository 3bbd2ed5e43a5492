/**
 * `deno task build`: the one file to copy to each node, and its service files.
 *
 *     deno task build [--out DIR] [--mode auto|compile|sfx] [--deno PATH] [--if-changed]
 *
 * Writes into DIR (default dist/):
 * - `hastmon`: with `deno compile` where Deno's runtime for it (denort) can be
 *   had (downloaded, or `DENORT_BIN`); the result is run once and used only if
 *   it answers `--version` as hastmon. Otherwise (mode auto), or with
 *   `--mode sfx`, a self-extracting file (scripts/build/launcher.ts): a shell
 *   header and a gzip'd tar of a Deno binary (`--deno`, default the Deno
 *   running this build) and the bundled program (`deno bundle`: app.js and
 *   the modules it loads on demand, the console among them).
 * - `hastmon.service` (systemd) and `hastmon.rc` (rc.d), see
 *   scripts/build/service_files.ts.
 * - `hastmon.build.json`: what was built, from which sources.
 *
 * `--if-changed` does nothing when DIR already holds a build of the same
 * sources, options and Deno (the tests use it to build once per CI run).
 */
import { VERSION } from "../src/version.ts";
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";
import { launcherHeader } from "./build/launcher.ts";
import { rcScript, systemdUnit } from "./build/service_files.ts";

/** The repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** How to build. */
export interface BuildOptions {
  out: string;
  mode: "auto" | "compile" | "sfx";
  /** The Deno binary put into a self-extracting file. */
  deno: string;
  ifChanged: boolean;
  log: (line: string) => void;
}

/** What a build wrote; also kept as `hastmon.build.json` in the output directory. */
export interface BuildRecord {
  version: string;
  kind: "compile" | "sfx";
  /** Identifies the sources, options and Deno the build came from (see {@link buildKey}). */
  key: string;
  deno: string;
  platform: string;
  /** sha256 of the self-extracting file's payload (its cache directory's name). */
  payloadSha256: string | null;
  bytes: number;
}

/** The inputs of a build: every non-test source of the program, the import map and lock. */
async function sourceFiles(): Promise<string[]> {
  const files = ["main.ts", "deno.json", "deno.lock", "scripts/build.ts"];
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${ROOT}${dir}`)];
    } catch {
      return; // e.g. no tui/ yet
    }
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (/\.(ts|tsx|js|json)$/.test(e.name) && !/_test\.tsx?$/.test(e.name)) files.push(path);
    }
  };
  for (const dir of ["src", "tui", "scripts/build"]) await walk(dir);
  return files.sort();
}

/** sha256 hex of `data`. */
export async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A hash of the sources, the mode, the Deno binary to embed and DENORT_BIN. */
export async function buildKey(opts: Pick<BuildOptions, "mode" | "deno">): Promise<string> {
  const parts: string[] = [
    `mode=${opts.mode}`,
    `deno=${opts.deno}:${(await Deno.stat(opts.deno)).size}`,
    `denort=${Deno.env.get("DENORT_BIN") ?? ""}`,
  ];
  for (const f of await sourceFiles()) {
    parts.push(`${f}:${await sha256(await Deno.readFile(`${ROOT}${f}`))}`);
  }
  return await sha256(new TextEncoder().encode(parts.join("\n")));
}

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function must(what: string, cmd: string, args: string[], opts = {}): Promise<Run> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.err}${r.out}`);
  return r;
}

/** Run a built executable from an empty directory; true when it answers `--version` as hastmon. */
async function answersVersion(exe: string, env: Record<string, string>): Promise<string | null> {
  const cwd = await Deno.makeTempDir({ prefix: "hastmon-try-" });
  try {
    const r = await run(exe, ["--version"], { cwd, env });
    if (r.code === 0 && r.out.trim() === VERSION) return null;
    return `exit ${r.code}: ${(r.err + r.out).trim().split("\n").slice(0, 3).join(" / ")}`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

/** `deno compile` into `dest`; null when done and verified, else why not. */
async function tryCompile(dest: string): Promise<string | null> {
  const r = await run(Deno.execPath(), [
    "compile",
    "--quiet",
    "--no-check",
    "-A",
    ...DAEMON_DENO_FLAGS,
    // The console is imported through a computed URL, which the compiler cannot follow.
    "--include",
    TUI_SOURCE,
    "--output",
    dest,
    "main.ts",
  ]);
  if (r.code !== 0) {
    // The last "Caused by" line is the root cause (e.g. the denort download's DNS error).
    const lines = r.err.trim().split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const numbered = lines.filter((l) => /^\d+: /.test(l));
    const cause = numbered[1] ?? numbered[0] ?? lines.at(-1) ?? `exit ${r.code}`;
    return `deno compile failed: ${cause.replace(/^\d+: /, "")}`;
  }
  const wrong = await answersVersion(dest, {});
  if (wrong !== null) {
    return `deno compile made a file that does not run hastmon (${wrong}); DENORT_BIN must be a denort`;
  }
  return null;
}

/** The console's entry: a second entry of the bundle (see {@link TUI_ENTRY_SOURCE}). */
const TUI_SOURCE = "tui/run.tsx";
/** Where the bundle puts the console's entry, relative to the bundle's directory. */
export const TUI_BUNDLED = "tui/run.js";
/**
 * TUI_ENTRY as src/cli/console.ts writes it: the console's module, named by
 * a URL that neither Deno nor the bundler reads ahead, so that daemon and
 * ctl never load Ink. In the bundle, that URL would name a source file that
 * is not there: it is pointed at {@link TUI_BUNDLED} instead.
 */
export const TUI_ENTRY_SOURCE = `new URL("../../${TUI_SOURCE}", import.meta.url)`;

/**
 * The bundle's files (path relative to its directory → code), patched:
 * - Ink's devtools module imports react-devtools-core, which hastmon does not
 *   ship; the bundler leaves that import in place, and it would fail at load.
 *   The devtools are only used when DEV=true; a stand-in that does nothing.
 * - {@link TUI_ENTRY_SOURCE}, which must be found exactly once, names the
 *   bundled console relative to the file it is in.
 * - The bundler's helpers for CommonJS modules (`__require`, `__toESM`, ...)
 *   are in a chunk of their own, which imports `node:module` for
 *   `createRequire`; every entry and chunk imports it for its side effects
 *   even when it uses none of them. Loading `node:module` costs a process
 *   about 4.5 MB (Node's module loader and file system modules): the guard,
 *   which never loads CommonJS, would carry it for its whole life. Those
 *   bare imports are dropped; what uses a helper imports it by name.
 * Throws when a file still imports a bare specifier: nothing could load it.
 */
export function patchBundle(files: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  let entries = 0;
  const helpers = [...files].filter(([, code]) => isCommonJsHelpers(code)).map(([path]) => path);
  for (const [path, original] of files) {
    let code = original;
    for (const h of helpers) {
      const name = h.split("/").at(-1)!.replace(/[.]/g, "\\.");
      code = code.replace(new RegExp(`^import "(?:\\.{1,2}/)+(?:[^"]*/)?${name}";\\n`, "gm"), "");
    }
    const depth = path.split("/").length - 1;
    const tui = `new URL("${
      depth === 0 ? "./" : "../".repeat(depth)
    }${TUI_BUNDLED}", import.meta.url)`;
    const patched = code.replace(
      /^import (\w+) from "react-devtools-core";$/m,
      "const $1 = { initialize() {}, connectToDevTools() {} };",
    ).replaceAll(TUI_ENTRY_SOURCE, () => {
      entries++;
      return tui;
    });
    const bare = [
      ...patched.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm),
    ]
      .map((m) => m[1])
      .filter((s) => !s.startsWith("node:") && !s.startsWith("."));
    if (bare.length > 0) {
      throw new Error(
        `${path} still imports ${[...new Set(bare)].join(", ")}: nothing to load them from`,
      );
    }
    out.set(path, patched);
  }
  if (entries !== 1) {
    throw new Error(
      `the console's entry (${TUI_ENTRY_SOURCE}, src/cli/console.ts) is in the bundle ` +
        `${entries} times, not once: \`hastmon tui\` and \`hastmon demo\` would not find it`,
    );
  }
  return out;
}

/**
 * Whether `code` is the bundler's chunk of CommonJS helpers: it creates a
 * `require` from `node:module`, and all it exports are `__` helpers (nothing
 * of ours, whose evaluation order a dropped import could change).
 */
function isCommonJsHelpers(code: string): boolean {
  if (!/^import \{ createRequire as \w+ \} from "node:module";$/m.test(code)) return false;
  const exported = [...code.matchAll(/^export \{([^}]*)\};?$/gm)].flatMap((m) =>
    m[1].split(",").map((n) => n.trim()).filter((n) => n !== "")
  );
  return exported.length > 0 && exported.every((n) => n.startsWith("__"));
}

/** Every file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir: string, sub = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
    const path = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...filesUnder(dir, path));
    else out.push(path);
  }
  return out.sort();
}

/**
 * Bundle the program into `dir` (no node_modules needed to run it): `app.js`
 * and the modules it loads when needed, split so that the console (a second
 * entry, reached only by `tui` and `demo`) and what only it uses stay out of
 * what every command loads. Returns the files written, relative to `dir`.
 */
export async function bundle(dir: string): Promise<string[]> {
  await must("deno bundle", Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--external",
    "react-devtools-core",
    "--outdir",
    dir,
    "main.ts",
    TUI_SOURCE,
  ]);
  const files = new Map<string, string>();
  for (const f of filesUnder(dir)) files.set(f, await Deno.readTextFile(`${dir}/${f}`));
  for (const [f, code] of patchBundle(files)) await Deno.writeTextFile(`${dir}/${f}`, code);
  // The launcher runs app.js; nothing imports the entry by its name.
  await Deno.rename(`${dir}/main.js`, `${dir}/app.js`);
  return filesUnder(dir);
}

/** The Deno binary's version and platform, from `deno --version`. */
async function denoIdentity(deno: string): Promise<{ version: string; platform: string }> {
  const r = await run(deno, ["--version"]).catch(() => null);
  const m = r && /^deno (\S+) \([^)]*?(\S+-\S+-\S+)\)/m.exec(r.out);
  if (!m) {
    // Another platform's binary cannot run here: name it after its file.
    return { version: "unknown", platform: "unknown" };
  }
  return { version: m[1], platform: m[2] };
}

/** The self-extracting file at `dest`, built in `work`. */
async function buildSfx(
  dest: string,
  work: string,
  deno: string,
): Promise<{ sha256: string; deno: string; platform: string }> {
  const stage = `${work}/stage`;
  await Deno.mkdir(stage);
  const program = await bundle(stage);
  for (const f of program) await Deno.chmod(`${stage}/${f}`, 0o644);
  await Deno.copyFile(deno, `${stage}/deno`);
  await Deno.chmod(`${stage}/deno`, 0o755);
  // Reproducible: the same sources and Deno give the same payload, hence the same cache entry.
  await must("tar", "tar", [
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mtime=@0",
    "--format=ustar",
    "-C",
    stage,
    "-cf",
    `${work}/payload.tar`,
    "deno",
    ...program,
  ]);
  await must("gzip", "gzip", ["-6", "-n", `${work}/payload.tar`]);
  const payload = await Deno.readFile(`${work}/payload.tar.gz`);
  const sum = await sha256(payload);
  const id = await denoIdentity(deno);
  const header = new TextEncoder().encode(launcherHeader({
    sha256: sum,
    version: VERSION,
    deno: id.version,
    platform: id.platform,
    denoFlags: DAEMON_DENO_FLAGS,
  }));
  const file = await Deno.open(dest, { write: true, create: true, truncate: true, mode: 0o755 });
  try {
    for (const chunk of [header, payload]) {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
  } finally {
    file.close();
  }
  await Deno.chmod(dest, 0o755);
  return { sha256: sum, deno: id.version, platform: id.platform };
}

/** Build; returns what was built (or found up to date). */
export async function build(opts: BuildOptions): Promise<BuildRecord> {
  const out = opts.out.replace(/\/+$/, "") || ".";
  await Deno.mkdir(out, { recursive: true });
  const key = await buildKey(opts);
  const recordPath = `${out}/hastmon.build.json`;
  if (opts.ifChanged) {
    try {
      const old = JSON.parse(await Deno.readTextFile(recordPath)) as BuildRecord;
      const size = (await Deno.stat(`${out}/hastmon`)).size;
      if (old.key === key && old.bytes === size) {
        opts.log(`${out}/hastmon is up to date (${old.kind})`);
        return old;
      }
    } catch {
      // Nothing usable there: build.
    }
  }
  const work = await Deno.makeTempDir({ prefix: "hastmon-build-" });
  try {
    const exe = `${work}/hastmon`;
    let record: BuildRecord | null = null;
    if (opts.mode !== "sfx") {
      const why = await tryCompile(exe);
      if (why === null) {
        const self = await denoIdentity(Deno.execPath());
        record = {
          version: VERSION,
          kind: "compile",
          key,
          deno: self.version,
          platform: self.platform,
          payloadSha256: null,
          bytes: (await Deno.stat(exe)).size,
        };
      } else if (opts.mode === "compile") {
        throw new Error(why);
      } else {
        opts.log(`${why.split("\n")[0]}\n  → building the self-extracting file instead`);
      }
    }
    if (record === null) {
      const sfx = await buildSfx(exe, work, opts.deno);
      if (sfx.platform !== "unknown") {
        const wrong = await answersVersion(exe, { HASTMON_CACHE: `${work}/cache` });
        if (wrong !== null) throw new Error(`the self-extracting file does not run: ${wrong}`);
      } else {
        opts.log(`${opts.deno} does not run here: the file is not tried`);
      }
      record = {
        version: VERSION,
        kind: "sfx",
        key,
        deno: sfx.deno,
        platform: sfx.platform,
        payloadSha256: sfx.sha256,
        bytes: (await Deno.stat(exe)).size,
      };
    }
    await Deno.writeTextFile(`${work}/hastmon.service`, systemdUnit());
    await Deno.writeTextFile(`${work}/hastmon.rc`, rcScript(), { mode: 0o755 });
    await Deno.writeTextFile(`${work}/record.json`, JSON.stringify(record, null, 2) + "\n");
    // Each file appears whole; the record last, so that it never vouches for a half-copied build.
    await Deno.remove(recordPath).catch(() => {});
    for (
      const [from, to] of [
        ["hastmon", "hastmon"],
        ["hastmon.service", "hastmon.service"],
        ["hastmon.rc", "hastmon.rc"],
        ["record.json", "hastmon.build.json"],
      ]
    ) {
      await moveInto(`${work}/${from}`, `${out}/${to}`);
    }
    opts.log(
      `${out}/hastmon: ${record.kind === "compile" ? "deno compile" : "self-extracting"}, ` +
        `${(record.bytes / 1e6).toFixed(1)} MB, Deno ${record.deno} ${record.platform}; ` +
        `${out}/hastmon.service, ${out}/hastmon.rc`,
    );
    return record;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** Move `from` to `to` atomically (a copy, then a rename, across file systems). */
async function moveInto(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch {
    const tmp = `${to}.tmp.${Deno.pid}`;
    await Deno.copyFile(from, tmp);
    await Deno.chmod(tmp, (await Deno.stat(from)).mode! & 0o777);
    await Deno.rename(tmp, to);
  }
}

function usage(message: string): never {
  console.error(`build: ${message}
usage: deno task build [--out DIR] [--mode auto|compile|sfx] [--deno PATH] [--if-changed]`);
  Deno.exit(64);
}

/** Parse the command line of the script. */
export function parseArgs(args: string[]): BuildOptions {
  const opts: BuildOptions = {
    out: `${ROOT}dist`,
    mode: "auto",
    deno: Deno.execPath(),
    ifChanged: false,
    log: (line) => console.error(line),
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i] ?? usage(`${a} needs a value`);
    if (a === "--out") opts.out = value();
    else if (a === "--deno") opts.deno = value();
    else if (a === "--if-changed") opts.ifChanged = true;
    else if (a === "--mode") {
      const m = value();
      if (m !== "auto" && m !== "compile" && m !== "sfx") usage(`unknown mode ${m}`);
      opts.mode = m;
    } else usage(`unknown argument ${a}`);
  }
  return opts;
}

if (import.meta.main) {
  try {
    await build(parseArgs(Deno.args));
  } catch (e) {
    console.error(`build: ${(e as Error).message}`);
    Deno.exit(70);
  }
}
