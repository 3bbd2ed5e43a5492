/** Table tests of the pure machine: events in, effects out, no runtime. */
import { emptyPolicy } from "./policy.ts";
import { assert, assertEquals } from "../../tests/assert.ts";
import { beats, probeResult } from "./machine.ts";
import type { Message } from "./types.ts";
import {
  ack,
  complaintFromW,
  finish,
  grantFrom,
  hb,
  hooks,
  I,
  make,
  member,
  ofType,
  run,
  service,
} from "./test_helpers.ts";

Deno.test("role_on_start primary: persists the new epoch before announcing, starts nothing without a lease", () => {
  const { m, effects } = make("a", { roleOnStart: "primary" });
  const types = effects.map((e) => e.type);
  assertEquals(m.role, "primary");
  assertEquals(m.epoch, 1);
  assert(types.indexOf("persist") < types.indexOf("transition"), types.join(","));
  assert(types.indexOf("persist") < types.indexOf("send"), types.join(","));
  assertEquals(hooks(effects).includes("start"), false);
  // Heartbeats go to both peers, asking for a lease.
  assertEquals(ofType(effects, "send").map((s) => s.to), ["b", "w"]);
});

Deno.test("a lease from one peer (quorum 2 of 3) lets the primary probe, then start when stopped", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = grantFrom(m, "w", 10);
  assertEquals(m.leaseUntil, 0 + 3 * I); // counted from the request's send time (0), not receipt (10)
  assertEquals(m.members[0].probe !== null, true); // the boot probe is still out
  fx = finish(m, fx, "status", 20, 1);
  assertEquals(hooks(fx), ["start"]);
  fx = finish(m, fx, "start", 30, 0);
  assertEquals(service(m), "starting");
});

Deno.test("lease expiry: the primary stops its service and steps down (self-fencing)", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = grantFrom(m, "w", 10);
  fx = finish(m, fx, "status", 20, 0); // already running
  assertEquals(service(m), "running");
  fx = run(m, { type: "tick", now: 3 * I });
  assertEquals(m.role, "secondary");
  assertEquals(hooks(fx).filter((h) => h === "stop"), ["stop"]);
  assertEquals(ofType(fx, "transition")[0].cause.kind, "self_fence");
  // The release goes out only once the stop has completed.
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release"), []);
  fx = finish(m, fx, "stop", 3 * I + 100, 0);
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release").length, 2);
});

Deno.test("a granter refuses a second claimant while the first one's lease is held", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  let fx = run(m, { type: "message", now: 100, from: "a", msg: hb({ seq: 1 }) });
  assertEquals(ofType(fx, "send")[0].msg, {
    ...ofType(fx, "send")[0].msg,
    type: "ack",
    granted: true,
  } as Message);
  fx = run(m, {
    type: "message",
    now: 200,
    from: "b",
    msg: hb({ seq: 1, epoch: 2 }),
  });
  assertEquals(ack(fx).granted, false);
  assertEquals(ack(fx).holder?.node, "a");
  // Once a's hold ran out ((3 + 1) × 1.1 + 1 = 5.4 s after 100 ms), b gets it.
  fx = run(m, { type: "message", now: 100 + 5400 + 1, from: "b", msg: hb({ seq: 2, epoch: 2 }) });
  assertEquals(ack(fx).granted, true);
});

