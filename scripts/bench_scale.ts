/**
 * How a node scales with the number of resources (a benchmark, not a test):
 * three real daemons on loopback (a primary, a secondary and a watchdog of
 * every resource, each with its real guard) with a shared key, the hook script
 * and services of the end-to-end tests, at heartbeat_interval = 1. For each
 * count of resources:
 *
 * - the time from `ctl role primary all` on a (b made secondary at once) until
 *   every resource runs there, by a's own status;
 * - over a quiet stretch after that: CPU (utime + stime from /proc, % of one
 *   core) of each daemon, of each guard, and of the hook processes each
 *   daemon ran (its reaped children's time, cutime + cstime); RSS of daemon
 *   and guard; hook processes a second (the daemons' own counts, from their
 *   metrics); frames a second on a's links (counted by the relay between the
 *   nodes); what each node shed (notifications dropped, probes postponed);
 * - kill -9 of node a (daemon, guard and every service at once): the time
 *   until every resource runs on b, against the takeover bound `config check`
 *   prints plus 5 s;
 * - the timeline: never two nodes active for one resource, and the logs:
 *   self-fencing, stall warnings ("no event for"), guard deadlines.
 *
 * Then a soak (default 300 resources, probe_interval = 1, 60 s) that reports
 * lease losses, self-fencing and stall warnings; and an idle node with 3
 * resources (daemon and guard) against the floor of an idle Deno process with
 * one timer, measured alike. The load average of the machine is noted beside
 * every figure: the machine is shared.
 *
 *     deno run -A scripts/bench_scale.ts [--counts 10,100,300,1000|none] [--seconds 30]
 *       [--probe-interval 10] [--soak-count 300] [--soak-probe-interval 1]
 *       [--soak-seconds 60] [--no-soak] [--no-failover] [--no-idle] [--idle-seconds 30]
 *       [--built dist/hastmon] [--no-write]
 *
 * With --built, the idle node is measured twice: run from source (`deno run
 * main.ts`) and run from the built file, as an operator runs it. It is
 * measured --idle-seconds after its three resources run.
 *
 * Writes its section ("scale") of docs/BENCHMARKS.md (scripts/bench_doc.ts).
 */
import { guardOf, sleep, takeoverBoundMs, TestCluster } from "../tests/cluster/harness.ts";
import type { StatusResult } from "../src/control/protocol.ts";
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";
import { writeSection } from "./bench_doc.ts";

interface Options {
  counts: number[];
  seconds: number;
  probeInterval: number;
  soak: { count: number; probeInterval: number; seconds: number } | null;
  failover: boolean;
  idle: boolean;
  /** How long the idle node rests before it is measured. */
  idleSeconds: number;
  /** The built file (dist/hastmon) to measure the idle node with as well. */
  built: string | null;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    counts: [10, 100, 300, 1000],
    seconds: 30,
    probeInterval: 10,
    soak: { count: 300, probeInterval: 1, seconds: 60 },
    failover: true,
    idle: true,
    idleSeconds: 30,
    built: null,
    write: true,
  };
  const soak = () => o.soak ??= { count: 300, probeInterval: 1, seconds: 60 };
  for (let i = 0; i < args.length; i++) {
    const value = () => args[++i] ?? usage(`${args[i - 1]} needs a value`);
    switch (args[i]) {
      case "--counts":
        // "none": no scale rows (e.g. only the idle node).
        o.counts = value() === "none" ? [] : args[i].split(",").map((v) => positive(v));
        break;
      case "--seconds":
        o.seconds = positive(value());
        break;
      case "--probe-interval":
        o.probeInterval = positive(value());
        break;
      case "--soak-count":
        soak().count = positive(value());
        break;
      case "--soak-probe-interval":
        soak().probeInterval = positive(value());
        break;
      case "--soak-seconds":
        soak().seconds = positive(value());
        break;
      case "--no-soak":
        o.soak = null;
        break;
      case "--no-failover":
        o.failover = false;
        break;
      case "--no-idle":
        o.idle = false;
        break;
      case "--idle-seconds":
        o.idleSeconds = positive(value());
        break;
      case "--no-write":
        o.write = false;
        break;
      case "--built":
        o.built = value();
        break;
      default:
        usage(`unknown argument ${args[i]}`);
    }
  }
  return o;
}

