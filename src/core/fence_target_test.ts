/**
 * A fence's success counts for the node it was run against, and only while
 * that node is still the last primary known. (Found by the mutation audit:
 * b fences a; meanwhile c takes over and b hears it; the fence of a then
 * succeeds; c falls silent (a partition, not a fence). b must wait out c's
 * hold, and must not tell the granters that it fenced c.)
 */
import { assertEquals } from "../../tests/assert.ts";
import type { ClusterNode, Message } from "./types.ts";
import {
  clusterNode,
  complaintFromW,
  finish,
  hb,
  hooks,
  I,
  make,
  ofType,
  run,
} from "./test_helpers.ts";

const node = (name: string, priority: number, watchdog = false, leaseMs = 3 * I): ClusterNode =>
  clusterNode(name, priority, { watchdog, leaseMs });

Deno.test("a fence of a is no fence of c, the primary heard after it began", () => {
  const nodes = [node("a", 10), node("b", 20), node("c", 25, false, 6 * I), node("w", 30, true)];
  const { m } = make("b", {
    nodes,
    peers: ["a", "c", "w"],
    priority: 20,
    roleOnStart: "secondary",
    hasFence: true,
  });
  finish(m, [], "status", 5, 1); // b's own copy is stopped
  run(m, { type: "message", now: 10, from: "a", msg: hb({ epoch: 1 }) });
  for (const t of [1000, 2000]) run(m, { type: "tick", now: t });
  // a is silent from 10 ms: four complaints, and b (best placed) runs fence a.
  let fx: ReturnType<typeof run> = [];
  for (const t of [2100, 2200, 2300, 2400]) fx = [...fx, ...run(m, complaintFromW(t, t - 10))];
  assertEquals(hooks(fx).includes("fence"), true);
  const fence = ofType(fx, "hook").find((h) => h.method === "fence")!;
  assertEquals(fence.args, ["a"]);
  // c took over meanwhile (it fenced a faster, granted by w): b hears it as primary.
  for (const t of [3000, 4000]) {
    run(m, { type: "message", now: t, from: "c", msg: hb({ epoch: 2, seq: t }) });
  }
  assertEquals([m.lastPrimary, m.complaints.length], ["c", 0]);
  // The fence of a succeeds after c's last heartbeat; c is cut off from here on.
  run(m, {
    type: "hook_done",
    now: 4500,
    id: fence.id,
    method: "fence",
    outcome: { kind: "exit", code: 0 },
  });
  fx = [];
  // (c's section gives it a 6 s lease: its hold is (6 + 1) x 1.1 + 1 = 8.7 s.)
  for (let t = 5000; t <= 10000; t += 1000) {
    fx = [
      ...fx,
      ...(t >= 6000 ? run(m, complaintFromW(t, t - 4000)) : run(m, { type: "tick", now: t })),
    ];
  }
  // At 10 s c has been silent 6 s, less than its hold (8.7 s): nothing may void its lease yet.
  const reports = ofType(fx, "send").filter((s) => s.msg.type === "fenced");
  assertEquals(
    reports.map((s) => (s.msg as Message & { type: "fenced" }).node),
    [],
    "c was never fenced",
  );
  assertEquals(m.role, "secondary", "b must wait out c's hold");
});
