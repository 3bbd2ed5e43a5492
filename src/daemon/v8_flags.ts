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
 * - `--heap-growing-percent=30`: the old generation otherwise grew to four
 *   times what lives in it after the start of a thousand services (126 MB
 *   around 32 MB of live objects) and, without the reducer, stayed there. V8
 *   lets it grow by at most 30 % past what lived after each full collection
 *   instead. `--optimize-for-size` did this before (118–121 MB at 1,000
 *   resources), but it also makes V8's compilers favour size over speed: the
 *   primary used 25.7–31 % of a core at rest, over the 25 % of PRODUCT.md §8,
 *   and the three daemons 17–19 s of CPU to start a thousand resources. With
 *   this flag instead: 18–22 % and 147–167 MB (peaks 176–194 MB), and 11 s.
 *   Without either, 214 MB (peak 269 MB). Side by side on one day:
 *   scripts/bench_scale.ts --counts 1000; docs/BENCHMARKS.md, "Against issue 12".
 * - `--single-threaded-gc`: on two cores shared with the hook processes, the
 *   collector's helper threads cost more in all than they save the main
 *   thread (measured with `--optimize-for-size`, before the change above):
 *   at 1,000 resources the primary, the secondary and the watchdog ran in
 *   21.0 / 11.0 / 8.5 % of a core instead of 23.5 / 12.3 / 10.2 %
 *   (scripts/bench_scale.ts --counts 1000, one after the other). Its marking
 *   runs on the main thread, so what matters is how late the timer fires:
 *   the worst lateness of the primary's timer at 1,000 resources was 463 ms
 *   with it and 423–534 ms without (three runs), and the full benchmark with
 *   it (docs/BENCHMARKS.md) had no stall, no lease lost and no self-fencing,
 *   the soak at a probe a second included.
 * - `--expose-gc`: V8's `gc`, with which the daemon compacts its heap every
 *   ten minutes while little lives in it (resident.ts, compactSmallHeap):
 *   without the memory reducer, nothing else gives an idle daemon's heap
 *   back. The built file runs every command with these options (one code
 *   cache for all), so `gc` exists in ctl and the console too, unused.
 */
export const DAEMON_DENO_FLAGS: readonly string[] = [
  "--v8-flags=--no-memory-reducer,--max-semi-space-size=4,--heap-growing-percent=30,--single-threaded-gc,--expose-gc",
];