function positive(v: string): number {
  const n = Number(v);
  if (!(n > 0)) usage(`${v} is not a positive number`);
  return n;
}

function usage(problem: string): never {
  console.error(
    `bench_scale: ${problem}\nusage: deno run -A scripts/bench_scale.ts [--counts N,N...|none] ` +
      `[--seconds S] [--probe-interval S] [--soak-count N] [--soak-probe-interval S] ` +
      `[--soak-seconds S] [--no-soak] [--no-failover] [--no-idle] [--idle-seconds S] [--built FILE] ` +
      `[--no-write]`,
  );
  Deno.exit(64);
}

const HZ = 100; // CLK_TCK on Linux
const NODES = ["a", "b", "w"] as const;
type Node = typeof NODES[number];

/**
 * CPU ticks of a process itself and of its reaped children, its RSS and peak RSS, and the
 * anonymous part of its RSS (its own pages: heap, stacks, data; not the files it maps).
 */
interface Sample {
  ticks: number;
  childTicks: number;
  rssKb: number;
  hwmKb: number;
  anonKb: number;
}

function sample(pid: number): Sample {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return {
    ticks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    rssKb: kb("VmRSS"),
    hwmKb: kb("VmHWM"),
    anonKb: kb("RssAnon"),
  };
}

/**
 * Resident memory of several processes with the pages they share counted once
 * (the Deno binary's pages, mapped by the daemon and its guard alike), in MB:
 * the frame numbers of their present pages, from /proc/PID/pagemap (which
 * shows them to root only; null otherwise).
 */
export function residentUnionMb(pids: number[]): number | null {
  const frames = new Set<number>();
  let sawFrame = false;
  for (const pid of pids) {
    const smaps = Deno.readTextFileSync(`/proc/${pid}/smaps`);
    const ranges: [number, number][] = [];
    let cur: [number, number] | null = null;
    for (const line of smaps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
      if (m) {
        cur = [parseInt(m[1], 16), parseInt(m[2], 16)];
        continue;
      }
      if (cur && line.startsWith("Rss:") && Number(line.split(/\s+/)[1]) > 0) ranges.push(cur);
    }
    const f = Deno.openSync(`/proc/${pid}/pagemap`, { read: true });
    try {
      for (const [lo, hi] of ranges) {
        const pages = (hi - lo) / 4096;
        const buf = new Uint8Array(pages * 8);
        f.seekSync((lo / 4096) * 8, Deno.SeekMode.Start);
        let off = 0;
        while (off < buf.length) {
          const n = f.readSync(buf.subarray(off));
          if (!n) break;
          off += n;
        }
        const v = new DataView(buf.buffer);
        for (let i = 0; i < pages; i++) {
          const hiWord = v.getUint32(i * 8 + 4, true), loWord = v.getUint32(i * 8, true);
          if (!(hiWord & 0x80000000)) continue; // not present
          const pfn = (hiWord & 0x7fffff) * 2 ** 32 + loWord;
          if (pfn !== 0) sawFrame = true;
          frames.add(pfn === 0 ? -(pid * 1e9 + lo / 4096 + i) : pfn);
        }
      }
    } finally {
      f.close();
    }
  }
  return sawFrame ? frames.size * 4096 / 1048576 : null;
}

/** The guard process of a daemon (the harness's {@link guardOf}); throws when there is none. */
function guardOfDaemon(daemonPid: number): number {
  const pid = guardOf(daemonPid);
  if (pid === null) throw new Error(`no guard process under daemon ${daemonPid}`);
  return pid;
}

/** The 1-minute load average. */
function load1(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** The port of the metrics endpoint, from the daemon's log. */
async function metricsPort(c: TestCluster, node: Node): Promise<number> {
  const m = /metrics served at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(await c.log(node));
  if (!m) throw new Error(`${node}: no metrics endpoint in its log`);
  return Number(m[1]);
}

/** Hook commands a daemon has run since it started (its histograms' counts). */
async function hooksRun(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^hastmon_hook_duration_seconds_count\{[^}]*\} (\d+)$/gm)) {
    n += Number(m[1]);
  }
  return n;
}

