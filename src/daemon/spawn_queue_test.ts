import { assertEquals } from "../../tests/assert.ts";
import { SpawnQueue } from "./spawn_queue.ts";
import type { HookEffect } from "../core/types.ts";

const turn = () => new Promise((r) => setTimeout(r, 20));

Deno.test("spawn queue: stops first, then the probes a start waits on, then starts, routine probes, notifications", async () => {
  const q = new SpawnQueue();
  const order: string[] = [];
  const push = (name: string, hook: Pick<HookEffect, "method" | "deferrableMs">) =>
    q.push(hook, () => void order.push(name));
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
  q.push({ method: "complain" }, () => {});
  assertEquals(q.oldestWaitMs(), 0, "a notification waits behind the others by design");
  q.push({ method: "status", deferrableMs: 1000 }, () => {});
  const until = performance.now() + 3;
  while (performance.now() < until) { /* the probe waits (no turn of the event loop) */ }
  assertEquals(q.oldestWaitMs() >= 3, true, "a routine probe's wait counts");
  await turn();
  assertEquals(q.waiting, 0);
});

Deno.test("spawn queue: a rank that has waited long gets a spawn in every slice, and keeps its place", async () => {
  const q = new SpawnQueue(5);
  const order: string[] = [];
  const push = (name: string, hook: Pick<HookEffect, "method" | "deferrableMs">) =>
    q.push(hook, () => void order.push(name));
  for (let i = 1; i <= 3; i++) push(`start${i}`, { method: "start" });
  push("routine probe", { method: "status", deferrableMs: 10_000 });
  const until = performance.now() + 10;
  while (performance.now() < until) { /* they wait past agedMs (no turn of the event loop) */ }
  // A stream of probes that starts wait on would otherwise go first for ever; and the
  // probes a start waits on still go before the starts that waited.
  push("confirming probe", { method: "status" });
  push("stop", { method: "stop" });
  await turn();
  assertEquals(order, [
    "stop",
    "start1",
    "routine probe",
    "confirming probe",
    "start2",
    "start3",
  ]);
});
