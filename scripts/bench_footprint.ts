/**
 * The footprint of the daemon and of `hastmon ctl status`, for one or more
 * versions of hastmon (a benchmark, not a test): to show that a change (the
 * Ink console) leaves both alone, run it on the old and the new version.
 * A version is a checkout (`deno run -A main.ts`, module cache warm) or a
 * built file (`deno task build`, its cache unpacked by a first run).
 *
 * 1. idle RSS: per version, three real daemons (a primary, a secondary and a
 *    watchdog), each with 3 resources at the default heartbeat_interval
 *    (10 s), settled, then left alone for --idle-seconds; VmRSS and VmHWM of
 *    each daemon's Deno process from /proc.
 * 2. `hastmon ctl status` as a whole process (Deno start-up included),
 *    against one running daemon, the versions taking turns run by run so that
 *    a drift of the machine's speed hits them alike.
 *
 *     deno run -A scripts/bench_footprint.ts [--checkout DIR[=LABEL]]...
 *         [--built FILE[=LABEL]]... [--idle-seconds 20] [--ctl-runs 15] [--write]
 *
 * Prints Markdown tables; with --write, replaces its section of
 * docs/BENCHMARKS.md (scripts/bench_doc.ts).
 */
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";
import { writeSection } from "./bench_doc.ts";

const HERE = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** One version of hastmon: how to run it. */
interface Version {
  label: string;
  /** The command line up to hastmon's own arguments; `daemon` adds the daemon's flags. */
  argv: (daemon: boolean) => string[];
  cwd: string;
  env: Record<string, string>;
}

interface Options {
  versions: Version[];
  /** Cache directories made for built files, removed at the end. */
  caches: string[];
  idleSeconds: number;
  ctlRuns: number;
  write: boolean;
}

function checkout(dir: string, label: string): Version {
  return {
    label,
    argv: (daemon) => [
      Deno.execPath(),
      "run",
      "-A",
      ...(daemon ? DAEMON_DENO_FLAGS : []),
      `${dir}/main.ts`,
    ],
    cwd: dir,
    env: {},
  };
}

function built(file: string, label: string, cache: string): Version {
  // The launcher passes the daemon's flags itself.
  return { label, argv: () => [file], cwd: "/", env: { HASTMON_CACHE: cache } };
}

/** `PATH=LABEL` or `PATH` (labelled by its commit, or its name). */
async function pathAndLabel(v: string, kind: "checkout" | "built"): Promise<[string, string]> {
  const eq = v.indexOf("=");
  const path = (eq < 0 ? v : v.slice(0, eq)).replace(/\/$/, "");
  if (eq >= 0) return [path, v.slice(eq + 1)];
  return [path, kind === "checkout" ? `${path} (${await commitOf(path)})` : path];
}

async function parseArgs(args: string[]): Promise<Options> {
  const o: Options = { versions: [], caches: [], idleSeconds: 20, ctlRuns: 15, write: false };
  for (let i = 0; i < args.length; i++) {
    const value = () => {
      const v = args[++i];
      if (v === undefined) usage(`${args[i - 1]} needs a value`);
      return v;
    };
    switch (args[i]) {
      case "--checkout": {
        const [dir, label] = await pathAndLabel(value(), "checkout");
        o.versions.push(checkout(dir, label));
        break;
      }
      case "--built": {
        const [file, label] = await pathAndLabel(value(), "built");
        const cache = await Deno.makeTempDir({ prefix: "hastmon-footprint-cache-" });
        o.caches.push(cache);
        o.versions.push(built(file, label, cache));
        break;
      }
      case "--idle-seconds":
        o.idleSeconds = Number(value());
        if (!(o.idleSeconds > 0)) usage("--idle-seconds: not a positive number");
        break;
      case "--ctl-runs":
        o.ctlRuns = Math.round(Number(value()));
        if (!(o.ctlRuns > 0)) usage("--ctl-runs: not a positive number");
        break;
      case "--write":
        o.write = true;
        break;
      default:
        usage(`unknown argument ${args[i]}`);
    }
  }
  if (o.versions.length === 0) o.versions.push(checkout(HERE, `${HERE} (${await commitOf(HERE)})`));
  return o;
}

