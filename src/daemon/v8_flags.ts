/**
 * Deno options of the long-running processes (the daemon and its guard), for
 * every way they are started: the `hastmon` task, the background daemon's
 * re-exec, the guard's spawn and the test harness.
 *
 * - `--no-memory-reducer`: V8's memory reducer runs garbage collections on
 *   timers after each burst of allocation; a daemon wakes for a heartbeat every
 *   interval, so it never rests: without the reducer an idle daemon's CPU fell
 *   from 0.30–0.53 % to 0.15–0.28 % at heartbeat_interval = 10
 *   (docs/BENCHMARKS.md). Ordinary allocation-driven collections still bound
 *   the heap.
 * - `--max-semi-space-size=4` (MB): the young generation otherwise grows to 64
 *   MB under a steady allocation rate (a thousand resources' frames every
 *   second) and, without the reducer, never gives it back: 67 MB of a 1,000
 *   resource daemon's 280 MB RSS was young generation holding 20 MB of live
 *   objects (v8.getHeapSpaceStatistics). Capped, it scavenges more often;
 *   each scavenge costs in proportion to what survives, which is little.
 * - `--optimize-for-size`: the old generation otherwise grew to 126 MB around
 *   32 MB of live objects after the start of a thousand services (and, without
 *   the reducer, stayed there). With it a 1,000-resource primary ran in 106 MB
 *   instead of 224 MB, for 20 % of a core instead of 15 % (more frequent
 *   collections; scripts/bench_scale.ts, side by side at a load of 3 to 5).
 *   Its cost is the collector's: `--memory-saver-mode` instead costs the same
 *   (22.4 % of a core), and without either the primary ran in 15.3 % of a core
 *   but 184 MB (peak 194 MB: too near the 200 MB of PRODUCT.md §8).
 * - `--single-threaded-gc`: on two cores shared with the hook processes, the
 *   collector's helper threads cost more in all than they save the main
 *   thread: at 1,000 resources the primary, the secondary and the watchdog
 *   ran in 21.0 / 11.0 / 8.5 % of a core instead of 23.5 / 12.3 / 10.2 %
 *   (scripts/bench_scale.ts --counts 1000, one after the other). Its marking
 *   runs on the main thread, so what matters is how late the timer fires:
 *   the worst lateness of the primary's timer at 1,000 resources was 463 ms
 *   with it and 423–534 ms without (three runs), and the full benchmark with
 *   it (docs/BENCHMARKS.md) had no stall, no lease lost and no self-fencing,
 *   the soak at a probe a second included.
 */
export const DAEMON_DENO_FLAGS: readonly string[] = [
  "--v8-flags=--no-memory-reducer,--max-semi-space-size=4,--optimize-for-size,--single-threaded-gc",
];
