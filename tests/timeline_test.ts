/** The service-timeline checker: it must pass a clean handover and FAIL on any overlap. */
import { assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  activeAtEnd,
  activeIntervals,
  assertNeverTwoActive,
  parseTimeline,
} from "./cluster/timeline.ts";
import { spawnsInLog } from "./cluster/harness.ts";

const HANDOVER = `
1700000000.100000000 a r0 begin 1
1700000000.150000000 a r0 up 4242
1700000005.000000000 a r0 end
1700000005.000000001 b r0 begin 2
1700000005.050000000 b r0 up 4243
`;

Deno.test("timeline: a clean handover passes; b is still active at the end", () => {
  const events = parseTimeline(HANDOVER);
  assertNeverTwoActive(events);
  const ivs = activeIntervals(events);
  assertEquals(ivs.map((i) => [i.node, i.to === Infinity]), [["a", false], ["b", true]]);
  assertEquals(ivs[0].to - ivs[0].from, 4900);
  assertEquals(activeAtEnd(events, "r0"), ["b"]);
});

Deno.test("timeline: the checker FAILS when b begins before a's stop has ended", async () => {
  // b's start begins 1 ms before a's stop saw the service dead.
  const overlapping = parseTimeline(`
1700000000.100000000 a r0 begin 1
1700000004.999000000 b r0 begin 2
1700000005.000000000 a r0 end
1700000009.000000000 b r0 end
`);
  const err = await assertRejects(() => assertNeverTwoActive(overlapping), "two nodes active");
  assertStringIncludes(err.message, "r0: a active +0.0000s..+4.9000s and b active +4.8990s");
});

Deno.test("timeline: a service never stopped stays active forever; died closes it", async () => {
  const neverStopped = parseTimeline(`
1700000000.000000000 a r0 begin 1
1700000100.000000000 b r0 begin 2
`);
  await assertRejects(() => assertNeverTwoActive(neverStopped), "(still)");
  // The harness killed a's service and saw it dead: then b may start.
  assertNeverTwoActive(parseTimeline(`
1700000000.000000000 a r0 begin 1
1700000050.000000000 a r0 died
1700000100.000000000 b r0 begin 2
`));
});

Deno.test("timeline: resources are independent; a retried start does not reopen", async () => {
  assertNeverTwoActive(parseTimeline(`
1700000000.000000000 a r0 begin 1
1700000000.000000000 b r1 begin 1
1700000001.000000000 a r0 begin 1
1700000002.000000000 a r0 end
1700000003.000000000 b r0 begin 2
`));
  // Same node twice is not an overlap, but a stop-noop does not close anything.
  const stillUp = parseTimeline(`
1700000000.000000000 a r0 begin 1
1700000001.000000000 a r0 stop-noop
1700000002.000000000 b r0 begin 2
`);
  await assertRejects(() => assertNeverTwoActive(stillUp), "two nodes active");
});

Deno.test("timeline: lines out of order are sorted; a malformed line is an error", async () => {
  const events = parseTimeline(
    "1700000002.5 b r0 begin 2\n1700000001 a r0 begin 1\n1700000002 a r0 end\n",
  );
  assertEquals(events.map((e) => e.node), ["a", "a", "b"]);
  assertNeverTwoActive(events);
  await assertRejects(() => parseTimeline("yesterday a r0 begin\n"), "malformed");
});

Deno.test("timeline: the daemon's own record of a start opens the interval before the hook's begin", async () => {
  // b decided to start (its log) before a's stop ended; its hook wrote `begin` only after.
  const log = [
    "2023-11-14T22:13:24.990Z [INFO] [r0] starting (attempt 1 of 5)",
    "2023-11-14T22:13:25.100Z [INFO] [r0] start finished; waiting for status to confirm",
  ].join("\n");
  const events = [
    ...parseTimeline(`
1700000000.100000000 a r0 begin 1
1700000005.000000000 a r0 end
1700000005.001000000 b r0 begin 2
`),
    ...spawnsInLog("b", log),
  ].sort((x, y) => x.t - y.t);
  assertEquals(events.filter((e) => e.kind === "spawn").map((e) => e.t), [1700000004990]);
  await assertRejects(() => assertNeverTwoActive(events), "two nodes active");
});