function usage(problem: string): never {
  console.error(
    `bench_footprint: ${problem}\nusage: deno run -A scripts/bench_footprint.ts ` +
      `[--checkout DIR[=LABEL]]... [--built FILE[=LABEL]]... [--idle-seconds S] [--ctl-runs N] ` +
      `[--write]`,
  );
  Deno.exit(64);
}

const NODES = [
  { name: "a", role: "primary", priority: 10 },
  { name: "b", role: "secondary", priority: 20 },
  { name: "w", role: "watchdog", priority: 30 },
] as const;
const RESOURCES = ["r0", "r1", "r2"];

/** A TCP port that was free a moment ago on 127.0.0.1 (a benchmark may take the small risk). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Three daemons of `version` in a fresh directory. */
class BenchCluster {
  readonly procs = new Map<string, Deno.ChildProcess>();
  private constructor(readonly version: Version, readonly dir: string) {}

  static async start(version: Version): Promise<BenchCluster> {
    const dir = await Deno.makeTempDir({ prefix: "hastmon-footprint-" });
    const c = new BenchCluster(version, dir);
    await Deno.writeTextFile(
      `${dir}/svc.sh`,
      `#!/bin/sh
case "$1" in
start) touch "${dir}/run-$HASTMON_NODE-$2";;
stop) rm -f "${dir}/run-$HASTMON_NODE-$2";;
status) [ -e "${dir}/run-$HASTMON_NODE-$2" ] || exit 1;;
esac
exit 0
`,
      { mode: 0o755 },
    );
    const ports = new Map(NODES.map((n) => [n.name, freePort()]));
    const lines = [`timeout = 2`, `stop_timeout = 2`, `exec = "${dir}/svc.sh"`];
    for (const n of NODES) {
      lines.push(
        "",
        `[on.${n.name}]`,
        `listen = "tcp://127.0.0.1:${ports.get(n.name)}"`,
        `control = "${dir}/${n.name}.sock"`,
        `state_dir = "${dir}/state-${n.name}"`,
        `priority = ${n.priority}`,
      );
    }
    for (const r of RESOURCES) {
      for (const n of NODES) {
        const remote = NODES.filter((m) => m !== n).map((m) => `"127.0.0.1:${ports.get(m.name)}"`);
        lines.push(
          "",
          `[resource.${r}.on.${n.name}]`,
          `remote = [${remote.join(", ")}]`,
          `role_on_start = "${n.role}"`,
        );
      }
    }
    await Deno.writeTextFile(`${dir}/hastmon.toml`, lines.join("\n") + "\n");
    for (const n of NODES) {
      c.procs.set(
        n.name,
        new Deno.Command(version.argv(true)[0], {
          args: [
            ...version.argv(true).slice(1),
            "daemon",
            "-F",
            "-c",
            `${dir}/hastmon.toml`,
            "--node",
            n.name,
            "-P",
            `${dir}/${n.name}.pid`,
          ],
          cwd: version.cwd,
          env: { NO_COLOR: "1", ...version.env },
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    // Settled: every resource runs on a and nowhere else.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const running = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        n.startsWith("run-")
      ).sort();
      if (running.join() === RESOURCES.map((r) => `run-a-${r}`).join()) break;
      if (Date.now() > deadline) {
        await c.stop();
        throw new Error(`${version.label}: cluster did not settle`);
      }
      await sleep(200);
    }
    return c;
  }

  async stop() {
    for (const p of this.procs.values()) {
      try {
        p.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.all([...this.procs.values()].map((p) => p.status));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** The daemon's Deno process: the built file's launcher execs Deno, a checkout runs it directly. */
function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

async function ctlStatusMs(version: Version, cluster: BenchCluster): Promise<number> {
  const argv = version.argv(false);
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0], {
    args: [...argv.slice(1), "ctl", "-c", `${cluster.dir}/hastmon.toml`, "--node", "a", "status"],
    cwd: version.cwd,
    env: { NO_COLOR: "1", ...version.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(
      `${version.label}: ctl status exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function commitOf(dir: string): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", dir, "rev-parse", "--short", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() || "?";
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
}

async function main() {
  const o = await parseArgs(Deno.args);
  try {
    await measure(o);
  } finally {
    for (const cache of o.caches) await Deno.remove(cache, { recursive: true }).catch(() => {});
  }
}

async function measure(o: Options) {
  const out: string[] = [];
  const say = (line = "") => {
    console.log(line);
    out.push(line);
  };
  const loadBefore = await loadAverage();

  const memory: string[] = [];
  for (const v of o.versions) {
    const c = await BenchCluster.start(v);
    try {
      await sleep(o.idleSeconds * 1000);
      for (const n of NODES) {
        const m = memoryKb(c.procs.get(n.name)!.pid);
        memory.push(
          `| ${v.label} | ${n.name} (${n.role}) | ${(m.rss / 1024).toFixed(1)} | ${
            (m.hwm / 1024).toFixed(1)
          } |`,
        );
      }
    } finally {
      await c.stop();
    }
  }

  const c = await BenchCluster.start(o.versions[0]);
  const times = new Map<Version, number[]>(o.versions.map((v) => [v, []]));
  try {
    for (const v of o.versions) await ctlStatusMs(v, c); // warm caches (and unpack a built file)
    for (let i = 0; i < o.ctlRuns; i++) {
      for (const v of o.versions) times.get(v)!.push(await ctlStatusMs(v, c));
    }
  } finally {
    await c.stop();
  }
  const loadAfter = await loadAverage();

  say("## The console stays out of the daemon and of ctl (issue 9)");
  say();
  say(
    `\`deno run -A scripts/bench_footprint.ts ${Deno.args.join(" ")}\` on ` +
      `${new Date().toISOString().slice(0, 10)} (Deno ${Deno.version.deno}, load average ` +
      `${loadBefore} before, ${loadAfter} after, 2 cores shared with other work). Three daemons ` +
      `per version (primary, secondary, watchdog), each with 3 resources at the default ` +
      `\`heartbeat_interval\` (10 s), settled, then left alone ${o.idleSeconds} s; then ` +
      `\`hastmon ctl status\` as a whole process against one daemon, ${o.ctlRuns} runs of each ` +
      `version, taking turns.`,
  );
  say();
  say("| version | daemon | RSS MB | peak RSS MB |");
  say("| --- | --- | --- | --- |");
  for (const line of memory) say(line);
  say();
  say("| `ctl status` | median | min | max |");
  say("| --- | --- | --- | --- |");
  for (const [v, xs] of times) {
    say(
      `| ${v.label} | ${median(xs).toFixed(0)} ms | ${Math.min(...xs).toFixed(0)} ms | ${
        Math.max(...xs).toFixed(0)
      } ms |`,
    );
  }
  say();
  say(NOTE);
  if (o.write) await writeSection("footprint", out.join("\n"));
}

/** What was found while the console was built, kept with the figures. */
const NOTE =
  'The first version of the console imported it with `await import("../../tui/run.tsx")` ' +
  "inside the `tui` action. Deno resolves every dynamic import written as a literal string when " +
  "the program starts, so every command, daemon and `ctl` included, resolved Ink, React and " +
  "their packages without running them: `ctl status` went from 127 to 239 ms (median) and each " +
  "daemon from about 63 to 70 MB. The console's entry is imported through a computed URL " +
  "(`TUI_ENTRY` in `src/cli/console.ts`); the built file bundles it as a second entry, split " +
  "from what every command loads. `tests/imports_test.ts` fails if main.ts can reach ink, " +
  "react or @inkjs/ui by any code import, literal dynamic ones included, or if the built " +
  "program's app.js can reach a bundled file holding them.";

if (import.meta.main) await main();