Deno.test("complaints count only while the primary is not heard, and takeover waits out the lease", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "w", msg: { ...hb({ role: "watchdog" }) } });
  let fx = run(m, { type: "message", now: 10, from: "a", msg: hb() });
  // The watchdog last saw the primary when b did, at 10 ms.
  const complaint = (now: number, silenceMs = now - 10) => complaintFromW(now, silenceMs);
  // Connected: ignored.
  run(m, complaint(500));
  assertEquals(m.complaints.length, 0);
  // Primary silent from 10 ms on; complaints from 2.5 s count.
  for (const t of [2500, 3500, 4500]) fx = run(m, complaint(t));
  assertEquals(m.complaints.length, 3);
  // A watchdog that saw the primary more recently holds the takeover back.
  fx = run(m, complaint(5000, 1000));
  assertEquals(m.complaints.length, 4);
  assertEquals(m.role, "secondary"); // 4 > 3, but the silence is not long enough yet
  // Silence must exceed (3 + 1) × 1.1 + 1 = 5.4 s; the shortest report (1 s at 5 s) rules.
  for (let t = 6000; t <= 9000; t += 1000) run(m, { type: "tick", now: t }); // a live daemon ticks
  fx = run(m, { type: "tick", now: 5000 + 5400 - 1000 });
  assertEquals(m.role, "secondary");
  fx = run(m, { type: "tick", now: 5000 + 5401 - 1000 });
  assertEquals(m.role, "primary");
  assertEquals(m.epoch, 2);
  assertEquals(ofType(fx, "transition")[0].cause.kind, "takeover");
});

Deno.test("complaints from a node that is not a watchdog are ignored", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "a", msg: hb({ role: "secondary" }) });
  run(m, {
    type: "message",
    now: 5000,
    from: "a",
    msg: { type: "complaint", resource: "r", epoch: 1, reason: "x", primary: null, silenceMs: 9e9 },
  });
  assertEquals(m.complaints.length, 0);
});

Deno.test("two primaries with equal epochs: priority decides, then the name; exactly one yields", () => {
  assertEquals(
    beats({ node: "a", epoch: 2, priority: 50 }, { node: "b", epoch: 1, priority: 1 }),
    true,
  );
  assertEquals(
    beats({ node: "b", epoch: 1, priority: 1 }, { node: "a", epoch: 1, priority: 2 }),
    true,
  );
  assertEquals(
    beats({ node: "a", epoch: 1, priority: 5 }, { node: "b", epoch: 1, priority: 5 }),
    true,
  );
  assertEquals(
    beats({ node: "b", epoch: 1, priority: 5 }, { node: "a", epoch: 1, priority: 5 }),
    false,
  );
  // Both started as primary with epoch 1: b (priority 20) yields to a (priority 10), a does not.
  const a = make("a", { roleOnStart: "primary" }).m;
  const b = make("b", { roleOnStart: "primary" }).m;
  run(a, { type: "message", now: 5, from: "b", msg: hb({ epoch: 1 }) });
  run(b, { type: "message", now: 5, from: "a", msg: hb({ epoch: 1 }) });
  assertEquals([a.role, b.role], ["primary", "secondary"]);
});

Deno.test("a primary hearing a higher epoch from another primary yields", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  const fx = run(m, { type: "message", now: 5, from: "b", msg: hb({ epoch: 7 }) });
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause, {
    kind: "yield",
    to: "b",
    epoch: 7,
    reportedBy: null,
  });
});

Deno.test("a status probe that timed out or was killed is unknown, never running", () => {
  assertEquals(probeResult({ kind: "timeout" }), "unknown");
  assertEquals(probeResult({ kind: "killed", signal: "SIGKILL" }), "unknown");
  assertEquals(probeResult({ kind: "error", message: "ENOENT" }), "unknown");
  assertEquals(probeResult({ kind: "exit", code: 0 }), "running");
  assertEquals(probeResult({ kind: "exit", code: 1 }), "stopped");
  assertEquals(probeResult({ kind: "exit", code: 3 }), "unknown");
});

Deno.test("start attempts: the primary gives up after `attempts` failed starts and steps down", () => {
  const { m } = make("a", { roleOnStart: "primary", attempts: 2 });
  let fx = grantFrom(m, "w", 10);
  let now = 10;
  for (let i = 0; i < 2; i++) {
    fx = finish(m, fx, "status", now += 10, 1);
    fx = finish(m, fx, "start", now += 10, 0);
    // Keep the lease alive and let the next probe come.
    now += I;
    fx = [...run(m, { type: "tick", now }), ...grantFrom(m, "w", now + 1)];
  }
  fx = finish(m, fx, "status", now += 10, 1);
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause.kind, "give_up");
  assertEquals(hooks(fx).includes("stop"), true);
});

