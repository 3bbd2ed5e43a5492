/**
 * Members in the core: start in order, stop in reverse within one deadline,
 * a partial start rolled back, the resource's state derived from its
 * members, and the guard kept in step by effects.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { type Machine, mayBeActive, wakeAt } from "./machine.ts";
import { nextProbeSlot, probePhase } from "./group.ts";
import type { Effect, GuardCommand } from "./types.ts";
import {
  complaintFromW,
  finish,
  grantFrom,
  history,
  hooks,
  I,
  make,
  members,
  ofType,
  run,
  service,
} from "./test_helpers.ts";

/** A primary with a lease and three members, all probed stopped at boot. */
function primaryWithMembers(over = {}) {
  const { m } = make("a", { roleOnStart: "primary", members: members(3), ...over });
  let fx = grantFrom(m, "w", 10);
  for (const name of ["m0", "m1", "m2"]) fx = [...fx, ...finish(m, fx, "status", 20, 1, name)];
  return { m, fx };
}

const memberHooks = (fx: Effect[]) =>
  ofType(fx, "hook").filter((h) => h.member !== null).map((h) => `${h.method} ${h.member}`);

const guard = (fx: Effect[]): GuardCommand[] => ofType(fx, "guard").map((g) => g.command);

Deno.test("members start in order, each after the one before succeeded", () => {
  const { m, fx } = primaryWithMembers();
  assertEquals(memberHooks(fx).filter((h) => h.startsWith("start")), ["start m0"]);
  assertEquals(memberHooks(finish(m, [], "start", 30, 0, "m0")), ["start m1"]);
  assertEquals(memberHooks(finish(m, [], "start", 40, 0, "m1")), ["start m2"]);
  // The last start ends the operation: every member is probed at once to confirm it.
  assertEquals(memberHooks(finish(m, [], "start", 50, 0, "m2")), [
    "status m0",
    "status m1",
    "status m2",
  ]);
  assertEquals(service(m), "starting");
});

Deno.test("a partial start is rolled back: every member that may run is stopped, in reverse", () => {
  const { m } = primaryWithMembers();
  finish(m, [], "start", 30, 0, "m0");
  const fx = finish(m, [], "start", 40, 1, "m1"); // m1 fails
  assertEquals(memberHooks(fx), ["stop m1"]);
  assertEquals(memberHooks(finish(m, [], "stop", 50, 0, "m1")), ["stop m0"]);
  const done = finish(m, [], "stop", 60, 0, "m0");
  assert(ofType(done, "log").some((l) => l.message.includes("rolled back")));
  assertEquals(service(m), "stopped");
  assertEquals(mayBeActive(m), false);
  // The next attempt waits a probe interval.
  assertEquals(hooks(done).includes("start"), false);
});

Deno.test("one member running and one stopped reads as unknown, never as stopped", () => {
  const { m } = primaryWithMembers();
  for (const name of ["m0", "m1", "m2"]) finish(m, [], "start", 30, 0, name);
  m.members[0].state = "running";
  m.members[1].state = "stopped";
  m.members[2].state = "running";
  assertEquals(service(m), "unknown");
  assertEquals(mayBeActive(m), true);
});

Deno.test("a stop runs the members in reverse, all within one stop_timeout", () => {
  const { m } = primaryWithMembers();
  for (const name of ["m0", "m1", "m2"]) finish(m, [], "start", 30, 0, name);
  let fx = run(m, { type: "command", now: 100, command: { role: "secondary" } });
  const stop = ofType(fx, "hook").find((h) => h.method === "stop")!;
  assertEquals([stop.member, stop.timeoutMs], ["m2", I]);
  fx = finish(m, fx, "stop", 400, 0, "m2");
  const next = ofType(fx, "hook").find((h) => h.method === "stop")!;
  assertEquals([next.member, next.timeoutMs], ["m1", 700], "what is left of the one deadline");
});

Deno.test("a member's stop that fails runs panic at once, once, and the guard is told not to", () => {
  const { m } = primaryWithMembers({ hasPanic: true });
  for (const name of ["m0", "m1", "m2"]) finish(m, [], "start", 30, 0, name);
  run(m, { type: "command", now: 100, command: { role: "secondary" } });
  const fx = finish(m, [], "stop", 200, 1, "m2");
  assertEquals(hooks(fx), ["panic"]);
  assertEquals(guard(fx), [{ action: "panicking" }]);
  assertEquals(service(m), "stop_failed");
});

