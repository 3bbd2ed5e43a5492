import { assert, assertEquals } from "../../tests/assert.ts";
import { SpawnQueue } from "./spawn_queue.ts";
import type { HookEffect } from "../core/types.ts";

const turn = () => new Promise((r) => setTimeout(r, 20));

Deno.test("spawn queue: stops first, then the probes a start waits on, then starts, routine probes, notifications", async () => {
  const q = new SpawnQueue();
  const order: string[] = [];
  const push = (name: string, hook: Pick<HookEffect, "method" | "deferrableMs">) =>
    q.push(hook, (spawned) => {
      order.push(name);
      spawned();
    });
  // Queued in the order a start of many resources makes them, all before one turn.
  push("notify", { method: "role" });
  push("routine probe", { method: "status", deferrableMs: 10_000 });
  push("start", { method: "start" });
  push("confirming probe", { method: "status" });
  push("monitor_start", { method: "monitor_start" });
  push("stop", { method: "stop" });
  push("monitor_check", { method: "monitor_check" });
  push("panic", { method: "panic" });
  assertEquals(q.waiting, 8);
  await turn();
  assertEquals(order, [
    "stop",
    "panic",
    "confirming probe",
    "monitor_check",
    "start",
    "monitor_start",
    "routine probe",
    "notify",
  ]);
  assertEquals(q.waiting, 0);
  assertEquals(q.oldestWaitMs(), 0);
});

Deno.test("spawn queue: how long the oldest waits leaves notifications out", async () => {
  const q = new SpawnQueue();
  q.push({ method: "complain" }, (spawned) => spawned());
  assertEquals(q.oldestWaitMs(), 0, "a notification waits behind the others by design");
  q.push({ method: "status", deferrableMs: 1000 }, (spawned) => spawned());
  const until = performance.now() + 3;
  while (performance.now() < until) { /* the probe waits (no turn of the event loop) */ }
  assertEquals(q.oldestWaitMs() >= 3, true, "a routine probe's wait counts");
  await turn();
  assertEquals(q.waiting, 0);
});

/** A queue on a clock the test moves; each spawn may take some of it (a slow spawn). */
function onClock(agedMs: number) {
  const clock = { t: 0 };
  const q = new SpawnQueue(agedMs, () => clock.t);
  const order: string[] = [];
  const push = (name: string, hook: Pick<HookEffect, "method" | "deferrableMs">, costMs = 0) =>
    q.push(hook, (spawned) => {
      order.push(name);
      clock.t += costMs;
      spawned();
    });
  return { clock, q, order, push };
}

Deno.test("spawn queue: a rank that has waited long takes a turn first in a slice, and keeps its place", async () => {
  const { clock, order, push } = onClock(1000);
  for (let i = 1; i <= 3; i++) push(`start${i}`, { method: "start" });
  push("routine probe", { method: "status", deferrableMs: 10_000 });
  clock.t += 1000; // they have waited a second
  // A stream of probes that starts wait on would otherwise go first for ever; and the
  // probes a start waits on still go before the starts that waited.
  push("confirming probe", { method: "status" });
  push("stop", { method: "stop" });
  await turn();
  assertEquals(order, [
    "stop",
    "start1",
    "confirming probe",
    "start2",
    "start3",
    "routine probe",
  ]);
});

Deno.test("spawn queue: with slow spawns, aged ranks still take turns (no rank starves)", async () => {
  const { clock, order, push } = onClock(1000);
  // Spawns of 10 ms: one a slice. Probes that things wait on keep coming; a start and a
  // routine probe have waited over a second.
  push("start", { method: "start" }, 10);
  push("routine probe", { method: "status", deferrableMs: 10_000 }, 10);
  clock.t += 1000;
  for (let i = 0; i < 6; i++) push(`confirm${i}`, { method: "status" }, 10);
  clock.t += 1000; // the confirmations have waited too, now
  for (let i = 0; i < 8 && order.length < 8; i++) await turn();
  assert(order.slice(0, 4).includes("start"), `the start within four slices: ${order}`);
  assert(order.slice(0, 4).includes("routine probe"), `the routine probe too: ${order}`);
});

Deno.test("spawn queue: at most two spawns under way, stops aside; the next goes, in rank order, when one is over", async () => {
  const q = new SpawnQueue();
  const begun: string[] = [];
  const over = new Map<string, () => void>();
  const push = (name: string, hook: Pick<HookEffect, "method" | "deferrableMs">) =>
    q.push(hook, (spawned) => {
      begun.push(name);
      over.set(name, spawned);
    });
  for (let i = 1; i <= 3; i++) push(`start${i}`, { method: "start" });
  await turn();
  assertEquals(begun, ["start1", "start2"]);
  push("stop", { method: "stop" });
  push("probe", { method: "status" });
  await turn();
  assertEquals(begun, ["start1", "start2", "stop"], "a stop does not wait for a place");
  over.get("start1")!();
  over.get("start1")!(); // said twice: counted once
  await turn();
  assertEquals(begun, ["start1", "start2", "stop"], "the stop counts among those under way");
  over.get("stop")!();
  await turn();
  assertEquals(begun, ["start1", "start2", "stop", "probe"]);
  over.get("start2")!();
  await turn();
  assertEquals(begun, ["start1", "start2", "stop", "probe", "start3"]);
  over.get("probe")!();
  over.get("start3")!();
  await turn();
  assertEquals(q.waiting, 0);
});
