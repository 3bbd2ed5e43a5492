import { assert } from "../../tests/assert.ts";
import { guardSlackMs, holdMs } from "./timing.ts";

Deno.test("timing: the guard's stop ends inside the peers' hold, half a timeout to spare, whatever the timeout", () => {
  for (const timeout of [1, 10, 250, 1000, 5000]) {
    const lease = 3000, stop = 1000;
    // Lease end, then the guard's slack, then one stop_timeout for every member's stop.
    const guardDone = lease + guardSlackMs(timeout) + stop;
    assert(holdMs(lease, stop, 0, timeout) - guardDone >= timeout / 2, `timeout ${timeout}`);
  }
});