Deno.test("a restored primary keeps its epoch (a restart is not a promotion)", () => {
  const { m, effects } = make("a", {}, {
    role: "primary",
    epoch: 4,
    maxEpoch: 6,
    grantHolder: null,
    grantHoldMs: null,
    policy: emptyPolicy(),
  });
  assertEquals([m.role, m.epoch, m.maxEpoch], ["primary", 4, 6]);
  assertEquals(ofType(effects, "transition")[0].cause.kind, "restored");
});

Deno.test("a granter that crashed honours its persisted grant after a restart", () => {
  const holder = { node: "a", epoch: 3, priority: 10 };
  const { m } = make("w", { roleOnStart: "watchdog" }, {
    role: "watchdog",
    epoch: 3,
    maxEpoch: 3,
    grantHolder: holder,
    grantHoldMs: null,
    policy: emptyPolicy(),
  });
  const fx = run(m, { type: "message", now: 10, from: "b", msg: hb({ epoch: 4 }) });
  assertEquals(ack(fx).granted, false);
});

Deno.test("the same role again is a no-op; a forced primary starts without a lease", () => {
  const { m } = make("a", { roleOnStart: "secondary" });
  let fx = run(m, { type: "command", now: 10, command: { role: "secondary" } });
  assertEquals(ofType(fx, "transition"), []);
  // No peer has answered anything: without force, no start would ever come.
  fx = run(m, { type: "command", now: 20, command: { role: "primary", force: true } });
  assertEquals([m.role, m.forced], ["primary", true]);
  assert(ofType(fx, "log").some((l) => l.message.includes("without a lease")));
  // The boot probe (still out) says stopped: start follows at once, with no grant at all.
  fx = finish(m, fx, "status", 30, 1);
  assertEquals(hooks(fx), ["start"]);
  assertEquals(m.grantsFrom.size, 0);
});

Deno.test("without force, a primary that hears no peer never starts", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = finish(m, [], "status", 10, 1);
  for (let t = 1000; t <= 10_000; t += 1000) fx = [...fx, ...run(m, { type: "tick", now: t })];
  assertEquals(hooks(fx).includes("start"), false);
  assertEquals(m.role, "primary");
});

Deno.test("shutdown of a primary with a live secondary hands over after the stop", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = grantFrom(m, "w", 10);
  fx = finish(m, fx, "status", 20, 0);
  run(m, { type: "message", now: 30, from: "b", msg: hb({ role: "secondary" }) });
  fx = run(m, { type: "shutdown", now: 40 });
  assertEquals(m.role, "secondary");
  assertEquals(hooks(fx).includes("stop"), true);
  fx = finish(m, fx, "stop", 50, 0);
  const release = ofType(fx, "send").find((s) => s.msg.type === "release");
  assertEquals((release?.msg as Message & { type: "release" }).successor, "b");
  assertEquals(ofType(fx, "quiesced").length, 1);
});

Deno.test("after a freeze (no event for longer than a liveness window) complaints are stale for one timeout", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog" }) });
  run(m, { type: "tick", now: 500 });
  const complaint = (now: number) => complaintFromW(now, now);
  // 10 s without an event: what arrives now waited in a buffer.
  const fx = run(m, complaint(10_500));
  assert(ofType(fx, "log").some((l) => l.message.includes("frozen")));
  assertEquals(m.complaints.length, 0);
  run(m, complaint(10_500 + I + 1)); // one timeout later: fresh again
  assertEquals(m.complaints.length, 1);
});

