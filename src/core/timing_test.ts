import { assert, assertEquals } from "../../tests/assert.ts";
import { guardReadFirstMs, guardSlackMs, holdMs } from "./timing.ts";

Deno.test("timing: the guard acts within the hold, its read of the pipe included, whatever the timeout", () => {
  for (const timeout of [1, 4, 10, 20, 250, 1000, 5000]) {
    const slack = guardSlackMs(timeout);
    const readFirst = guardReadFirstMs(slack);
    assert(readFirst <= 5, "5 ms at most");
    // Lease end + slack + read-first, then one stop_timeout: inside the peers' hold (skew 0),
    // with a quarter of the timeout at least left for the guard's own lateness.
    const lease = 3000, stop = 1000;
    const guardDone = lease + slack + readFirst + stop;
    assert(holdMs(lease, stop, 0, timeout) - guardDone >= timeout / 4, `timeout ${timeout}`);
  }
  assertEquals(guardReadFirstMs(guardSlackMs(5000)), 5);
  assertEquals(guardReadFirstMs(guardSlackMs(8)), 2);
});
