/**
 * Leases under what the shared configuration allows: grants capped by the
 * claimant's configured numbers, acks credited with what was asked with that
 * very request, epochs bounded, fences voiding a lease, and a state file that
 * cannot be trusted.
 */
import { emptyPolicy } from "./policy.ts";
import { assert, assertEquals } from "../../tests/assert.ts";
import { createMachine, step, wakeAt } from "./machine.ts";
import { MAX_EPOCH } from "./types.ts";
import {
  ack,
  complaintFromW,
  finish,
  grantFrom,
  hb,
  hooks,
  I,
  make,
  ofType,
  run,
  settings,
} from "./test_helpers.ts";

Deno.test("a granter caps a claimant's lease and stop bound by the configuration, and says so", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  // a is configured with a 3 s lease and a 1 s stop bound; it asks for 30 s and 10 s.
  const fx = run(m, {
    type: "message",
    now: 100,
    from: "a",
    msg: hb({ leaseMs: 30 * I, stopTimeoutMs: 10 * I }),
  });
  assertEquals([ack(fx).granted, ack(fx).leaseMs, ack(fx).stopTimeoutMs], [true, 3 * I, I]);
  // The hold is the configured one: (3 + 1) × 1.1 + 1 = 5.4 s.
  assertEquals(m.grant!.until, 100 + 5400);
});

Deno.test("a primary credits a grant with what it asked for with that request, not with today's settings", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  const seq = m.seq; // asked with a 3 s lease at time 0
  // A reload doubles the lease (complaint_count 6) while the request is in flight.
  run(m, {
    type: "reconfigure",
    now: 50,
    settings: settings("a", { roleOnStart: "primary", complaintCount: 6 }),
  });
  grantFrom(m, "w", 100, seq, 6 * I);
  assertEquals(m.leaseUntil, 3 * I, "credited with the 3 s asked for at time 0");
});

Deno.test("a primary whose stop bound exceeds what the granter holds for shortens its lease by the difference", () => {
  const { m } = make("a", { roleOnStart: "primary", stopTimeoutMs: 2 * I });
  grantFrom(m, "w", 100, m.seq, 3 * I, I);
  // The granter covers a 1 s stop; ours takes up to 2 s: stop 1 s earlier.
  assertEquals(m.leaseUntil, 2 * I);
});

Deno.test("a node configured as a watchdog never gets a lease, whatever it says", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  // b's own copy is stopped: nothing else stands in the way of a grant.
  finish(m, [], "status", 5, 1);
  const fx = run(m, { type: "message", now: 10, from: "w", msg: hb({ role: "primary" }) });
  assertEquals(ack(fx).granted, false);
  assertEquals(ack(fx).reason, "w is configured as a watchdog");
  assert(m.grant === null);
  // A claimant that may have it is granted: the refusal above was for w being a watchdog.
  const fx2 = run(m, { type: "message", now: 20, from: "a", msg: hb({ role: "primary" }) });
  assertEquals(ack(fx2).granted, true);
});

Deno.test("complaints count only from configured watchdogs, whatever role a peer claims", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  // a says it is a watchdog; its complaints still do not count.
  run(m, { type: "message", now: 0, from: "a", msg: hb({ role: "watchdog" }) });
  for (const t of [2000, 3000, 4000, 5000, 6000]) {
    run(m, {
      type: "message",
      now: t,
      from: "a",
      msg: { type: "complaint", resource: "r", epoch: 1, reason: "x", primary: null, silenceMs: t },
    });
  }
  assertEquals(m.complaints.length, 0);
  run(m, complaintFromW(7000, 7000));
  assertEquals(m.complaints.length, 1);
});

