/**
 * A stranger's flood as a process of its own (see `flood` in hostile.ts):
 * `deno run -A flood_process.ts '<FloodOptions as JSON>'` holds the
 * connections until its stdin is closed, then prints how many connects it made.
 */
import { floodHere, type FloodOptions } from "./hostile.ts";

if (import.meta.main) {
  const options = JSON.parse(Deno.args[0]) as FloodOptions;
  const stop = new AbortController();
  const flooding = floodHere({ ...options, signal: stop.signal });
  // The parent closes our stdin to stop us (or dies, which closes it too).
  for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  stop.abort();
  console.log(await flooding);
}
