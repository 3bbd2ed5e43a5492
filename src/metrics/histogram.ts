/**
 * Hook durations, per resource and method, as Prometheus histograms. The
 * daemon's hook runner feeds it (one observation per command run); the
 * metrics rendering reads a snapshot. Cumulative since the daemon started.
 */

/** Bucket bounds in seconds: from a quick status probe to a slow start. */
export const HOOK_BUCKETS_S: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
];

/** One histogram: counts per bucket (not cumulative), their sum and count. */
export interface HistogramSnapshot {
  resource: string;
  method: string;
  /** counts[i]: observations ≤ HOOK_BUCKETS_S[i] and > the previous bound; the last: above all. */
  counts: number[];
  sumSeconds: number;
  count: number;
}

/** The hook-duration histograms of one daemon. */
export class HookHistograms {
  readonly #series = new Map<string, HistogramSnapshot>();

  /** Record one run of `method` for `resource` that took `ms`. */
  observe(resource: string, method: string, ms: number): void {
    const key = `${resource}\0${method}`;
    let h = this.#series.get(key);
    if (!h) {
      h = {
        resource,
        method,
        counts: new Array(HOOK_BUCKETS_S.length + 1).fill(0),
        sumSeconds: 0,
        count: 0,
      };
      this.#series.set(key, h);
    }
    const s = Math.max(0, ms) / 1000;
    let i = HOOK_BUCKETS_S.findIndex((b) => s <= b);
    if (i < 0) i = HOOK_BUCKETS_S.length;
    h.counts[i]++;
    h.sumSeconds += s;
    h.count++;
  }

  /** A copy of every histogram, ordered by resource then method. */
  snapshot(): HistogramSnapshot[] {
    return [...this.#series.values()]
      .map((h) => ({ ...h, counts: [...h.counts] }))
      .sort((a, b) =>
        a.resource < b.resource
          ? -1
          : a.resource > b.resource
          ? 1
          : a.method < b.method
          ? -1
          : a.method > b.method
          ? 1
          : 0
      );
  }
}