Deno.test("an epoch above the maximum is ignored, and no node promotes past it", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  const fx = run(m, { type: "message", now: 10, from: "a", msg: hb({ epoch: MAX_EPOCH + 1 }) });
  assertEquals(m.maxEpoch, 0);
  assert(ofType(fx, "log").some((l) => l.message.includes("above the maximum")));
  // At the maximum, a promotion is refused rather than wrapping or overflowing.
  const top = make("b", { roleOnStart: "secondary" }, {
    role: "secondary",
    epoch: MAX_EPOCH,
    maxEpoch: MAX_EPOCH,
    grantHolder: null,
    grantHoldMs: null,
    policy: emptyPolicy(),
  }).m;
  const out = run(top, { type: "command", now: 10, command: { role: "primary" } });
  assertEquals(top.role, "secondary");
  assert(ofType(out, "log").some((l) => l.level === "error" && l.message.includes("epoch")));
});

Deno.test("a state file that could not be trusted: nothing granted and nothing started for the longest hold", () => {
  const { machine: m, effects } = createMachine(
    settings("a", { roleOnStart: "primary" }),
    0,
    "invalid",
  );
  assert(ofType(effects, "log").some((l) => l.message.includes("state file unusable")));
  // Asked by b for a lease: refused while the quarantine lasts (5.4 s).
  let fx = step(m, { type: "message", now: 100, from: "b", msg: hb({ role: "primary" }) });
  assertEquals(ack(fx).granted, false);
  // With a grant in hand, still no start.
  grantFromAt(m, 200);
  fx = step(m, {
    type: "hook_done",
    now: 300,
    id: m.members[0].probe!.id,
    method: "status",
    outcome: { kind: "exit", code: 1 },
  });
  assertEquals(hooks(fx).includes("start"), false);
  // The machine wakes when the quarantine ends.
  assert(wakeAt(m) <= 5400);
});

function grantFromAt(m: Parameters<typeof grantFrom>[0], now: number) {
  return step(m, {
    type: "message",
    now,
    from: "w",
    msg: {
      type: "ack",
      resource: "r",
      epoch: m.epoch,
      role: "watchdog",
      state: "unknown",
      seq: m.seq,
      granted: true,
      leaseMs: 3 * I,
      stopTimeoutMs: I,
    },
  });
}

Deno.test("a persisted grant keeps the hold it was given, so a restarted granter honours all of it", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  const fx = run(m, { type: "message", now: 0, from: "a", msg: hb() });
  const persisted = ofType(fx, "persist").at(-1)!.state;
  assertEquals(persisted.grantHoldMs, 5400);
  assertEquals(persisted.grantHolder?.node, "a");
});

Deno.test("a secondary that fenced the old primary tells the granters, which void its lease at once", () => {
  // The granter w honours a's lease...
  const { m: w } = make("w", { roleOnStart: "watchdog" });
  run(w, { type: "message", now: 0, from: "a", msg: hb({ epoch: 1 }) });
  assertEquals(w.grant?.holder.node, "a");
  // ...until b reports that it fenced a: then b gets a grant at once.
  run(w, {
    type: "message",
    now: 100,
    from: "b",
    msg: { type: "fenced", resource: "r", epoch: 2, node: "a", nodeEpoch: 1 },
  });
  assertEquals(w.grant, null);
  const fx = run(w, { type: "message", now: 110, from: "b", msg: hb({ epoch: 2 }) });
  assertEquals(ack(fx).granted, true);
  // A watchdog cannot make such a report.
  const { m: b } = make("b", { roleOnStart: "secondary" });
  finish(b, [], "status", 5, 1); // b's own copy is stopped: it may grant
  run(b, { type: "message", now: 10, from: "a", msg: hb({ epoch: 1 }) });
  run(b, {
    type: "message",
    now: 100,
    from: "w",
    msg: { type: "fenced", resource: "r", epoch: 1, node: "a", nodeEpoch: 1 },
  });
  assertEquals(b.grant?.holder.node, "a");
});