Deno.test("without panic, a failing member's stop does not keep the others from stopping", () => {
  const { m } = primaryWithMembers();
  for (const name of ["m0", "m1", "m2"]) finish(m, [], "start", 30, 0, name);
  run(m, { type: "command", now: 100, command: { role: "secondary" } });
  let fx = finish(m, [], "stop", 200, 1, "m2");
  assertEquals(memberHooks(fx), ["stop m1"]);
  fx = finish(m, fx, "stop", 300, 0, "m1");
  fx = finish(m, fx, "stop", 400, 0, "m0");
  assertEquals(service(m), "stop_failed");
  assert(ofType(fx, "log").some((l) => l.level === "error"));
  // Nothing is released while a member may still run.
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release"), []);
});

Deno.test("the guard is armed before a start begins, told of the stop, and disarmed after it", () => {
  const { m, fx } = primaryWithMembers();
  const kinds = fx.map((e) => e.type === "guard" ? `guard ${e.command.action}` : e.type);
  assert(
    kinds.indexOf("guard arm") <
      kinds.findIndex((k, i) => k === "hook" && (fx[i] as { method?: string }).method === "start"),
    kinds.join(","),
  );
  assertEquals(guard(fx).find((g) => g.action === "arm"), {
    action: "arm",
    until: 3 * I,
    epoch: 1,
  });
  for (const name of ["m0", "m1", "m2"]) finish(m, [], "start", 30, 0, name);
  // The lease runs out: self-fencing; the guard no longer waits for the lease but for the stop.
  let out = run(m, { type: "tick", now: 3 * I });
  assertEquals(guard(out), [{ action: "stopping", timeoutMs: I }]);
  for (const name of ["m2", "m1"]) out = finish(m, out, "stop", 3 * I + 10, 0, name);
  out = finish(m, out, "stop", 3 * I + 30, 0, "m0");
  assertEquals(guard(out), [{ action: "disarm" }]);
});

Deno.test("a renewed lease re-arms the guard with the new deadline", () => {
  const { m } = primaryWithMembers();
  run(m, { type: "tick", now: 1000 });
  const fx = grantFrom(m, "w", 1010);
  assertEquals(guard(fx), [{ action: "arm", until: 4 * I, epoch: 1 }]);
});

Deno.test("wakeAt is a query: asking changes nothing (it used to prune complaints)", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  for (const t of [1000, 2000, 2500]) run(m, { type: "tick", now: t });
  run(m, complaintFromW(2600, 2600));
  assertEquals(m.complaints.length, 1);
  m.now = 60_000; // as a status query sees it, long after the complaint expired
  const before = snapshot(m);
  wakeAt(m);
  assertEquals(snapshot(m), before);
  assertEquals(m.complaints.length, 1);
});

function snapshot(m: Machine): string {
  return JSON.stringify(m, (_k, v) => v instanceof Map ? [...v] : v);
}

Deno.test("the next member does not start with less than a timeout of lease left: the start is rolled back", () => {
  const { m } = primaryWithMembers();
  // m0's start ends 2.5 s into a 3 s lease (no renewal): 0.5 s left, less than a timeout.
  const fx = finish(m, [], "start", 2500, 0, "m0");
  assertEquals(memberHooks(fx), ["stop m0"]);
  assert(ofType(fx, "log").some((l) => l.message.includes("start interrupted")));
});

Deno.test("probes: each member has its own phase in the period, from its names, spread evenly", () => {
  const period = 10_000;
  const phases = Array.from({ length: 1000 }, (_, i) => probePhase(`r${i}`, `r${i}`, period));
  assert(phases.every((p) => Number.isInteger(p) && p >= 0 && p < period));
  // A thousand resources named r0…r999 probe about a hundred in each second, not all at once.
  const perSecond = new Array(10).fill(0);
  for (const p of phases) perSecond[Math.floor(p / 1000)]++;
  assert(perSecond.every((n) => n >= 70 && n <= 130), JSON.stringify(perSecond));
  assertEquals(probePhase("r7", "r7", period), phases[7], "the same names, the same phase");
  assert(probePhase("r7", "m1", period) !== probePhase("r7", "m2", period), "members differ");
});

Deno.test("probes: the next slot comes after now; a late or long probe is not followed by another at once", () => {
  assertEquals(nextProbeSlot(12_345, 10_000, 3_000), 13_000);
  assertEquals(nextProbeSlot(13_000, 10_000, 3_000), 23_000, "strictly after: never doubled");
  // A probe that hung for 25 s is followed by the next slot, not by the two it overran.
  assertEquals(nextProbeSlot(38_000, 10_000, 3_000), 43_000);
  assertEquals(nextProbeSlot(0, 10_000, 3_000), 3_000);
});

