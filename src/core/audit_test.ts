/**
 * Tests from the mutation audit (scripts/mutants.ts): each pins a rule that a
 * small wrong change of the core broke without any other test noticing. The
 * mutant each one kills is named in its title.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { takeoverWaitMs } from "./machine.ts";
import type { ClusterNode, Effect, ResourceSettings } from "./types.ts";
import {
  ack,
  clusterNode,
  complaintFromW,
  finish,
  grantFrom,
  hb,
  hooks,
  I,
  make,
  ofType,
  run,
  service,
} from "./test_helpers.ts";

/** Settings over a cluster of `nodes`, seen from `self`. */
function cluster(self: string, nodes: ClusterNode[], over: Partial<ResourceSettings> = {}) {
  return {
    nodes,
    peers: nodes.map((n) => n.name).filter((n) => n !== self),
    priority: nodes.find((n) => n.name === self)!.priority,
    ...over,
  };
}

const node = clusterNode;

/**
 * Secondary b with the old primary a configured as `a`; a heard at 0, then
 * silent; five complaints from w. Returns when b took over (ticks every 100 ms).
 */
function takeoverTime(a: Partial<ClusterNode>): { at: number | null; waitMs: number } {
  const nodes = [node("a", 10, a), node("b", 20), node("w", 30, { watchdog: true })];
  const { m } = make("b", cluster("b", nodes, { roleOnStart: "secondary" }));
  run(m, { type: "message", now: 0, from: "a", msg: hb() });
  const waitMs = takeoverWaitMs(m);
  for (let t = 100; t <= 15 * I; t += 100) {
    // w complains every second from 3 s on (it stopped seeing a at 2 s).
    if (t >= 3 * I && t <= 7 * I && t % I === 0) run(m, complaintFromW(t, t));
    else run(m, { type: "tick", now: t });
    if (m.role === "primary") return { at: t, waitMs };
  }
  return { at: null, waitMs };
}

Deno.test("takeover-wait-own-only: the takeover waits out the longer lease the configuration gives the old primary", () => {
  // b's own lease is 3 s (hold 5.4 s); a's section gives it 6 s: (6 + 1) × 1.1 + 1 = 8.7 s.
  const { at, waitMs } = takeoverTime({ leaseMs: 6 * I });
  assertEquals(waitMs, 8700);
  assertEquals(at, 8800, "the first tick after 8.7 s of silence, not after b's own 5.4 s");
});

Deno.test("takeover-stop-own-only: the takeover waits out the longer stop bound the configuration gives the old primary", () => {
  // a's stop bound is 4 s: (3 + 4) × 1.1 + 1 = 8.7 s, not b's own (3 + 1) × 1.1 + 1 = 5.4 s.
  const { at, waitMs } = takeoverTime({ stopTimeoutMs: 4 * I });
  assertEquals(waitMs, 8700);
  assertEquals(at, 8800);
});

Deno.test("complaints-kept-on-reconnect: complaints received before the primary was heard again do not count after", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "a", msg: hb() });
  // a silent from 0: three complaints (one short of the threshold of more than 3).
  for (const t of [1000, 2000]) run(m, { type: "tick", now: t });
  for (const t of [3000, 4000, 5000]) run(m, complaintFromW(t, t));
  assertEquals(m.complaints.length, 3);
  // a is heard again at 5.5 s (a short partition healed): those complaints are void.
  run(m, { type: "message", now: 5500, from: "a", msg: hb({ seq: 2 }) });
  assertEquals(m.complaints.length, 0);
  // a goes silent again; one complaint is far from enough, however long the silence.
  for (const t of [6500, 7500]) run(m, { type: "tick", now: t });
  run(m, complaintFromW(8000, 2500)); // w saw a running until 5.5 s
  for (let t = 9000; t <= 12 * I; t += 500) run(m, { type: "tick", now: t });
  assertEquals(m.role, "secondary", "one complaint since a was last heard, not four");
});

Deno.test("no-better-claimant-check: a granter stops renewing its holder once a better claimant waits", () => {
  const { m: w } = make("w", { roleOnStart: "watchdog" });
  let fx = run(w, { type: "message", now: 0, from: "a", msg: hb({ seq: 1, epoch: 1 }) });
  assertEquals(ack(fx).granted, true);
  const until = w.grant!.until;
  // b claims epoch 2 (an operator's `role primary`; a and b cannot hear each other).
  fx = run(w, { type: "message", now: 100, from: "b", msg: hb({ seq: 1, epoch: 2 }) });
  assertEquals([ack(fx).granted, ack(fx).holder?.node], [false, "a"]);
  // a's renewal is refused, naming b: a yields on hearing it, and b gets the next grant.
  fx = run(w, { type: "message", now: 1000, from: "a", msg: hb({ seq: 2, epoch: 1 }) });
  assertEquals([ack(fx).granted, ack(fx).holder?.node], [false, "b"]);
  assertEquals(w.grant!.until, until, "a's current lease stays honoured, not extended");
  // Once that hold is over, b is granted.
  fx = run(w, { type: "message", now: until + 1, from: "b", msg: hb({ seq: 2, epoch: 2 }) });
  assertEquals(ack(fx).granted, true);
});