/** Does every resource run as primary on `node`, by its own status? */
function allRunning(st: StatusResult | null, count: number): boolean {
  return !!st && st.resources.length === count &&
    st.resources.every((r) => r.role === "primary" && r.state === "running");
}

/**
 * Seconds from `t0` (performance.now(), at wall time `wall0`) until every
 * resource runs on `node`, or null after `limitS`. Read from the daemon's log,
 * not by asking it: a status of a thousand resources every half second is
 * work for the daemon measured (a second of its CPU in a failover). A
 * resource runs from its first "status: running" line after `t0`; when all
 * have one, the daemon's own status must agree, else watching goes on.
 */
async function waitAllRunning(
  c: TestCluster,
  node: Node,
  count: number,
  t0: number,
  wall0: number,
  limitS: number,
): Promise<number | null> {
  const offset = (await c.log(node)).length;
  const runningAt = new Map<string, number>();
  while (performance.now() - t0 < limitS * 1000) {
    await sleep(250);
    const text = (await c.log(node)).slice(offset);
    for (
      const m of text.matchAll(/^(\S+) \[INFO\] \[([^\]]+)\] (?:member \S+ )?status: running/gm)
    ) {
      if (!runningAt.has(m[2])) runningAt.set(m[2], Date.parse(m[1]));
    }
    if (runningAt.size < count) continue;
    if (allRunning(await c.status(node, 10_000), count)) {
      return (Math.max(...runningAt.values()) - wall0) / 1000;
    }
    runningAt.clear(); // one stopped again meanwhile: watch for the last one anew
    await sleep(750);
  }
  return null;
}

/** What the logs of a node say after `offset` (a byte position in its log). */
interface LogCounts {
  selfFencing: number;
  stalls: number;
  guardDeadlines: number;
  /** Lines the daemons' and guards' logs lost (a queue that overflowed, a write that failed). */
  linesLost: number;
}

function countLog(text: string): LogCounts {
  const n = (re: RegExp) => (text.match(re) ?? []).length;
  return {
    selfFencing: n(/self-fencing: lease expired/g),
    stalls: n(/no event for /g),
    guardDeadlines: n(/lease deadline passed without a new arm/g),
    linesLost: [...text.matchAll(/log: (\d+) line\(s\) could not be written/g)]
      .reduce((sum, m) => sum + Number(m[1]), 0),
  };
}

async function logsSince(c: TestCluster, offsets: Record<Node, number>): Promise<LogCounts> {
  const sum: LogCounts = { selfFencing: 0, stalls: 0, guardDeadlines: 0, linesLost: 0 };
  for (const n of NODES) {
    const counts = countLog((await c.log(n)).slice(offsets[n]));
    sum.selfFencing += counts.selfFencing;
    sum.stalls += counts.stalls;
    sum.guardDeadlines += counts.guardDeadlines;
    sum.linesLost += counts.linesLost;
  }
  return sum;
}

async function logOffsets(c: TestCluster): Promise<Record<Node, number>> {
  const o = {} as Record<Node, number>;
  for (const n of NODES) o[n] = (await c.log(n)).length;
  return o;
}

interface Row {
  count: number;
  probeInterval: number;
  load: [number, number];
  allRunningS: number | null;
  /** % of one core, per node: the daemon, its guard, the hooks it ran. */
  cpu: Record<Node, { daemon: number; guard: number; hooks: number }>;
  rssMb: Record<Node, { daemon: number; guard: number; daemonPeak: number }>;
  hooksPerS: Record<Node, number>;
  frames: { ab: number; aw: number };
  shed: Record<Node, { dropped: number; deferred: number; lagMs: number }>;
  failover: {
    seconds: number | null;
    boundS: number;
    /** When b decided its last takeover, s after the kill (from its log). */
    lastTakeoverS: number | null;
    /** s of CPU from the kill until all ran on b: the machine (busy of all), b, its hooks, w. */
    cpu: { machineBusy: number; machineAll: number; b: number; bHooks: number; w: number };
  } | null;
  logs: LogCounts;
  neverTwoActive: string;
}

let current: TestCluster | null = null;

