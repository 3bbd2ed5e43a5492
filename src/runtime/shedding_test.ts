/** The load bookkeeping: when a node sheds, and when it says so. */
import { assert, assertEquals } from "../../tests/assert.ts";
import { SHED_REPORT_MS, SHED_WINDOW_MS, Shedder } from "./shedding.ts";

Deno.test("shedding: three late wake-ups within the window start it, a window without ends it", () => {
  const s = new Shedder(0, 20, 500);
  assertEquals(s.observe(1000, 2000), null, "one late wake-up is a freeze");
  assertEquals(s.observe(2000, 100), null);
  assertEquals(s.observe(3000, 600), null);
  assertEquals(s.shedding(3000), false);
  const begin = s.observe(4000, 0, 900); // a hook waited 0.9 s to start
  assertEquals(begin?.level, "warning", "said when it begins");
  assertEquals(s.shedding(4000), true);
  assertEquals(s.status(4000, 2).lagMs, 2000);
  assertEquals(s.status(4000, 2).hookWaitMs, 900);
  assertEquals(s.settle(4000 + SHED_WINDOW_MS), null, "the window is not over yet");
  const end = s.settle(4001 + SHED_WINDOW_MS);
  assertEquals(end?.level, "info", "said when it ends");
  assertEquals(s.shedding(4001 + SHED_WINDOW_MS), false);
  // Three late ones spread wider than the window do not make an overload.
  const t = 100_000;
  s.observe(t, 600);
  s.observe(t + 6000, 600);
  assertEquals(s.observe(t + 12_000, 600), null);
  assertEquals(s.shedding(t + 12_000), false);
});

Deno.test("shedding: notifications within the budget run, beyond it are dropped and said at most every ten seconds", () => {
  const s = new Shedder(0, 5, 500);
  const ran = Array.from({ length: 8 }, () => s.takeNotification(0)).filter((x) => x).length;
  assertEquals(ran, 5, "the burst is the budget");
  const said = [s.dropped(0, "connect"), s.dropped(0, "connect"), s.dropped(1000, "role")];
  assertEquals(said.map((n) => n !== null), [true, false, false]);
  assert(s.takeNotification(200), "the budget refills (5 a second)");
  assert(s.dropped(SHED_REPORT_MS, "complain") !== null, "said again after ten seconds");
  assertEquals(s.status(SHED_REPORT_MS, 0).notificationsDropped, 4);
  // While shedding, no notification runs at all.
  for (const t of [20_000, 20_100, 20_200]) s.observe(t, 800);
  assertEquals(s.takeNotification(30_000), false);
});
