/**
 * Benchmark of the simulator: how long `hastmon simulate` takes for many
 * seeded runs, and the failover times it sees, for the default cluster and the
 * failover benchmark's timings. Prints a Markdown section; with --write it
 * replaces the simulator section of docs/BENCHMARKS.md.
 *
 *   deno run -A scripts/bench_simulate.ts [--runs 10000] [--write]
 */
import { defaultLayout } from "../src/sim/scenario.ts";
import { percentile, runBatch } from "../src/sim/run.ts";
import { writeSection } from "./bench_doc.ts";

const args = Deno.args;
const runs = Number(args[args.indexOf("--runs") + 1]) || 10_000;
const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

const rows: string[] = [];
for (
  const [label, interval] of [["heartbeat 1 s (default)", 1000], ["heartbeat 0.25 s", 250]] as const
) {
  const t0 = performance.now();
  const b = runBatch({ runs, seed: 1, layout: defaultLayout({ heartbeatMs: interval }) });
  const took = (performance.now() - t0) / 1000;
  const f = b.failovers;
  rows.push(
    `| ${label} | ${runs} | ${took.toFixed(1)} s | ${b.violationCount} | ${f.length} | ` +
      `${s(percentile(f, 50))} | ${s(percentile(f, 99))} | ${s(Math.max(...f))} |`,
  );
  console.error(`${label}: ${runs} runs in ${took.toFixed(1)} s, ${b.violationCount} violations`);
}
const section = `## Simulator

\`deno run -A scripts/bench_simulate.ts --runs ${runs}\` (the same as \`hastmon simulate --runs ${runs}\`
with the built-in three-node cluster: every fault kind, one or two faults a run, virtual time).
Failover is the virtual time from the primary's death to the secondary's start, in runs where
that was the only fault.

| cluster | runs | wall time | violations | failovers measured | p50 | p99 | max |
|---|---|---|---|---|---|---|---|
${rows.join("\n")}
`;
console.log(section);
if (args.includes("--write")) await writeSection("simulate", section, "## Simulator");