async function startCluster(count: number, probeInterval: number): Promise<TestCluster> {
  return current = await TestCluster.start({
    nodes: [
      { name: "a", priority: 10, role: "init" },
      { name: "b", priority: 20, role: "init" },
      { name: "w", priority: 30, role: "watchdog" },
    ],
    resources: Array.from({ length: count }, (_, i) => `r${i}`),
    heartbeatInterval: 1,
    timeout: 1,
    stopTimeout: 1,
    complaintInterval: 10,
    secret: "bench-scale-shared-secret-0123456789",
    extraToml: `probe_interval = ${probeInterval}\nmetrics_listen = "127.0.0.1:0"`,
    debug: 0,
  });
}

/** Every node has every resource (its boot probes answered), then a few quiet seconds. */
async function settle(c: TestCluster, count: number) {
  await c.waitFor(
    async () => {
      const st = await c.status("a", 10_000);
      return !!st && st.resources.length === count &&
        st.resources.every((r) => r.state !== "unknown");
    },
    300_000,
    `a to know all ${count} resources`,
  );
  await sleep(3000);
}

/** Wait until no node sheds load or holds a probe back; false after `limitMs`. */
async function quiet(c: TestCluster, limitMs: number): Promise<boolean> {
  const until = performance.now() + limitMs;
  while (performance.now() < until) {
    const loads = await Promise.all(NODES.map(async (n) => (await c.status(n, 10_000))?.load));
    if (loads.every((l) => l && !l.shedding && l.probesHeld === 0)) return true;
    await sleep(2000);
  }
  return false;
}

/** `ctl role primary all` on a, then secondary on b; seconds until every resource runs on a. */
async function promote(c: TestCluster, count: number, limitS: number): Promise<number | null> {
  const t0 = performance.now(), wall0 = Date.now();
  const watching = waitAllRunning(c, "a", count, t0, wall0, limitS);
  await c.ctlOk("a", "role", "primary", "all");
  await c.ctlOk("b", "role", "secondary", "all");
  return await watching;
}

async function measure(count: number, probeInterval: number, o: Options): Promise<Row> {
  const loadBefore = load1();
  console.log(`${count} resources, probe_interval ${probeInterval}: starting (load ${loadBefore})`);
  const c = await startCluster(count, probeInterval);
  try {
    await settle(c, count);
    const offsets = await logOffsets(c);
    const allRunningS = await promote(c, count, 120);
    console.log(`  all running on a after ${allRunningS?.toFixed(2) ?? "(not within 120 s)"} s`);
    await sleep(5000); // the start's stragglers and the JIT settle
    // The start's burst made the nodes shed load (routine probes held back): measure the
    // steady state, once none sheds any more and no probe is held.
    const calm = await quiet(c, 60_000);
    if (!calm) console.log("  still shedding load after 60 s: measuring anyway");
    const daemons = Object.fromEntries(NODES.map((n) => [n, c.daemonPid(n)!])) as Record<
      Node,
      number
    >;
    const guards = Object.fromEntries(NODES.map((n) => [n, guardOfDaemon(daemons[n])])) as Record<
      Node,
      number
    >;
    const ports = Object.fromEntries(
      await Promise.all(NODES.map(async (n) => [n, await metricsPort(c, n)])),
    ) as Record<Node, number>;
    const hooks0 = await Promise.all(NODES.map((n) => hooksRun(ports[n])));
    const frames0 = [c.relay.traffic("a", "b").frames, c.relay.traffic("a", "w").frames];
    const d0 = NODES.map((n) => sample(daemons[n])), g0 = NODES.map((n) => sample(guards[n]));
    const start = performance.now();
    await sleep(o.seconds * 1000);
    const elapsed = (performance.now() - start) / 1000;
    const d1 = NODES.map((n) => sample(daemons[n])), g1 = NODES.map((n) => sample(guards[n]));
    const frames1 = [c.relay.traffic("a", "b").frames, c.relay.traffic("a", "w").frames];
    const hooks1 = await Promise.all(NODES.map((n) => hooksRun(ports[n])));
    const pct = (t: number) => t / HZ / elapsed * 100;
    const cpu = {} as Row["cpu"], rssMb = {} as Row["rssMb"], hooksPerS = {} as Row["hooksPerS"];
    const shed = {} as Row["shed"];
    for (const [i, n] of NODES.entries()) {
      cpu[n] = {
        daemon: pct(d1[i].ticks - d0[i].ticks),
        guard: pct(g1[i].ticks - g0[i].ticks),
        hooks: pct(d1[i].childTicks - d0[i].childTicks),
      };
      rssMb[n] = {
        daemon: d1[i].rssKb / 1024,
        guard: g1[i].rssKb / 1024,
        daemonPeak: d1[i].hwmKb / 1024,
      };
      hooksPerS[n] = (hooks1[i] - hooks0[i]) / elapsed;
      const load = (await c.status(n, 10_000))?.load;
      shed[n] = {
        dropped: load?.notificationsDropped ?? NaN,
        deferred: load?.probesDeferred ?? NaN,
        lagMs: load?.lagMs ?? NaN,
      };
    }
    if (!allRunning(await c.status("a", 10_000), count)) {
      console.log("  a resource left a during the measurement");
    }
    const frames = {
      ab: (frames1[0] - frames0[0]) / elapsed,
      aw: (frames1[1] - frames0[1]) / elapsed,
    };
    let failover: Row["failover"] = null;
    if (o.failover) failover = await killPrimary(c, count, guards.a);
    const logs = await logsSince(c, offsets);
    let neverTwoActive = "yes";
    try {
      await c.assertNeverTwoActive();
    } catch (e) {
      neverTwoActive = `NO: ${(e as Error).message.split("\n")[0]}`;
    }
    const row: Row = {
      count,
      probeInterval,
      load: [loadBefore, load1()],
      allRunningS,
      cpu,
      rssMb,
      hooksPerS,
      frames,
      shed,
      failover,
      logs,
      neverTwoActive,
    };
    console.log(`  ${JSON.stringify(row)}`);
    return row;
  } finally {
    current = null;
    await c.stop();
  }
}

