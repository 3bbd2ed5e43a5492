/**
 * A sweep of seeded simulations across layouts (every fault kind, up to three
 * faults a run): the two-node-plus-watchdog cluster, per-node settings that
 * differ, the benchmark's fast timings, three members per resource, five
 * nodes with two watchdogs. Exits 1 when any run broke a promise. Used by
 * scripts/mutants.ts; `--scale K` multiplies the number of runs.
 *
 *     deno run -A scripts/sim_sweep.ts [--scale 1] [--seed 1]
 */
import { defaultLayout, type LayoutOptions } from "../src/sim/scenario.ts";
import { formatBatch, runBatch } from "../src/sim/run.ts";

const LAYOUTS: [string, LayoutOptions, number][] = [
  ["default", {}, 600],
  ["mixed", { mixed: true }, 300],
  ["fast", { heartbeatMs: 250 }, 300],
  ["members", { members: 3 }, 300],
  ["five", { nodes: ["a", "b", "c", "w1", "w2"] }, 200],
];

const scale = Number(Deno.args[Deno.args.indexOf("--scale") + 1] ?? 1) || 1;
const seed = Number(Deno.args[Deno.args.indexOf("--seed") + 1] ?? 1) || 1;
let bad = 0;
for (const [name, opts, runs] of LAYOUTS) {
  const b = runBatch({
    runs: Math.round(runs * scale),
    seed,
    layout: defaultLayout(opts),
    maxFaults: 3,
    keepFailures: 1,
  });
  bad += b.violationCount;
  console.log(`${name}: ${b.runs} runs, ${b.violationCount} violations`);
  if (b.violationCount > 0) console.log(formatBatch(b));
}
Deno.exit(bad > 0 ? 1 : 0);