for (const monitored of [false, true]) {
  Deno.test(`a start that returns before its service answers${monitored ? " (with monitor_start)" : ""}: the probe at once only confirms it; the one a heartbeat later judges it, and no second start runs before`, () => {
    const over = monitored
      ? { roleOnStart: "primary" as const, members: members(1, { hasMonitorStart: true }) }
      : { roleOnStart: "primary" as const };
    const name = monitored ? "m0" : undefined;
    const starts = (m: Machine) => hooks(history(m)).filter((h) => h === "start").length;
    /** Boot probe stopped, the start (and monitor_start) returning at 30. */
    const started = () => {
      const { m } = make("a", over);
      let fx = grantFrom(m, "w", 10);
      fx = finish(m, fx, "status", 20, 1, name);
      fx = finish(m, fx, "start", 30, 0, name);
      if (monitored) {
        assertEquals(hooks(fx), ["monitor_start"]);
        fx = finish(m, fx, "monitor_start", 30, 0, name);
      }
      return { m, fx };
    };
    // The service answers only after the probe at once (an rc.d script that forks and returns).
    let { m, fx } = started();
    assertEquals(hooks(fx), ["status"], "confirmed at once");
    fx = finish(m, fx, "status", 40, 1, name);
    assertEquals(hooks(fx), [], "not found yet: no second start, no other probe yet");
    assertEquals(service(m), "starting");
    assertEquals(hooks(run(m, { type: "tick", now: 29 + I })), []);
    fx = run(m, { type: "tick", now: 30 + I });
    assertEquals(hooks(fx), ["status"], "asked again a heartbeat after the start");
    finish(m, fx, "status", 40 + I, 0, name);
    assertEquals(service(m), "running");
    assertEquals(starts(m), 1);

    // One still not running a heartbeat later did not start: the next attempt, as before.
    ({ m, fx } = started());
    fx = finish(m, fx, "status", 40, 1, name);
    fx = [...run(m, { type: "tick", now: 30 + I }), ...grantFrom(m, "w", 31 + I)];
    fx = finish(m, fx, "status", 40 + I, 1, name);
    assertEquals(starts(m), 2, "the second attempt follows the probe that judged the first");
  });
}

Deno.test("probes: an online member probes on its slot whatever each probe took; a standby on six", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = grantFrom(m, "w", 10);
  fx = finish(m, fx, "status", 20, 1);
  // The probe that confirms the start comes as soon as it finished, not on the slot.
  fx = finish(m, fx, "start", 30, 0);
  const confirming = ofType(fx, "hook").find((h) => h.method === "status")!;
  assertEquals(confirming.deferrableMs, undefined, "a start waits on it: never held back");
  fx = finish(m, fx, "status", 1040, 0);
  assertEquals(service(m), "running");
  const phase = probePhase("r", "r", I);
  const x = m.members[0];
  assertEquals(x.nextProbeAt % I, phase);
  assert(x.nextProbeAt > 1040 && x.nextProbeAt <= 1040 + I);
  // However long the next probe takes (here 700 ms), the one after stays on the slot.
  const slot = x.nextProbeAt;
  fx = [...run(m, { type: "tick", now: slot }), ...grantFrom(m, "w", slot + 1)];
  const routine = ofType(fx, "hook").find((h) => h.method === "status")!;
  assertEquals(routine.deferrableMs, I, "watching a running service may wait under load");
  finish(m, fx, "status", slot + 700, 0);
  assertEquals(x.nextProbeAt, slot + I);
  // A standby checks its stopped copy on its own slot of six intervals.
  const { m: b } = make("b", { roleOnStart: "secondary" });
  finish(b, [], "status", 50, 1);
  assertEquals(b.members[0].nextProbeAt % (6 * I), probePhase("r", "r", 6 * I));
  // Under load it may wait one interval, not six more: its "stopped" is what it grants on.
  const standby = ofType(run(b, { type: "tick", now: b.members[0].nextProbeAt }), "hook")
    .find((h) => h.method === "status")!;
  assertEquals(standby.deferrableMs, I);
});

Deno.test("a lone node (its own quorum) arms the guard without a deadline, never with Infinity", () => {
  const lone = { name: "a", priority: 10, watchdog: false, leaseMs: 3 * I, stopTimeoutMs: I };
  const { m } = make("a", { roleOnStart: "primary", nodes: [lone], peers: [] });
  finish(m, [], "status", 20, 1);
  assertEquals(m.leaseUntil, Infinity);
  const arms = guard(history(m)).filter((c) => c.action === "arm");
  assertEquals(arms, [{ action: "arm", until: null, epoch: 1 }]);
});