Deno.test("a service that stopped by itself still gets its stop before the lease is released", () => {
  // LOG_ONLY: the monitor only logs, so what follows is the lease's doing alone.
  const { m } = make("a", {
    roleOnStart: "primary",
    members: [member("r", { failoverMode: "LOG_ONLY" })],
  });
  let fx = grantFrom(m, "w", 10);
  fx = finish(m, fx, "status", 20, 1); // the boot probe: stopped
  fx = finish(m, fx, "start", 30, 0);
  assertEquals(service(m), "starting");
  // The next probe confirms it runs.
  fx = [...run(m, { type: "tick", now: 1030 }), ...grantFrom(m, "w", 1031)];
  fx = finish(m, fx, "status", 1040, 0);
  assertEquals(service(m), "running");
  // No more grants (the lease ends at 1030 + 3 s). The process dies; the next probe
  // says stopped: the monitor logs it, and nothing restarts it.
  fx = run(m, { type: "tick", now: 2040 });
  fx = finish(m, fx, "status", 3100, 1);
  assertEquals(m.members[0].state, "stopped");
  assertEquals(m.members[0].dirty, true, "a start began and no stop completed since");
  assertEquals(hooks(fx).includes("start"), false);
  assertEquals(m.members[0].status.value, "FAULTED");
  // The lease runs out: stop runs although status said stopped, and only then the release.
  fx = run(m, { type: "tick", now: 1030 + 3 * I });
  assertEquals(m.role, "secondary");
  assertEquals(hooks(fx).includes("stop"), true, "stop must run although status said stopped");
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release"), []);
  fx = finish(m, fx, "stop", 1030 + 3 * I + 100, 0);
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release").length, 2);
});

Deno.test("a secondary gives a better-placed live secondary two intervals to take over first", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog" }) });
  const complaint = (now: number) => complaintFromW(now, now);
  // a (priority 10) is a live secondary too: b (priority 20) waits 2 s more.
  for (let t = 1000; t <= 6000; t += 1000) {
    const msg = hb({ role: "secondary", state: "stopped", seq: t });
    run(m, { type: "message", now: t, from: "a", msg });
    run(m, complaint(t));
  }
  run(m, { type: "tick", now: 6500 });
  assertEquals(m.role, "secondary");
  run(m, {
    type: "message",
    now: 7000,
    from: "a",
    msg: hb({ role: "secondary", state: "stopped", seq: 7 }),
  });
  run(m, { type: "tick", now: 7500 });
  assertEquals(m.role, "primary");
});

Deno.test("a restarted granter honours its grant for as long as the claimant's numbers asked", () => {
  const holder = { node: "a", epoch: 3, priority: 10 };
  // Own hold: (3 + 1) × 1.1 + 1 = 5.4 s; the claimant had asked for 20 s.
  const { m } = make("w", { roleOnStart: "watchdog" }, {
    role: "watchdog",
    epoch: 3,
    maxEpoch: 3,
    grantHolder: holder,
    grantHoldMs: 20_000,
    policy: emptyPolicy(),
  });
  const claim = (now: number) =>
    run(m, { type: "message", now, from: "b", msg: hb({ epoch: 4, seq: now }) });
  assertEquals(ack(claim(10_000)).granted, false);
  assertEquals(ack(claim(20_001)).granted, true);
});

Deno.test("takeover needs MORE than complaint_count complaints, all within complaint_interval", () => {
  // complaint_count 3, complaint_interval 10 s; the primary is silent from 10 ms on, so the
  // silence (longer than the 5.4 s hold) never holds a takeover back here: only the count does.
  const secondary = () => {
    const { m } = make("b", { roleOnStart: "secondary" });
    run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog" }) });
    run(m, { type: "message", now: 10, from: "a", msg: hb() });
    return m;
  };
  // A live daemon ticks every interval; a long gap would read as a freeze (complaints stale).
  const complainAt = (m: ReturnType<typeof secondary>, t: number) => {
    for (let at = m.now + 500; at < t; at += 500) run(m, { type: "tick", now: at });
    run(m, complaintFromW(t, t - 10));
  };
  const exactly = secondary();
  for (const t of [8000, 8100, 8200]) complainAt(exactly, t);
  run(exactly, { type: "tick", now: 9000 });
  assertEquals([exactly.complaints.length, exactly.role], [3, "secondary"]);
  complainAt(exactly, 9100);
  assertEquals(exactly.role, "primary");

  // Three old complaints leave the window before the fourth arrives: no takeover until three
  // more come within it.
  const spread = secondary();
  for (const t of [8000, 8100, 8200]) complainAt(spread, t);
  complainAt(spread, 18_250);
  assertEquals([spread.complaints.length, spread.role], [1, "secondary"]);
  complainAt(spread, 18_300);
  complainAt(spread, 18_400);
  assertEquals(spread.role, "secondary");
  complainAt(spread, 18_500);
  assertEquals(spread.role, "primary");
});

