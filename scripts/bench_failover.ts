/**
 * Benchmarks of PRODUCT.md §8, on real daemons on loopback (a benchmark, not
 * a test):
 *
 * 1. failover: N kill -9s of the primary daemon and its service, at
 *    heartbeat_interval = 0.25, complaint_count = 3, stop_timeout = 0.25,
 *    timeout = 0.25; the time from the kill to the secondary's start hook
 *    beginning (and to the daemon's own "starting" decision); median and p99.
 *    The two nodes take turns: the killed one is restarted and follows.
 * 2. idle: a cluster whose nodes each run 3 resources (the measured daemon
 *    is primary of all 3), settled, then --idle-warmup seconds for start-up
 *    garbage and JIT to pass, then left alone for --idle-seconds; CPU of each daemon
 *    and guard as % of one core from /proc/PID/stat utime+stime, and RSS.
 * 3. `hastmon ctl status` as a whole process: median wall time of 10 runs.
 * 4. daemon start to control socket ready (process spawn included).
 *
 *     deno task bench [--runs 20] [--idle-seconds 60] [--idle-warmup 10]
 *                     [--idle-heartbeat 0.25,10] [--ctl-runs 10]
 *                     [--out docs/BENCHMARKS.md | --no-write]
 *
 * Writes the figures, with the command used, to docs/BENCHMARKS.md.
 */
import {
  guardOf,
  REPO_ROOT,
  sleep,
  takeoverBoundMs,
  TestCluster,
} from "../tests/cluster/harness.ts";
import type { TimelineEvent } from "../tests/cluster/timeline.ts";
import { KEY_BY_NAME } from "../src/config/schema.ts";
import { KEEP_MARKER } from "./bench_doc.ts";

/** The configuration's default heartbeat_interval, in seconds: where the idle target is judged. */
const DEFAULT_HEARTBEAT_S = KEY_BY_NAME.get("heartbeat_interval")!.default as number;

interface Options {
  runs: number;
  idleSeconds: number;
  idleWarmup: number;
  idleHeartbeats: number[];
  ctlRuns: number;
  out: string | null;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    runs: 20,
    idleSeconds: 60,
    idleWarmup: 10,
    idleHeartbeats: [0.25, 10],
    ctlRuns: 10,
    out: `${REPO_ROOT}docs/BENCHMARKS.md`,
  };
  for (let i = 0; i < args.length; i++) {
    const value = () => {
      const v = args[++i];
      if (v === undefined) usage(`${args[i - 1]} needs a value`);
      return v;
    };
    const positive = (v: string) => {
      const n = Number(v);
      if (!(n > 0)) usage(`${args[i - 1]}: ${v} is not a positive number`);
      return n;
    };
    switch (args[i]) {
      case "--runs":
        o.runs = Math.round(positive(value()));
        break;
      case "--idle-seconds":
        o.idleSeconds = positive(value());
        break;
      case "--idle-warmup":
        o.idleWarmup = Number(value());
        if (!(o.idleWarmup >= 0)) usage(`--idle-warmup: not a number of seconds`);
        break;
      case "--idle-heartbeat":
        o.idleHeartbeats = value().split(",").map(positive);
        break;
      case "--ctl-runs":
        o.ctlRuns = Math.round(positive(value()));
        break;
      case "--out":
        o.out = value();
        break;
      case "--no-write":
        o.out = null;
        break;
      default:
        usage(`unknown argument ${args[i]}`);
    }
  }
  return o;
}

function usage(problem: string): never {
  console.error(
    `bench_failover: ${problem}\nusage: deno task bench [--runs N] [--idle-seconds S] ` +
      `[--idle-warmup S] [--idle-heartbeat H[,H...]] [--ctl-runs N] [--out FILE | --no-write]`,
  );
  Deno.exit(64);
}

/** The cluster being measured: torn down on SIGINT/SIGTERM, so nothing outlives the script. */
let current: TestCluster | null = null;