/** Busy and total CPU ticks of the whole machine (/proc/stat). */
function machineTicks(): { busy: number; all: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6], all: f.reduce((a, b) => a + b, 0) };
}

/** kill -9 of node a (its guard, its daemon, its services); seconds until all run on b. */
async function killPrimary(
  c: TestCluster,
  count: number,
  guardPid: number,
): Promise<NonNullable<Row["failover"]>> {
  const boundS = takeoverBoundMs((await c.configCheck("a")).stdout, "a", "b") / 1000;
  const b = c.daemonPid("b")!, w = c.daemonPid("w")!;
  const m0 = machineTicks(), b0 = sample(b), w0 = sample(w);
  const t0 = performance.now(), wall0 = Date.now();
  const watching = waitAllRunning(c, "b", count, t0, wall0, Math.max(120, boundS + 60));
  // The node dies whole: its guard first, so that it stops nothing.
  Deno.kill(guardPid, "SIGKILL");
  await c.kill9WithService("a");
  const seconds = await watching;
  const m1 = machineTicks(), b1 = sample(b), w1 = sample(w);
  // Where the machine's time went meanwhile (s of CPU): what it takes to start them all.
  const cpu = {
    machineBusy: (m1.busy - m0.busy) / HZ,
    machineAll: (m1.all - m0.all) / HZ,
    b: (b1.ticks - b0.ticks) / HZ,
    bHooks: (b1.childTicks - b0.childTicks) / HZ,
    w: (w1.ticks - w0.ticks) / HZ,
  };
  const log = await c.log("b");
  const takeovers = [...log.matchAll(/^(\S+) \[INFO\] \[[^\]]+\] role secondary -> primary/gm)];
  const lastTakeoverS = takeovers.length === 0
    ? null
    : (Math.max(...takeovers.map((m) => Date.parse(m[1]))) -
      (Date.now() - (performance.now() - t0))) /
      1000;
  console.log(
    `  failover: all running on b after ${seconds?.toFixed(2) ?? "(not within the limit)"} s ` +
      `(bound ${boundS.toFixed(3)} s + 5 s); last takeover decided at ${
        lastTakeoverS?.toFixed(2)
      } s; CPU meanwhile ${JSON.stringify(cpu)}`,
  );
  return { seconds, boundS, lastTakeoverS, cpu };
}

interface Soak {
  count: number;
  probeInterval: number;
  seconds: number;
  load: [number, number];
  allRunningS: number | null;
  stillRunning: boolean;
  logs: LogCounts;
  leaseLost: number;
  cpuA: number;
  hooksA: number;
  neverTwoActive: string;
}