Deno.test("a start still running when the lease runs out is cancelled, and its stop begins only after it ended", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = grantFrom(m, "w", 10);
  fx = finish(m, fx, "status", 20, 1);
  assertEquals(hooks(fx), ["start"]);
  const start = ofType(fx, "hook")[0];
  // No renewal: the lease (3 s from the request's send time, 0) runs out mid-start.
  for (let t = 500; t < 3 * I; t += 500) run(m, { type: "tick", now: t });
  fx = run(m, { type: "tick", now: 3 * I });
  assertEquals(ofType(fx, "cancel").map((c) => c.id), [start.id]);
  assertEquals(hooks(fx).filter((h) => h === "stop"), [], "a stop beside the running start");
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release"), []);
  // The cancelled start ends (killed): now the stop runs, and the release waits for it.
  fx = run(m, {
    type: "hook_done",
    now: 3 * I + 200,
    id: start.id,
    method: "start",
    outcome: { kind: "killed", signal: "SIGTERM" },
  });
  assertEquals(hooks(fx).filter((h) => h === "stop"), ["stop"]);
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release"), []);
  fx = finish(m, fx, "stop", 3 * I + 300, 0);
  assertEquals(ofType(fx, "send").filter((s) => s.msg.type === "release").length, 2);
  assertEquals(m.role, "secondary");
});

Deno.test("a secondary does not take over while the node that stepped down says its stop failed, and does once that stop succeeded", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog", state: "stopped" }) });
  run(m, { type: "message", now: 0, from: "a", msg: hb({ role: "primary", epoch: 1 }) });
  // a hands over, but its stop fails (no panic): it stays, saying stop_failed, and sends no release.
  for (let t = 1000; t <= 8000; t += 1000) {
    const msg = hb({ role: "secondary", state: "stop_failed", seq: t });
    run(m, { type: "message", now: t, from: "a", msg });
    run(m, complaintFromW(t, t));
    run(m, { type: "tick", now: t + 500 });
  }
  assertEquals(m.role, "secondary");
  assert(m.note.startsWith("takeover blocked: r is stop_failed on a"), m.note);
  // The stop, retried, succeeds; a is stopped and says so: b takes over.
  run(m, {
    type: "message",
    now: 9000,
    from: "a",
    msg: hb({ role: "secondary", state: "stopped", seq: 9000 }),
  });
  run(m, complaintFromW(9000, 9000));
  run(m, { type: "tick", now: 9500 });
  assertEquals(m.role, "primary");
});

Deno.test("a secondary's takeover note is dropped once a primary is heard again (it said 'takeover blocked' for ever)", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 0, from: "w", msg: hb({ role: "watchdog", state: "stopped" }) });
  for (let t = 1000; t <= 4000; t += 1000) {
    run(m, { type: "message", now: t, from: "a", msg: hb({ role: "secondary", seq: t }) });
    run(m, complaintFromW(t, t));
  }
  assert(m.note.startsWith("takeover blocked: r is running on a"), m.note);
  // a is primary again, with its lease: nothing is blocked any more, and nothing is said.
  run(m, {
    type: "message",
    now: 4500,
    from: "a",
    msg: hb({ role: "primary", epoch: 2, seq: 4500 }),
  });
  assertEquals(m.note, "");
});
