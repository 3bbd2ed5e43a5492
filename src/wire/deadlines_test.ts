import { assert, assertEquals } from "../../tests/assert.ts";
import { after, delay, pendingDeadlines, raceTimeout, settledSoon } from "./deadlines.ts";

Deno.test("deadlines fire in time order, never before their time", async () => {
  const fired: [number, number][] = [];
  const due: number[] = [];
  for (const ms of [60, 20, 40]) {
    // The due time as the caller sees it (the first timer of a process may take a while to set).
    const at = performance.now() + ms;
    due.push(at);
    after(ms, () => fired.push([at, performance.now()]));
  }
  await delay(150);
  assertEquals(fired.map(([at]) => at), [...due].sort((a, b) => a - b));
  for (const [at, firedAt] of fired) assert(firedAt >= at - 1, `due ${at}, fired at ${firedAt}`);
  assertEquals(pendingDeadlines(), { live: 0, queued: 0, armed: false });
});

Deno.test("a cleared deadline never fires; with none left no timer stays armed", async () => {
  let fired = 0;
  const cancels = [after(10, () => fired++), after(30, () => fired++)];
  assert(pendingDeadlines().armed);
  for (const cancel of cancels) cancel();
  assertEquals(pendingDeadlines(), { live: 0, queued: 0, armed: false });
  await delay(50);
  assertEquals(fired, 0);
});

Deno.test("an earlier deadline added after a later one still fires on time", async () => {
  const fired: string[] = [];
  const cancelLate = after(10_000, () => fired.push("late"));
  after(20, () => fired.push("early"));
  await delay(60);
  assertEquals(fired, ["early"]);
  cancelLate();
});

Deno.test("cleared deadlines under steady traffic do not pile up", () => {
  const keep = after(60_000, () => {});
  for (let i = 0; i < 10_000; i++) after(30_000 + i, () => {})();
  const { live, queued } = pendingDeadlines();
  assertEquals(live, 1);
  assert(queued <= 256, `${queued} cleared deadlines still queued`);
  keep();
});

Deno.test("raceTimeout: the value, or timeout; settledSoon: at once, or pending", async () => {
  assertEquals(await raceTimeout(Promise.resolve(7), 1000), 7);
  assertEquals(await raceTimeout(new Promise<number>(() => {}), 20), "timeout");
  assertEquals(await settledSoon(Promise.resolve("done"), "pending"), "done");
  assertEquals(await settledSoon(delay(20).then(() => "late"), "pending"), "pending");
  await delay(30);
  assertEquals(pendingDeadlines(), { live: 0, queued: 0, armed: false });
});

Deno.test("a NaN delay fires at once, as with setTimeout; an infinite one never", async () => {
  const fired: string[] = [];
  const never = after(Infinity, () => fired.push("never"));
  after(NaN, () => fired.push("nan"));
  await delay(20);
  assertEquals(fired, ["nan"]);
  never();
  assertEquals(pendingDeadlines(), { live: 0, queued: 0, armed: false });
});
