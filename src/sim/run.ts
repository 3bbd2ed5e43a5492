/** Many seeded runs of the simulator, with a summary a person can read. */
import { type FaultKind, type Layout, type RunResult, runScenario } from "./scenario.ts";
import type { Defects } from "../core/machine.ts";

/** Options of a batch of runs. */
export interface BatchOptions {
  runs: number;
  seed: number;
  layout: Layout;
  faults?: FaultKind[];
  maxFaults?: number;
  defects?: Defects;
  /** Stop after this many failing runs (their transcripts are kept). */
  keepFailures?: number;
}

/** The outcome of a batch. */
export interface BatchResult {
  runs: number;
  failures: RunResult[];
  violationCount: number;
  /** Of those, the ones that followed a broken assumption (a stop that hung, no panic). */
  assumptionCount: number;
  failovers: number[];
  elapsedMs: number;
}

/** Run `runs` seeds, from `seed` upwards. */
export function runBatch(opts: BatchOptions, clock: () => number = () => 0): BatchResult {
  const t0 = clock();
  const failures: RunResult[] = [];
  const failovers: number[] = [];
  let violationCount = 0;
  let assumptionCount = 0;
  for (let i = 0; i < opts.runs; i++) {
    const r = runScenario({
      seed: opts.seed + i,
      layout: opts.layout,
      faults: opts.faults,
      maxFaults: opts.maxFaults,
      defects: opts.defects,
    });
    failovers.push(...r.failovers);
    if (r.violations.length > 0) {
      violationCount += r.violations.length;
      assumptionCount += r.violations.filter((v) => v.assumption).length;
      if (failures.length < (opts.keepFailures ?? 5)) failures.push(r);
    }
  }
  return {
    runs: opts.runs,
    failures,
    violationCount,
    assumptionCount,
    failovers,
    elapsedMs: clock() - t0,
  };
}

/** The p-th percentile (0..100) of values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The report `hastmon simulate` prints. */
export function formatBatch(b: BatchResult): string {
  const lines: string[] = [];
  lines.push(`runs: ${b.runs}`);
  lines.push(
    `violations: ${b.violationCount}${b.violationCount ? ` in ${b.failures.length}+ runs` : ""}`,
  );
  if (b.assumptionCount > 0) {
    lines.push(
      `  ${b.assumptionCount} of them after a broken assumption: a stop hung and no panic ` +
        `command is configured (set panic, e.g. a reboot, to keep the promise)`,
    );
  }
  if (b.failovers.length > 0) {
    const s = (ms: number) => `${(ms / 1000).toFixed(3)}s`;
    lines.push(
      `failover after primary death (${b.failovers.length} runs): p50 ${
        s(percentile(b.failovers, 50))
      }` +
        `  p90 ${s(percentile(b.failovers, 90))}  p99 ${s(percentile(b.failovers, 99))}` +
        `  max ${s(Math.max(...b.failovers))}`,
    );
  }
  for (const f of b.failures) {
    lines.push("");
    lines.push(`seed ${f.seed}: ${f.violations.map((v) => `${v.kind}: ${v.message}`).join("; ")}`);
    const broken = [...new Set(f.violations.flatMap((v) => v.assumption ? [v.assumption] : []))];
    for (const a of broken) {
      lines.push(`  an assumption of the promise was broken first: ${a}`);
    }
    lines.push(
      `  faults: ${
        f.faults.map((x) =>
          `${x.kind}(${x.nodes.join(",")}) at ${(x.at / 1000).toFixed(2)}s for ${
            (x.duration / 1000).toFixed(2)
          }s`
        ).join(", ")
      }`,
    );
    lines.push("  last events:");
    lines.push(f.transcript.split("\n").map((l) => "  " + l).join("\n"));
  }
  return lines.join("\n");
}