async function withBenchCluster<T>(
  opts: Parameters<typeof TestCluster.start>[0],
  fn: (c: TestCluster) => Promise<T>,
): Promise<T> {
  const c = current = await TestCluster.start(opts);
  try {
    return await fn(c);
  } catch (e) {
    await c.dumpDiagnostics(`benchmark failed: ${(e as Error).message}`);
    throw e;
  } finally {
    current = null;
    await c.stop();
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const s3 = (ms: number) => (ms / 1000).toFixed(3);

// ---------------------------------------------------------------------------
// 1. Failover

interface FailoverResult {
  boundMs: number;
  beginMs: number[];
  decideMs: number[];
  startupMs: number[];
}

/** PRODUCT.md §8's settings (the harness's default stop_timeout is longer). */
const FAILOVER_SETTINGS = {
  heartbeatInterval: 0.25,
  timeout: 0.25,
  stopTimeout: 0.25,
  complaintCount: 3,
};

/**
 * A fenced failover as keepalived would count it: three missed heartbeats
 * (complaint_count 2), and a `fence` that powers the old primary off, so that
 * nobody waits out its lease.
 */
const FENCED_SETTINGS = { ...FAILOVER_SETTINGS, complaintCount: 2, fence: true };

/** keepalived's failover on these machines (three missed adverts at 0.25 s), from the issue. */
const KEEPALIVED_MS = 820;

async function benchFailover(
  runs: number,
  settings: Parameters<typeof TestCluster.start>[0] = FAILOVER_SETTINGS,
): Promise<FailoverResult> {
  const startupMs: number[] = [];
  const t0 = performance.now();
  return await withBenchCluster(settings, async (c) => {
    startupMs.push(performance.now() - t0);
    const beginMs: number[] = [];
    const decideMs: number[] = [];
    const check = await c.configCheck("a");
    const boundMs = takeoverBoundMs(check.stdout, "a", "b");
    let primary = "a", secondary = "b";
    await c.waitForSteady(primary);
    for (let i = 0; i < runs; i++) {
      const killedAt = await c.kill9WithService(primary);
      await c.waitForActive(secondary, 15_000);
      const begin = await beginAfter(c, secondary, killedAt);
      const starts = [...(await c.log(secondary)).matchAll(
        /^(\S+) \[INFO\] \[r0\] starting \(attempt/gm,
      )];
      const decided = Date.parse(starts.at(-1)![1]);
      beginMs.push(begin.t - killedAt);
      decideMs.push(decided - killedAt);
      console.log(
        `failover ${i + 1}/${runs}: ${primary} -> ${secondary}: start begins after ` +
          `${s3(begin.t - killedAt)} s (decided after ${s3(decided - killedAt)} s)`,
      );
      const started = performance.now();
      await c.startNode(primary);
      startupMs.push(performance.now() - started);
      [primary, secondary] = [secondary, primary];
      await c.waitForSteady(primary, 15_000);
    }
    await c.assertNeverTwoActive();
    return { boundMs, beginMs, decideMs, startupMs };
  });
}

// ---------------------------------------------------------------------------
/**
 * The first `begin` (start hook's first line) of `node` at or after `since`. Active is
 * already true at the daemon's `spawn` line, and a service pid file of an earlier round may
 * still be there: the begin line can come a moment after, so it is waited for, never taken
 * from an earlier round.
 */
async function beginAfter(c: TestCluster, node: string, since: number): Promise<TimelineEvent> {
  return await c.waitFor(
    async () =>
      (await c.timeline()).find((e) => e.node === node && e.kind === "begin" && e.t >= since) ??
        null,
    5_000,
    `${node}'s start hook to begin`,
  );
}

// 1b. Planned switchover

/** `ctl role secondary` on the primary: time to the secondary's start hook beginning. */
async function benchSwitchover(runs: number): Promise<number[]> {
  return await withBenchCluster(FAILOVER_SETTINGS, async (c) => {
    const times: number[] = [];
    let primary = "a", secondary = "b";
    await c.waitForSteady(primary);
    for (let i = 0; i < runs; i++) {
      const t0 = Date.now();
      await c.ctlOk(primary, "role", "secondary", "r0");
      await c.waitForActive(secondary, 15_000);
      const begin = await beginAfter(c, secondary, t0);
      times.push(begin.t - t0);
      console.log(`switchover ${i + 1}/${runs}: ${primary} -> ${secondary}: ${s3(begin.t - t0)} s`);
      [primary, secondary] = [secondary, primary];
      await c.waitForSteady(primary, 15_000);
    }
    await c.assertNeverTwoActive();
    return times;
  });
}

// ---------------------------------------------------------------------------
// 2. Idle CPU and RSS

interface ProcSample {
  ticks: number;
  rssKb: number;
  hwmKb: number;
}

function sample(pid: number): ProcSample {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised name: state is field 3, utime 14, stime 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { ticks, rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

function clockTicks(): number {
  const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).outputSync();
  return Number(new TextDecoder().decode(out.stdout).trim()) || 100;
}

interface IdleRow {
  heartbeat: number;
  process: string;
  role: string;
  cpuPercent: number;
  rssMb: number;
  hwmMb: number;
}

async function benchIdle(heartbeat: number, seconds: number, warmup: number): Promise<IdleRow[]> {
  const opts = {
    heartbeatInterval: heartbeat,
    timeout: Math.min(heartbeat, 5),
    stopTimeout: Math.min(heartbeat, 5),
    complaintInterval: Math.max(5, heartbeat * 6),
    resources: ["r0", "r1", "r2"],
    debug: 0,
  };
  return await withBenchCluster(opts, async (c) => {
    for (const r of c.resources) await c.waitForSteady("a", 60_000, r, 0);
    console.log(`idle: heartbeat_interval = ${heartbeat}, 3 resources, ${warmup} s warm-up ...`);
    await sleep(warmup * 1000);
    const hz = clockTicks();
    const procs: { name: string; role: string; pid: number }[] = [];
    for (const n of c.nodes) {
      const pid = c.daemonPid(n.name)!;
      procs.push({ name: `daemon ${n.name}`, role: n.role, pid });
      const guard = guardOf(pid);
      if (guard !== null) procs.push({ name: `guard of ${n.name}`, role: n.role, pid: guard });
    }
    const before = procs.map((p) => sample(p.pid));
    const t0 = performance.now();
    console.log(`idle: measuring for ${seconds} s ...`);
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const after = procs.map((p) => sample(p.pid));
    for (const r of c.resources) {
      if (c.runningNodes(r).join() !== "a") throw new Error(`${r} did not stay on a`);
    }
    return procs.map((p, i) => ({
      heartbeat,
      process: p.name,
      role: p.role,
      cpuPercent: (after[i].ticks - before[i].ticks) / hz / elapsed * 100,
      rssMb: after[i].rssKb / 1024,
      hwmMb: after[i].hwmKb / 1024,
    }));
  });
}

// ---------------------------------------------------------------------------
// 3. ctl status as a whole process

async function benchCtl(runs: number): Promise<number[]> {
  return await withBenchCluster({ resources: ["r0", "r1", "r2"], debug: 0 }, async (c) => {
    await c.waitForSteady("a");
    await c.ctlOk("a", "status"); // warm the module cache, as on any installed system
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await c.ctlOk("a", "status");
      times.push(performance.now() - t0);
    }
    return times;
  });
}

// ---------------------------------------------------------------------------

async function machine(): Promise<string> {
  const run = async (cmd: string, ...args: string[]) => {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "?";
  return `${await run("nproc")} cores (${cpu}), Linux ${await run(
    "uname",
    "-r",
  )}, deno ${Deno.version.deno}`;
}

async function main() {
  const o = parseArgs(Deno.args);
  const command = `deno task bench${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;
  const f = await benchFailover(o.runs);
  const fenced = await benchFailover(o.runs, FENCED_SETTINGS);
  const switchover = await benchSwitchover(o.runs);
  const idle: IdleRow[] = [];
  for (const h of o.idleHeartbeats) idle.push(...await benchIdle(h, o.idleSeconds, o.idleWarmup));
  const ctl = await benchCtl(o.ctlRuns);

  const begin = [...f.beginMs].sort((a, b) => a - b);
  const decide = [...f.decideMs].sort((a, b) => a - b);
  const startup = [...f.startupMs].sort((a, b) => a - b);
  const summary = {
    failoverMedian: median(begin),
    failoverP99: percentile(begin, 99),
    decideMedian: median(decide),
    decideP99: percentile(decide, 99),
    ctlMedian: median(ctl),
    startupMedian: median(startup),
    fencedMedian: median(fenced.beginMs),
    fencedP99: percentile([...fenced.beginMs].sort((a, b) => a - b), 99),
    switchMedian: median(switchover),
    switchMax: Math.max(...switchover),
  };
  const primaryIdle = idle.filter((r) => r.process === "daemon a");
  const lines = [
    `failover (${o.runs} runs, kill -9 of the primary daemon and its service -> secondary's start begins):`,
    `  median ${s3(summary.failoverMedian)} s, p99 ${s3(summary.failoverP99)} s, ` +
    `min ${s3(begin[0])} s, max ${s3(begin.at(-1)!)} s ` +
    `(daemon decides to start: median ${s3(summary.decideMedian)} s, p99 ${
      s3(summary.decideP99)
    } s; config check bound ${s3(f.boundMs)} s)`,
    `fenced failover (complaint_count 2, a fence that powers the old primary off): median ` +
    `${s3(summary.fencedMedian)} s, p99 ${s3(summary.fencedP99)} s (keepalived: ${
      s3(KEEPALIVED_MS)
    } s)`,
    `planned switchover (ctl role secondary on the primary): median ${
      s3(summary.switchMedian)
    } s, max ${s3(summary.switchMax)} s`,
    ...idle.map((r) =>
      `idle (hb ${r.heartbeat} s, 3 resources) ${r.process} (${r.role}): ` +
      `CPU ${r.cpuPercent.toFixed(2)} % of one core, RSS ${r.rssMb.toFixed(1)} MB ` +
      `(peak ${r.hwmMb.toFixed(1)} MB)`
    ),
    `ctl status as a process: median ${summary.ctlMedian.toFixed(0)} ms ` +
    `(min ${Math.min(...ctl).toFixed(0)}, max ${Math.max(...ctl).toFixed(0)}, ${o.ctlRuns} runs)`,
    `daemon start to control socket ready: median ${summary.startupMedian.toFixed(0)} ms ` +
    `(max ${startup.at(-1)!.toFixed(0)}, ${startup.length} starts)`,
  ];
  console.log("\n" + lines.join("\n"));
  if (o.out) {
    // Sections other benchmark scripts own (from KEEP_MARKER on) survive a rewrite.
    const previous = await Deno.readTextFile(o.out).catch(() => "");
    const kept = previous.includes(KEEP_MARKER)
      ? previous.slice(previous.indexOf(KEEP_MARKER))
      : "";
    await Deno.writeTextFile(
      o.out,
      report(
        command,
        await machine(),
        o,
        f,
        fenced,
        switchover,
        summary,
        primaryIdle,
        idle,
        ctl,
        startup,
      ) +
        (kept ? "\n" + kept : ""),
    );
    // Keep `deno fmt --check` (part of CI) happy with the generated tables.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "-q", "--line-width", "100", o.out],
      cwd: REPO_ROOT,
    })
      .output();
    console.log(`\nwritten to ${o.out}`);
  }
}

function report(
  command: string,
  machineInfo: string,
  o: Options,
  f: FailoverResult,
  fenced: FailoverResult,
  switchover: number[],
  sum: Record<string, number>,
  primaryIdle: IdleRow[],
  idle: IdleRow[],
  ctl: number[],
  startup: number[],
): string {
  const verdict = (ok: boolean) => ok ? "met" : "**missed**";
  const idleCells = primaryIdle.map((r) =>
    `${r.cpuPercent.toFixed(2)} % at heartbeat_interval = ${r.heartbeat}`
  ).join("; ");
  // The target is read at the default interval; faster ones are shown for what they cost.
  const atDefault = primaryIdle.filter((r) => r.heartbeat === DEFAULT_HEARTBEAT_S);
  const idleOk = atDefault.length > 0 && atDefault.every((r) => r.cpuPercent < 0.5);
  return `# Benchmarks

Measured by \`scripts/bench_failover.ts\` on real daemons on loopback (three nodes: two that
can run the service and a watchdog; the hook script and service of the end-to-end tests,
\`tests/cluster/harness.ts\`, with a TCP relay between the nodes).

- Command: \`${command}\`
- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${machineInfo}

## Against the product's targets

| what | target | measured | |
|---|---|---|---|
| failover after kill -9 of the primary node (hb 0.25, complaint_count 3, stop_timeout 0.25, timeout 0.25) | median < 2.0 s, p99 < 2.5 s | median ${
    s3(sum.failoverMedian)
  } s, p99 ${s3(sum.failoverP99)} s (${o.runs} runs) | ${
    verdict(sum.failoverMedian < 2000 && sum.failoverP99 < 2500)
  } |
| fenced failover (complaint_count 2, a fence; keepalived's three missed adverts) | faster than keepalived's ${
    s3(KEEPALIVED_MS)
  } s | median ${s3(sum.fencedMedian)} s, p99 ${s3(sum.fencedP99)} s (${o.runs} runs) | ${
    verdict(sum.fencedMedian < KEEPALIVED_MS)
  } |
| planned switchover (\`ctl role secondary\` on the primary) at heartbeat 0.25 | < 1 s, never two active | median ${
    s3(sum.switchMedian)
  } s, max ${s3(sum.switchMax)} s (${switchover.length} runs, timeline checked) | ${
    verdict(sum.switchMax < 1000)
  } |
| split-brain instants in every real fault test | 0 | 0 in this benchmark's ${o.runs} failovers (timeline checked); the e2e tests check every run | met |
| idle CPU of a daemon with 3 resources (judged at the default heartbeat_interval = ${DEFAULT_HEARTBEAT_S}) | < 0.5 % of one core | ${idleCells} | ${
    atDefault.length > 0 ? verdict(idleOk) : "not measured at the default"
  } |
| 1,000 resources on one daemon at heartbeat_interval = 1 | < 25 % of one core, RSS < 200 MB | by \`scripts/bench_scale.ts\`: [Scale](#scale-a-thousand-resources-on-one-node) | see there |
| \`hastmon ctl status\` as a whole process, from source (the built file: see its own section) | < 150 ms | median ${
    sum.ctlMedian.toFixed(0)
  } ms (${o.ctlRuns} runs) | ${verdict(sum.ctlMedian < 150)} |
| daemon start to control socket ready | < 500 ms | median ${
    sum.startupMedian.toFixed(0)
  } ms, max ${startup.at(-1)!.toFixed(0)} ms (from process spawn, ${startup.length} starts) | ${
    verdict(sum.startupMedian < 500)
  } |

## Failover

Time from the kill -9 of the primary daemon and its service to the secondary's start hook
beginning (its first line, before it launches anything), ${o.runs} failovers alternating between
the two nodes (the killed node is restarted, and follows, before the next kill).
\`hastmon config check\` promises at most ${
    s3(f.boundMs)
  } s until the secondary may begin its start;
the safety wait alone (lease + stop_timeout stretched by clock_skew, plus timeout) is 1.35 s.

| | median | p99 | min | max |
|---|---|---|---|---|
| kill -9 → start hook begins | ${s3(sum.failoverMedian)} s | ${s3(sum.failoverP99)} s | ${
    s3(Math.min(...f.beginMs))
  } s | ${s3(Math.max(...f.beginMs))} s |
| kill -9 → daemon decides to start ("starting" log line) | ${s3(sum.decideMedian)} s | ${
    s3(sum.decideP99)
  } s | ${s3(Math.min(...f.decideMs))} s | ${s3(Math.max(...f.decideMs))} s |

Every run: ${f.beginMs.map((ms) => s3(ms)).join(", ")} s.

With a \`fence\` that powers the old primary off, at complaint_count = 2 (more than two complaints:
three missed heartbeats, as keepalived counts three missed adverts), the secondary does not wait
out the old lease: the granters are told that it was fenced and void it at once. Kill -9 →
start hook begins: median ${s3(sum.fencedMedian)} s, p99 ${s3(sum.fencedP99)} s, every run: ${
    fenced.beginMs.map((ms) => s3(ms)).join(", ")
  } s (keepalived on these machines: ${s3(KEEPALIVED_MS)} s; it has no lease to wait out, and
no fencing either).

Planned switchover, \`ctl role secondary r0\` on the primary until the other node's start hook
begins: ${switchover.map((ms) => s3(ms)).join(", ")} s.

## Idle

A cluster whose nodes each have 3 resources, left alone for ${o.idleSeconds} s once settled
(and after a ${o.idleWarmup} s warm-up);
node a is primary of all three. CPU is utime + stime from \`/proc/PID/stat\` over the interval, as
% of one core; the hook processes (a \`status\` probe per resource every heartbeat) are not counted
in the daemon's figure. RSS is \`VmRSS\` at the end (peak \`VmHWM\`).

| heartbeat_interval | process | role | CPU % of one core | RSS MB | peak RSS MB |
|---|---|---|---|---|---|
${
    idle.map((r) =>
      `| ${r.heartbeat} s | ${r.process} | ${r.role} | ${r.cpuPercent.toFixed(2)} | ${
        r.rssMb.toFixed(1)
      } | ${r.hwmMb.toFixed(1)} |`
    ).join("\n")
  }

## ctl status

\`deno run -A main.ts ctl -c … --node a status\` against a daemon with 3 resources, as a whole
process (Deno start-up included, module cache warm), ${o.ctlRuns} runs: median ${
    sum.ctlMedian.toFixed(0)
  } ms, min ${Math.min(...ctl).toFixed(0)} ms, max ${Math.max(...ctl).toFixed(0)} ms.

## Notes on the figures (2026-11-25)

- **Idle CPU.** Wake-ups and process spawns are dear on this virtual machine (\`perf\`: a third
  of an idle daemon's samples in \`epoll_wait\` and the hypervisor's interrupt path). The first
  run of this benchmark had the primary at 1.13 % (\`heartbeat_interval = 10\`) and 14.8 %
  (0.25). What was found, with \`strace\`, \`perf\` and small scripts, and done:
  - each outbound peer connection's dial loop woke every 200 ms while connected: removed (commit
    14fc303); a secondary probes its stopped copy every 6 intervals (0768a0d);
  - Deno's \`detached\` spawn forks the whole daemon (a pre-exec step makes Rust's std give up
    \`posix_spawn\`): 7–8 ms of daemon CPU per hook against about 2 ms without it, in a
    100-spawn script. Hooks start through util-linux \`setsid\` instead, which gives them the
    same session and process group (0e6b66d): 14.8 % → about 5 % at 0.25;
  - in Deno 2.9 a cleared timer still wakes the process at its deadline (five set-and-cleared
    timers a second add three wake-ups a second), and every frame read or written armed one:
    timeouts now share one timer (\`src/wire/deadlines.ts\`, 4941555);
  - V8's memory reducer runs timer-driven garbage collections after every burst of work, and a
    daemon works every interval: the daemon and the guard run with
    \`--v8-flags=--no-memory-reducer\` (5c16b4b), 0.30–0.53 % → 0.15–0.28 % across the three
    daemons at 10 s in a side-by-side run.
  - At 0.25 s each status probe is still a process, 12 a second on the primary.
- **\`ctl status\`.** \`deno run -A main.ts --version\` alone takes about 0.17–0.25 s here (an
  empty script 0.07–0.18 s). The daemon's modules are not loaded by \`ctl\` (commit 779af03);
  what remains is Deno's start-up, the module graph of the sources, and commander: a CommonJS
  package whose loading brings in Node's compatibility modules (\`node:fs\`,
  \`node:child_process\`, \`node:events\`), about 60 ms measured on its own. Meeting 150 ms needs
  a bundled single file (the build) or a lighter argument parser.
`;
}

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      console.error(`\n${signal}: tearing down the cluster`);
      await current?.stop();
      Deno.exit(130);
    });
  }
  await main();
  Deno.exit(0);
}
