/**
 * A sweep of seeded simulations across layouts (every fault kind, up to three
 * faults a run): the two-node-plus-watchdog cluster, per-node settings that
 * differ, the benchmark's fast timings, three members per resource (also
 * without `panic`, every fault but a hung stop, which needs one), five nodes
 * with two watchdogs. Exits 1 when any run broke a promise. Used by
 * scripts/mutants.ts; `--scale K` multiplies the number of runs.
 *
 *     deno run -A scripts/sim_sweep.ts [--scale 1] [--seed 1]
 */
import {
  defaultLayout,
  FAULT_KINDS,
  type FaultKind,
  type LayoutOptions,
} from "../src/sim/scenario.ts";
import { formatBatch, runBatch } from "../src/sim/run.ts";

/** A stop that hangs is survivable only with `panic`: left out where there is none. */
const NO_HUNG_STOP = FAULT_KINDS.filter((k) => !/hung-stop|stop-hangs/.test(k));

const LAYOUTS: [string, LayoutOptions, number, FaultKind[]?][] = [
  ["default", {}, 600],
  ["mixed", { mixed: true }, 300],
  ["fast", { heartbeatMs: 250 }, 300],
  ["members", { members: 3 }, 300],
  ["members-no-panic", { members: 3, hasPanic: false }, 300, NO_HUNG_STOP],
  ["five", { nodes: ["a", "b", "c", "w1", "w2"] }, 200],
];

const scale = Number(Deno.args[Deno.args.indexOf("--scale") + 1] ?? 1) || 1;
const seed = Number(Deno.args[Deno.args.indexOf("--seed") + 1] ?? 1) || 1;
let bad = 0;
for (const [name, opts, runs, faults] of LAYOUTS) {
  const b = runBatch({
    runs: Math.round(runs * scale),
    seed,
    layout: defaultLayout(opts),
    faults,
    maxFaults: 3,
    keepFailures: 1,
  });
  bad += b.violationCount;
  console.log(`${name}: ${b.runs} runs, ${b.violationCount} violations`);
  if (b.violationCount > 0) console.log(formatBatch(b));
}
Deno.exit(bad > 0 ? 1 : 0);