async function soak(s: NonNullable<Options["soak"]>): Promise<Soak> {
  const loadBefore = load1();
  console.log(
    `soak: ${s.count} resources, probe_interval ${s.probeInterval}, ${s.seconds} s (load ${loadBefore})`,
  );
  const c = await startCluster(s.count, s.probeInterval);
  try {
    await settle(c, s.count);
    const allRunningS = await promote(c, s.count, 120);
    console.log(`  all running on a after ${allRunningS?.toFixed(2) ?? "(not within 120 s)"} s`);
    const offsets = await logOffsets(c);
    const pid = c.daemonPid("a")!;
    const s0 = sample(pid);
    const start = performance.now();
    await sleep(s.seconds * 1000);
    const elapsed = (performance.now() - start) / 1000;
    const s1 = sample(pid);
    const logs = await logsSince(c, offsets);
    const st = await c.status("a", 10_000);
    // A lease lost: a resource of a that is no longer primary there (self-fenced or yielded).
    const leaseLost = st ? st.resources.filter((r) => r.role !== "primary").length : s.count;
    let neverTwoActive = "yes";
    try {
      await c.assertNeverTwoActive();
    } catch (e) {
      neverTwoActive = `NO: ${(e as Error).message.split("\n")[0]}`;
    }
    const result: Soak = {
      ...s,
      load: [loadBefore, load1()],
      allRunningS,
      stillRunning: allRunning(st, s.count),
      logs,
      leaseLost: Math.max(leaseLost, logs.selfFencing),
      cpuA: (s1.ticks - s0.ticks) / HZ / elapsed * 100,
      hooksA: (s1.childTicks - s0.childTicks) / HZ / elapsed * 100,
      neverTwoActive,
    };
    console.log(`  ${JSON.stringify(result)}`);
    return result;
  } finally {
    current = null;
    await c.stop();
  }
}

interface IdleRun {
  /** "from source" or "built file". */
  label: string;
  nodes: Record<
    Node,
    { daemon: number; guard: number; together: number | null; anonymous: number }
  >;
}

interface Idle {
  load: [number, number];
  seconds: number;
  floorMb: number;
  /** The floor 10 s after it released its executable's pages as the daemon does (resident.ts). */
  releasedFloorMb: number;
  runs: IdleRun[];
}

/**
 * RSS of an idle Deno process with one timer, with the daemon's own Deno options, after 5 s;
 * with `released`, after 10 s, having released its executable's pages at 2 s as the daemon
 * and the guard do.
 */
