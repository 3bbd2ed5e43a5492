/**
 * How the node runtime scales with the number of resources (a benchmark, not
 * a test): three real daemons on loopback (a primary, a secondary and a
 * watchdog of every resource) with a shared key, so that every frame between
 * them carries a MAC, at heartbeat_interval = 1. For each count of resources:
 *
 * - frames per second on each link, counted by the relay between the nodes
 *   (from outside the daemons), and MAC operations per second of the primary
 *   (one MAC per frame it sends, one check per frame it receives): with one
 *   frame per peer per tick these must not grow with the count;
 * - CPU of each daemon as % of one core (utime + stime from /proc), its RSS;
 * - the time from the daemons' start until every resource runs on the primary.
 *
 *     deno run -A scripts/bench_scale.ts [--counts 10,100,1000] [--seconds 30]
 *       [--probe-interval 10] [--no-write]
 *
 * Writes its section ("scale") of docs/BENCHMARKS.md (scripts/bench_doc.ts).
 */
import { sleep, TestCluster } from "../tests/cluster/harness.ts";
import { writeSection } from "./bench_doc.ts";

interface Options {
  counts: number[];
  seconds: number;
  probeInterval: number;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    counts: [10, 100, 1000],
    seconds: 30,
    probeInterval: 10,
    write: true,
  };
  for (let i = 0; i < args.length; i++) {
    const value = () => args[++i] ?? usage(`${args[i - 1]} needs a value`);
    switch (args[i]) {
      case "--counts":
        o.counts = value().split(",").map((v) => positive(v));
        break;
      case "--seconds":
        o.seconds = positive(value());
        break;
      case "--probe-interval":
        o.probeInterval = positive(value());
        break;
      case "--no-write":
        o.write = false;
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
    `bench_scale: ${problem}\nusage: deno run -A scripts/bench_scale.ts [--counts N,N...] ` +
      `[--seconds S] [--probe-interval S] [--no-write]`,
  );
  Deno.exit(64);
}

/** CPU ticks (utime + stime) and RSS of a process. */
function sample(pid: number): { ticks: number; rssKb: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return { ticks: Number(fields[11]) + Number(fields[12]), rssKb: rss };
}

const HZ = 100; // CLK_TCK on Linux

interface Row {
  count: number;
  allRunningS: number;
  /** Frames per second on each directed link. */
  frames: Record<string, number>;
  /** The primary's MAC operations per second (sealed + opened frames). */
  macs: number;
  cpu: Record<string, number>;
  rssMb: Record<string, number>;
}

/** Every resource runs on `node`, by its own status. */
async function allRunning(c: TestCluster, node: string, count: number): Promise<boolean> {
  const st = await c.status(node, 10_000);
  if (!st) return false;
  return st.resources.length === count &&
    st.resources.every((r) => r.role === "primary" && r.state === "running");
}

let current: TestCluster | null = null;

async function measure(count: number, o: Options): Promise<Row> {
  const resources = Array.from({ length: count }, (_, i) => `r${i}`);
  const t0 = performance.now();
  const c = current = await TestCluster.start({
    resources,
    heartbeatInterval: 1,
    timeout: 1,
    stopTimeout: 1,
    complaintInterval: 10,
    secret: "bench-scale-shared-secret-0123456789",
    extraToml: `probe_interval = ${o.probeInterval}`,
    debug: 0,
  });
  try {
    await c.waitFor(() => allRunning(c, "a", count), 300_000, `all ${count} resources on a`);
    const allRunningS = (performance.now() - t0) / 1000;
    console.log(`${count} resources: all running on a after ${allRunningS.toFixed(1)} s`);
    await sleep(5000); // start-up work and JIT settle
    const links = [["a", "b"], ["b", "a"], ["a", "w"], ["w", "a"], ["b", "w"], ["w", "b"]];
    const before = links.map(([x, y]) => c.relay.traffic(x, y).frames);
    const pids = c.nodes.map((n) => c.daemonPid(n.name)!);
    const cpu0 = pids.map(sample);
    const start = performance.now();
    await sleep(o.seconds * 1000);
    const elapsed = (performance.now() - start) / 1000;
    const after = links.map(([x, y]) => c.relay.traffic(x, y).frames);
    const cpu1 = pids.map(sample);
    const frames: Record<string, number> = {};
    links.forEach(([x, y], i) => frames[`${x}>${y}`] = (after[i] - before[i]) / elapsed);
    const macs = frames["a>b"] + frames["b>a"] + frames["a>w"] + frames["w>a"];
    const cpu: Record<string, number> = {}, rssMb: Record<string, number> = {};
    c.nodes.forEach((n, i) => {
      cpu[n.name] = (cpu1[i].ticks - cpu0[i].ticks) / HZ / elapsed * 100;
      rssMb[n.name] = cpu1[i].rssKb / 1024;
    });
    if (!await allRunning(c, "a", count)) throw new Error("a resource left a during the run");
    await c.assertNeverTwoActive();
    return { count, allRunningS, frames, macs, cpu, rssMb };
  } finally {
    current = null;
    await c.stop();
  }
}

function report(command: string, o: Options, rows: Row[]): string {
  const f = (n: number) => n.toFixed(1);
  return `## Scale: frames, MACs and CPU against the number of resources

Measured by \`scripts/bench_scale.ts\` (\`${command}\`, ${
    new Date().toISOString().slice(0, 10)
  }): three daemons on
loopback with a shared key, every resource primary on a, secondary on b, watched by w;
heartbeat_interval = 1, probe_interval = ${o.probeInterval}; frames counted by the relay between
the nodes over ${o.seconds} s after everything ran. MAC operations of a: one per frame it sends and
one per frame it receives on its two links. CPU is the daemon alone (utime + stime), hook processes
not included.

| resources | frames/s a→b | b→a | a→w | w→a | MAC ops/s on a | CPU a | CPU b | CPU w | RSS a / b / w MB | all running after |
|---|---|---|---|---|---|---|---|---|---|---|
${
    rows.map((r) =>
      `| ${r.count} | ${f(r.frames["a>b"])} | ${f(r.frames["b>a"])} | ${f(r.frames["a>w"])} | ${
        f(r.frames["w>a"])
      } | ${f(r.macs)} | ${f(r.cpu.a)} % | ${f(r.cpu.b)} % | ${f(r.cpu.w)} % | ${f(r.rssMb.a)} / ${
        f(r.rssMb.b)
      } / ${f(r.rssMb.w)} | ${r.allRunningS.toFixed(1)} s |`
    ).join("\n")
  }
`;
}

async function main() {
  const o = parseArgs(Deno.args);
  const command = `deno run -A scripts/bench_scale.ts${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const rows: Row[] = [];
  for (const n of o.counts) {
    const row = await measure(n, o);
    rows.push(row);
    console.log(
      `${n} resources: frames/s a>b ${row.frames["a>b"].toFixed(1)}, b>a ${
        row.frames["b>a"].toFixed(1)
      }, MAC ops/s on a ${row.macs.toFixed(1)}; CPU a ${row.cpu.a.toFixed(1)} %, b ${
        row.cpu.b.toFixed(1)
      } %, w ${row.cpu.w.toFixed(1)} %; RSS a ${row.rssMb.a.toFixed(0)} MB`,
    );
  }
  if (!o.write) return;
  await writeSection("scale", report(command, o, rows));
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
