/**
 * The footprint of the daemon and of `hastmon ctl status`, for one or more
 * checkouts of hastmon (a benchmark, not a test): to show that a change (the
 * Ink console) leaves both alone, run it on the old and the new commit.
 *
 * 1. idle RSS: per checkout, three real daemons of that checkout (a primary,
 *    a secondary and a watchdog), each with 3 resources at the default
 *    heartbeat_interval (10 s), settled, then left alone for --idle-seconds;
 *    VmRSS and VmHWM of each daemon from /proc.
 * 2. `hastmon ctl status` as a whole process (Deno start-up included, module
 *    cache warm), against one running daemon, the checkouts taking turns run
 *    by run so that a drift of the machine's speed hits them alike.
 *
 *     deno run -A scripts/bench_footprint.ts [--checkout DIR]... [--idle-seconds 20]
 *                                             [--ctl-runs 15]
 *
 * Prints a Markdown table per figure; nothing is written.
 */
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";

const HERE = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

interface Options {
  checkouts: string[];
  idleSeconds: number;
  ctlRuns: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { checkouts: [], idleSeconds: 20, ctlRuns: 15 };
  for (let i = 0; i < args.length; i++) {
    const value = () => {
      const v = args[++i];
      if (v === undefined) usage(`${args[i - 1]} needs a value`);
      return v;
    };
    switch (args[i]) {
      case "--checkout":
        o.checkouts.push(value().replace(/\/$/, ""));
        break;
      case "--idle-seconds":
        o.idleSeconds = Number(value());
        if (!(o.idleSeconds > 0)) usage("--idle-seconds: not a positive number");
        break;
      case "--ctl-runs":
        o.ctlRuns = Math.round(Number(value()));
        if (!(o.ctlRuns > 0)) usage("--ctl-runs: not a positive number");
        break;
      default:
        usage(`unknown argument ${args[i]}`);
    }
  }
  if (o.checkouts.length === 0) o.checkouts.push(HERE);
  return o;
}

function usage(problem: string): never {
  console.error(
    `bench_footprint: ${problem}\nusage: deno run -A scripts/bench_footprint.ts ` +
      `[--checkout DIR]... [--idle-seconds S] [--ctl-runs N]`,
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

/** Three daemons of `checkout` in a fresh directory. */
class BenchCluster {
  readonly procs = new Map<string, Deno.ChildProcess>();
  private constructor(readonly checkout: string, readonly dir: string) {}

  static async start(checkout: string): Promise<BenchCluster> {
    const dir = await Deno.makeTempDir({ prefix: "hastmon-footprint-" });
    const c = new BenchCluster(checkout, dir);
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
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            ...DAEMON_DENO_FLAGS,
            `${checkout}/main.ts`,
            "daemon",
            "-F",
            "-c",
            `${dir}/hastmon.toml`,
            "--node",
            n.name,
            "-P",
            `${dir}/${n.name}.pid`,
          ],
          cwd: checkout,
          env: { NO_COLOR: "1" },
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
      if (Date.now() > deadline) throw new Error(`${checkout}: cluster did not settle`);
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

function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

async function ctlStatusMs(checkout: string, cluster: BenchCluster): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${checkout}/main.ts`,
      "ctl",
      "-c",
      `${cluster.dir}/hastmon.toml`,
      "--node",
      "a",
      "status",
    ],
    cwd: checkout,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(
      `${checkout}: ctl status exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function commitOf(checkout: string): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", checkout, "rev-parse", "--short", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() || "?";
}

async function main() {
  const o = parseArgs(Deno.args);
  const label = new Map<string, string>();
  for (const c of o.checkouts) label.set(c, `${c} (${await commitOf(c)})`);

  console.log(`## Idle daemons, 3 resources, heartbeat_interval 10 s, after ${o.idleSeconds} s\n`);
  console.log("| checkout | daemon | role | RSS MB | peak RSS MB |\n|---|---|---|---|---|");
  for (const checkout of o.checkouts) {
    const c = await BenchCluster.start(checkout);
    try {
      await sleep(o.idleSeconds * 1000);
      for (const n of NODES) {
        const m = memoryKb(c.procs.get(n.name)!.pid);
        console.log(
          `| ${label.get(checkout)} | ${n.name} | ${n.role} | ${(m.rss / 1024).toFixed(1)} | ${
            (m.hwm / 1024).toFixed(1)
          } |`,
        );
      }
    } finally {
      await c.stop();
    }
  }

  console.log(`\n## ctl status as a whole process, ${o.ctlRuns} runs each, taking turns\n`);
  const c = await BenchCluster.start(o.checkouts[0]);
  try {
    const times = new Map<string, number[]>(o.checkouts.map((k) => [k, []]));
    for (const checkout of o.checkouts) await ctlStatusMs(checkout, c); // warm the module cache
    for (let i = 0; i < o.ctlRuns; i++) {
      for (const checkout of o.checkouts) times.get(checkout)!.push(await ctlStatusMs(checkout, c));
    }
    console.log("| checkout | median ms | min ms | max ms |\n|---|---|---|---|");
    for (const [checkout, xs] of times) {
      console.log(
        `| ${label.get(checkout)} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${
          Math.max(...xs).toFixed(0)
        } |`,
      );
    }
  } finally {
    await c.stop();
  }
}

if (import.meta.main) await main();