async function denoFloorMb(released: boolean): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-floor-" });
  try {
    const release = `import { releaseExecutablePages } from ${
      JSON.stringify(import.meta.resolve("../src/daemon/resident.ts"))
    };\nsetTimeout(releaseExecutablePages, 2000);\n`;
    await Deno.writeTextFile(
      `${dir}/floor.ts`,
      `${released ? release : ""}setInterval(() => {}, 1000);\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", ...DAEMON_DENO_FLAGS, `${dir}/floor.ts`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await sleep(released ? 10_000 : 5000);
    const rss = sample(child.pid).rssKb / 1024;
    child.kill("SIGKILL");
    await child.status;
    return rss;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** An idle node with 3 resources, from source and (given the built file) from it. */
async function idle(built: string | null, seconds: number): Promise<Idle> {
  const loadBefore = load1();
  const floorMb = await denoFloorMb(false);
  const releasedFloorMb = await denoFloorMb(true);
  const runs = [await idleRun("from source", null, seconds)];
  if (built !== null) {
    const cache = await Deno.makeTempDir({ prefix: "hastmon-bench-cache-" });
    try {
      const executable = { path: built, env: { HASTMON_CACHE: cache } };
      runs.push(await idleRun("built file", executable, seconds));
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  }
  const result: Idle = { load: [loadBefore, load1()], seconds, floorMb, releasedFloorMb, runs };
  console.log(`idle: ${JSON.stringify(result)}`);
  return result;
}

/** An idle cluster with 3 resources at the default heartbeat_interval (10 s). */
async function idleRun(
  label: string,
  executable: { path: string; env: Record<string, string> } | null,
  seconds: number,
): Promise<IdleRun> {
  const c = current = await TestCluster.start({
    resources: ["r0", "r1", "r2"],
    heartbeatInterval: 10,
    timeout: 2,
    stopTimeout: 1,
    complaintInterval: 100,
    debug: 0,
    ...(executable ? { executable } : {}),
  });
  try {
    await c.waitFor(async () => allRunning(await c.status("a", 5000), 3), 60_000, "3 on a");
    await sleep(seconds * 1000);
    const nodes = {} as IdleRun["nodes"];
    for (const n of NODES) {
      const d = c.daemonPid(n)!;
      const g = guardOfDaemon(d);
      nodes[n] = {
        daemon: sample(d).rssKb / 1024,
        guard: sample(g).rssKb / 1024,
        together: residentUnionMb([d, g]),
        anonymous: (sample(d).anonKb + sample(g).anonKb) / 1024,
      };
    }
    return { label, nodes };
  } finally {
    current = null;
    await c.stop();
  }
}

const f1 = (n: number) => Number.isFinite(n) ? n.toFixed(1) : "—";
const f0 = (n: number) => Number.isFinite(n) ? n.toFixed(0) : "—";
const secs = (s: number | null) => s === null ? "**never** (120 s)" : `${s.toFixed(1)} s`;

function report(command: string, o: Options, rows: Row[], s: Soak | null, i: Idle | null): string {
  const date = new Date().toISOString().slice(0, 10);
  const parts = [`## Scale: a thousand resources on one node

Measured by \`scripts/bench_scale.ts\` (\`${command}\`, ${date}, Deno ${Deno.version.deno}, 2 cores
shared with other work: the load average, 1 minute, before and after each row is beside it). Three
daemons on loopback with a shared key and their guards, every resource in \`init\` on a and b and
watched by w; \`ctl role primary all\` on a (b made secondary at once), then every resource runs
there. heartbeat_interval = 1, timeout = 1, stop_timeout = 1; the hook script and services of the
end-to-end tests (a start launches a real process; a probe reads its pid file and /proc). CPU is
utime + stime from /proc as % of one core over ${o.seconds} s once everything ran: each daemon, its
guard, and the hook processes it ran (its reaped children). Hooks a second are the daemons' own
counts (their metrics). Failover: kill -9 of node a (daemon, guard and services at once) until every
resource runs on b.

| resources | probe | load | all running after \`role primary all\` | CPU daemon a / b / w | guard a / b / w | hooks a / b / w | hooks/s a / b / w | RSS daemon a / b / w MB (peak a) | RSS guard a MB | frames/s a→b, a→w | failover of all (bound + 5 s) | self-fence / stalls / guard deadlines / log lines lost | never two active |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${
    rows.map((r) =>
      `| ${r.count} | ${r.probeInterval} s | ${r.load[0]}–${r.load[1]} | ${secs(r.allRunningS)} | ${
        NODES.map((n) => `${f1(r.cpu[n].daemon)}`).join(" / ")
      } % | ${NODES.map((n) => f1(r.cpu[n].guard)).join(" / ")} % | ${
        NODES.map((n) => f1(r.cpu[n].hooks)).join(" / ")
      } % | ${NODES.map((n) => f1(r.hooksPerS[n])).join(" / ")} | ${
        NODES.map((n) => f0(r.rssMb[n].daemon)).join(" / ")
      } (${f0(r.rssMb.a.daemonPeak)}) | ${f0(r.rssMb.a.guard)} | ${f1(r.frames.ab)}, ${
        f1(r.frames.aw)
      } | ${
        r.failover
          ? `${secs(r.failover.seconds)} (${(r.failover.boundS + 5).toFixed(1)} s)`
          : "not measured"
      } | ${r.logs.selfFencing} / ${r.logs.stalls} / ${r.logs.guardDeadlines} / ${
        r.logs.linesLost ?? "-"
      } | ${r.neverTwoActive} |`
    ).join("\n")
  }

Failover at each count: the last takeover decided (s after the kill, from b's log), and the CPU
(seconds) the machine spent until every resource ran on b: ${
    rows.filter((r) => r.failover).map((r) => {
      const f = r.failover!;
      return `${r.count}: decided by ${f.lastTakeoverS?.toFixed(1) ?? "—"} s; machine ${
        f.cpu.machineBusy.toFixed(1)
      } of ${f.cpu.machineAll.toFixed(1)} s busy, daemon b ${f.cpu.b.toFixed(1)}, its hooks ${
        f.cpu.bHooks.toFixed(1)
      }, daemon w ${f.cpu.w.toFixed(1)}`;
    }).join("; ")
  }.

Shed while measuring (notification hooks dropped, probes postponed since start; worst lateness of
the timer in the last 10 s): ${
    rows.map((r) =>
      `${r.count}: ${
        NODES.map((n) =>
          `${n} ${f0(r.shed[n].dropped)}/${f0(r.shed[n].deferred)}/${f0(r.shed[n].lagMs)} ms`
        ).join(", ")
      }`
    ).join("; ")
  }.`];
  if (s) {
    parts.push(
      `### Soak: ${s.count} resources, probe_interval = ${s.probeInterval} s, ${s.seconds} s

Load ${s.load[0]}–${s.load[1]}. All running on a ${secs(s.allRunningS)} after \`role primary all\`;
over the soak: ${s.leaseLost} lease(s) lost, ${s.logs.selfFencing} self-fencing, ${s.logs.stalls}
stall warning(s) ("no event for"), ${s.logs.guardDeadlines} guard deadline(s), ${
        s.logs.linesLost ?? "-"
      } log line(s) lost; every resource still
running on a at the end: ${
        s.stillRunning ? "yes" : "**no**"
      }; never two active: ${s.neverTwoActive}.
Daemon a ${f1(s.cpuA)} % of a core, its hooks ${f1(s.hooksA)} %.`,
    );
  }
  if (i) {
    const ratio = (mb: number) => `${(mb / i.floorMb).toFixed(2)}×`;
    const mbAndRatio = (mb: number | null) => mb === null ? "— | —" : `${f1(mb)} | ${ratio(mb)}`;
    parts.push(`### Idle: 3 resources, heartbeat_interval = 10 s

RSS after ${i.seconds} s idle, load ${i.load[0]}–${i.load[1]}. The floor: an idle Deno process with
one timer and the daemon's Deno options, ${f1(i.floorMb)} MB (every ratio is to it); the same after
it released its executable's start-up pages as the daemon does 15 s after its start
(src/daemon/resident.ts), ${f1(i.releasedFloorMb)} MB. Daemon and guard are two Deno processes that
map the same Deno binary: "RSS sum" counts its resident pages twice, "resident together" once (the
frame numbers of both processes' present pages, /proc/PID/pagemap). "Anonymous" is the part of the
RSS sum that is theirs alone (V8's heap, malloc's, stacks, data), not pages of a file.${
      i.runs.length > 1
        ? ` "From source" runs \`deno run main.ts\`; "built file" runs the one file of
\`deno task build\` (dist/hastmon), as an operator does: one bundled module instead of about a
hundred.`
        : ""
    }

| run | node | daemon MB | guard MB | RSS sum MB | × floor | anonymous MB | resident together MB | × floor |
|---|---|---|---|---|---|---|---|---|
${
      i.runs.flatMap((r) =>
        NODES.map((n) => {
          const x = r.nodes[n];
          return `| ${r.label} | ${n} | ${f1(x.daemon)} (${ratio(x.daemon)}) | ${f1(x.guard)} (${
            ratio(x.guard)
          }) | ${mbAndRatio(x.daemon + x.guard)} | ${f1(x.anonymous)} | ${
            mbAndRatio(x.together)
          } |`;
        })
      ).join("\n")
    }`);
  }
  return parts.join("\n\n") + "\n";
}

async function main() {
  const o = parseArgs(Deno.args);
  const command = `deno run -A scripts/bench_scale.ts${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const rows: Row[] = [];
  for (const n of o.counts) rows.push(await measure(n, o.probeInterval, o));
  const s = o.soak ? await soak(o.soak) : null;
  const i = o.idle ? await idle(o.built, o.idleSeconds) : null;
  const text = report(command, o, rows, s, i);
  console.log(text);
  if (!o.write) return;
  await writeSection("scale", text);
  console.log("written to docs/BENCHMARKS.md (section scale)");
}

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      await current?.stop();
      Deno.exit(130);
    });
  }
  await main();
  Deno.exit(0);
}