Deno.test("a fenced takeover does not wait out the lease: the fence, then the report, then the promotion", () => {
  const { m } = make("b", { roleOnStart: "secondary", hasFence: true });
  run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog" }) });
  run(m, { type: "message", now: 10, from: "a", msg: hb() });
  let fx: ReturnType<typeof run> = [];
  run(m, { type: "tick", now: 1000 }); // a live daemon wakes every interval
  run(m, { type: "tick", now: 2000 });
  // a is no longer heard after 2.01 s (one interval and a timeout).
  for (const t of [2100, 2200, 2300, 2400]) fx = [...fx, ...run(m, complaintFromW(t, t - 10))];
  assertEquals(hooks(fx).includes("fence"), true, "the fence runs while the lease is waited out");
  assertEquals(m.role, "secondary");
  fx = finish(m, fx, "fence", 2450, 0);
  assertEquals(m.role, "primary");
  const sends = ofType(fx, "send").map((s) => s.msg.type);
  assert(sends.indexOf("fenced") < sends.indexOf("heartbeat"), sends.join(","));
  assertEquals(ofType(fx, "transition")[0].cause.kind, "takeover");
});

Deno.test("a node told that it was fenced (it was not, after all) stops its service", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  grantFrom(m, "w", 10);
  const fx = run(m, {
    type: "message",
    now: 100,
    from: "b",
    msg: { type: "fenced", resource: "r", epoch: 2, node: "a", nodeEpoch: 1 },
  });
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause, { kind: "fenced_by", node: "b" });
});

Deno.test("a quarantine outlives a restart: the state written during it carries what is left of it", () => {
  // A watchdog whose state could not be trusted changes role at once, and so writes a state
  // (epoch 0, no grant). Restarted from that state within the quarantine, it must not grant.
  const s = settings("w", { roleOnStart: "watchdog" });
  const first = createMachine(s, 0, "invalid");
  const written = ofType(first.effects, "persist").at(-1)?.state;
  assert(written !== undefined, "no state written at the start");
  const again = createMachine(s, 1000, written);
  const fx = step(again.machine, {
    type: "message",
    now: 1100,
    from: "a",
    msg: hb({ role: "primary" }),
  });
  assertEquals(ack(fx).granted, false, "granted within the quarantine after a restart");
  // It ends when the first would have ended, counted from the restart: never sooner.
  const longest = first.machine.quarantineUntil;
  assert(again.machine.quarantineUntil >= 1000 + longest, `${again.machine.quarantineUntil}`);
  // Written once the quarantine is over, a state carries none.
  const later = step(again.machine, {
    type: "command",
    now: 1000 + longest + 1,
    command: { role: "init" },
  });
  const last = ofType(later, "persist").at(-1)?.state;
  assertEquals(last?.quarantineMs ?? null, null);
});

Deno.test("a granter grants no new holder while another node says its service still runs there (stopping, or its stop failed); the holder's renewals go on; a release clears it", () => {
  const { m: w } = make("w", { roleOnStart: "watchdog" });
  // a stepped down and its stop failed: it says so with every heartbeat.
  const fromA = (now: number, state: string, seq: number) =>
    run(w, {
      type: "message",
      now,
      from: "a",
      msg: hb({ role: "secondary", state, seq } as never),
    });
  fromA(0, "stop_failed", 1);
  const claim = (now: number, seq: number) =>
    ack(run(w, { type: "message", now, from: "b", msg: hb({ epoch: 2, seq }) }));
  assertEquals(claim(100, 1).granted, false);
  assertEquals(claim(100, 2).reason, "a says the service is stop_failed there");
  // Retried, the stop is under way again: still not.
  fromA(1000, "stopping", 2);
  assertEquals(claim(1100, 3).reason, "a says the service is stopping there");
  // The stop succeeded: a's release (sent once it stopped) lets b have it at once.
  run(w, {
    type: "message",
    now: 1200,
    from: "a",
    msg: { type: "release", resource: "r", epoch: 1, successor: "b" },
  });
  assertEquals(claim(1300, 4).granted, true);
  // The holder renews whatever another node says (a failed stop of a node that is not primary
  // must not take the service down where it runs).
  fromA(2000, "stop_failed", 3);
  assertEquals(claim(2100, 5).granted, true);
});
