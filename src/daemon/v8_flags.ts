/**
 * Deno options of the long-running processes (the daemon and its guard), for
 * every way they are started: the `hastmon` task, the background daemon's
 * re-exec, the guard's spawn and the test harness.
 *
 * V8's memory reducer runs garbage collections on timers after each burst of
 * allocation; a daemon wakes for a heartbeat every interval, so it never rests:
 * without the reducer an idle daemon's CPU fell from 0.30–0.53 % to
 * 0.15–0.28 % at heartbeat_interval = 10 (docs/BENCHMARKS.md). Ordinary
 * allocation-driven collections still bound the heap.
 */
export const DAEMON_DENO_FLAGS: readonly string[] = ["--v8-flags=--no-memory-reducer"];