Deno.test("handover-to-anyone: a release naming another node does not promote this one", () => {
  const nodes = [
    node("a", 10),
    node("b", 20),
    node("c", 25),
    node("w", 30, { watchdog: true }),
  ];
  const { m } = make("b", cluster("b", nodes, { roleOnStart: "secondary" }));
  run(m, { type: "message", now: 0, from: "a", msg: hb({ epoch: 1 }) });
  // `role secondary --to c` on a: its release names c.
  const release = (successor: string) => ({
    type: "message" as const,
    now: 100,
    from: "a",
    msg: { type: "release" as const, resource: "r", epoch: 1, successor },
  });
  const fx = run(m, release("c"));
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition"), []);
  // The same release naming b promotes b at once.
  const { m: b2 } = make("b", cluster("b", nodes, { roleOnStart: "secondary" }));
  run(b2, { type: "message", now: 0, from: "a", msg: hb({ epoch: 1 }) });
  run(b2, release("b"));
  assertEquals(b2.role, "primary");
});

Deno.test("fenced-voids-any-grant: a fence report voids only a grant to the fenced node at or below the fenced epoch", () => {
  // w honours b (which took over from a): a report that a was fenced leaves it alone.
  const { m: w } = make("w", { roleOnStart: "watchdog" });
  run(w, { type: "message", now: 0, from: "b", msg: hb({ epoch: 2 }) });
  run(w, {
    type: "message",
    now: 100,
    from: "b",
    msg: { type: "fenced", resource: "r", epoch: 2, node: "a", nodeEpoch: 1 },
  });
  assertEquals(w.grant?.holder.node, "b");
  // ...so a, back and claiming, is refused while b's lease is held.
  let fx = run(w, { type: "message", now: 200, from: "a", msg: hb({ epoch: 3 }) });
  assertEquals([ack(fx).granted, ack(fx).holder?.node], [false, "b"]);
  // w honours a at epoch 3; a late report that a was fenced at epoch 1 is about an older a.
  const { m: w2 } = make("w", { roleOnStart: "watchdog" });
  run(w2, { type: "message", now: 0, from: "a", msg: hb({ epoch: 3 }) });
  run(w2, {
    type: "message",
    now: 100,
    from: "b",
    msg: { type: "fenced", resource: "r", epoch: 2, node: "a", nodeEpoch: 1 },
  });
  assertEquals(w2.grant?.holder, { node: "a", epoch: 3, priority: 10 });
  fx = run(w2, { type: "message", now: 200, from: "b", msg: hb({ epoch: 4 }) });
  assertEquals(ack(fx).granted, false);
});

Deno.test("stale-probe-counts: a probe that began before a stop does not decide the state after it", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  grantFrom(m, "w", 10); // lease until 3 s
  finish(m, [], "status", 20, 0);
  assertEquals(service(m), "running");
  // The next probe is out when the lease runs out: the stop makes it stale.
  let fx = run(m, { type: "tick", now: 1100 });
  const probe = ofType(fx, "hook").find((h) => h.method === "status")!;
  assert(probe, "a probe at 1.1 s");
  fx = run(m, { type: "tick", now: 3 * I });
  assertEquals([m.role, hooks(fx).includes("stop")], ["secondary", true]);
  fx = finish(m, fx, "stop", 3100, 0);
  assertEquals(service(m), "stopped");
  // The probe answers "running" (as it was when it began): that says nothing of now.
  fx = run(m, {
    type: "hook_done",
    now: 3200,
    id: probe.id,
    method: "status",
    outcome: { kind: "exit", code: 0 },
  });
  assertEquals(service(m), "stopped");
  assertEquals(hooks(fx).includes("stop"), false, "no second stop for a stale answer");
});

Deno.test("lease-from-best-grant: with five nodes the lease ends with the quorum's grant, not the latest one", () => {
  const nodes = [
    node("a", 10),
    node("b", 20),
    node("c", 25),
    node("d", 26),
    node("w", 30, { watchdog: true }),
  ];
  // Quorum 3 of 5: a's own vote and two peers'.
  const { m } = make("a", cluster("a", nodes, { roleOnStart: "primary" }));
  grantFrom(m, "b", 10, 1); // asked at 0: good until 3 s
  assertEquals(m.leaseUntil, null, "one peer is not a quorum");
  // Without a lease a asks every quarter interval: request 2 at 250 ms, granted by c only.
  let fx: Effect[] = run(m, { type: "tick", now: 250 });
  assertEquals(m.seq, 2);
  grantFrom(m, "c", 300, 2);
  // b honours a only on its grant to request 1: the quorum {a, b, c} holds until 3 s.
  assertEquals(m.leaseUntil, 3 * I);
  fx = run(m, { type: "tick", now: 3 * I });
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause.kind, "self_fence");
});
