/**
 * scha_control in the core: the check pipeline and its numbers, restart
 * budgets and their windows, the GIVEOVER counter reset, pingpong marks,
 * failover_mode on start and stop failures, the monitor_check veto, and the
 * built-in monitor's restart-then-giveover.
 */
import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import type { Machine } from "./machine.ts";
import type { Effect, Message, SchaRequest } from "./types.ts";
import { groupRestarts, restartBudget } from "./policy.ts";
import { resourceState, rgState, SCHA_ERR } from "./scha.ts";
import { MAX_REASON_LENGTH } from "./types.ts";
import { parseMessage } from "../wire/codec.ts";
import { statusOf } from "./status.ts";
import { wallNow } from "./state.ts";
import {
  ask,
  finish,
  hb,
  history,
  hooks,
  I,
  keep,
  make,
  member,
  members,
  ofType,
  online,
  run,
} from "./test_helpers.ts";

/** Answer every probe in flight: running. */
function answerProbes(m: Machine, now: number) {
  for (const x of m.members) {
    if (!x.probe) continue;
    run(m, {
      type: "hook_done",
      now,
      id: x.probe.id,
      method: "status",
      outcome: { kind: "exit", code: 0 },
    });
  }
}

/** Keep the lease at `now` and answer the probe of `member` that is due then with `code`. */
function probe(m: Machine, now: number, code: number, member = m.members[0].settings.name) {
  keep(m, now);
  const x = m.members.find((y) => y.settings.name === member)!;
  assert(x.probe, `no probe of ${member} in flight at ${now}`);
  return run(m, {
    type: "hook_done",
    now: now + 10,
    id: x.probe.id,
    method: "status",
    outcome: code === -1 ? { kind: "timeout" } : { kind: "exit", code },
  });
}

const replyOf = (fx: Effect[], id: number) => ofType(fx, "reply").find((r) => r.id === id);
const sent = (fx: Effect[], type: Message["type"]) =>
  ofType(fx, "send").filter((s) => s.msg.type === type);

Deno.test("scha pipeline: each refusal has its number, in the reference's order", () => {
  const m = online([member("db"), member("ip", { failoverMode: "LOG_ONLY" })]);
  const code = (r: SchaRequest) => ask(m, 1100, r).reply?.code;
  assertEquals(code({ optag: "RESTART", member: "nope" }), SCHA_ERR.RSRC);
  assertEquals(code({ optag: "RESOURCE_RESTART", member: null }), SCHA_ERR.INVAL);
  assertEquals(code({ optag: "GIVEOVER", member: "db", to: "zz" }), SCHA_ERR.NODE);
  assertEquals(code({ optag: "RESTART", member: "ip" }), SCHA_ERR.CHECKS, "LOG_ONLY refuses");
  assertEquals(code({ optag: "RESOURCE_IS_RESTARTED", member: "ip" }), 0, "LOG_ONLY counts");
  assertEquals(code({ optag: "CHECK_RESTART", member: "db" }), 0);
  // While a restart is in progress, anything else: retry later.
  const r = ask(m, 1200, { optag: "RESTART", member: "db" });
  assertEquals(r.reply, undefined, "a restart answers when done");
  assertEquals(code({ optag: "CHECK_RESTART", member: "db" }), SCHA_ERR.RECONF);
  // Not online here: a secondary refuses with SCHA_ERR_STATE.
  const { m: b } = make("b", { roleOnStart: "secondary" });
  const s = run(b, { type: "request", now: 10, id: 1, request: { optag: "RESTART", member: "r" } });
  assertEquals(replyOf(s, 1)?.code, SCHA_ERR.STATE);
  assertStringIncludes(replyOf(s, 1)!.message, "not online on b");
});

Deno.test("RESTART stops in reverse and starts in order, and answers once it started again", () => {
  const ms = members(2, { hasMonitorStart: true, hasMonitorStop: true });
  const m = online(ms);
  const r = ask(m, 1100, { optag: "RESTART", member: "m0" });
  const seq: string[] = [];
  const note = (fx: Effect[]) =>
    seq.push(...ofType(fx, "hook").filter((h) => h.member).map((h) => `${h.method} ${h.member}`));
  note(r.fx);
  note(finish(m, [], "monitor_stop", 1110, 0, "m1"));
  note(finish(m, [], "stop", 1120, 0, "m1"));
  note(finish(m, [], "monitor_stop", 1130, 0, "m0"));
  note(finish(m, [], "stop", 1140, 0, "m0"));
  note(finish(m, [], "start", 1150, 0, "m0"));
  note(finish(m, [], "monitor_start", 1160, 0, "m0"));
  note(finish(m, [], "start", 1170, 0, "m1"));
  const fx = finish(m, [], "monitor_start", 1180, 0, "m1");
  assertEquals(seq, [
    "monitor_stop m1",
    "stop m1",
    "monitor_stop m0",
    "stop m0",
    "start m0",
    "monitor_start m0",
    "start m1",
    "monitor_start m1",
  ]);
  // Every start and monitor_start exited 0; each member is probed at once, and the answer
  // comes with the probes, so that the caller reads ONLINE right after it.
  assertEquals(replyOf(fx, r.id), undefined);
  assertEquals(hooks(fx), ["status", "status"]);
  finish(m, [], "status", 1190, 0, "m0");
  const done = finish(m, [], "status", 1195, 0, "m1");
  assertEquals(replyOf(done, r.id)?.code, 0);
  assertEquals(rgState(m), "ONLINE");
  assertEquals(groupRestarts(m, m.members[0]), 1, "NUM_RG_RESTARTS");
});

Deno.test("RESOURCE_RESTART runs monitor_stop, stop, start, monitor_start of that member only", () => {
  const ms = members(3, { hasMonitorStart: true, hasMonitorStop: true });
  const m = online(ms);
  const r = ask(m, 1100, { optag: "RESOURCE_RESTART", member: "m1" });
  const all = [
    ...r.fx,
    ...finish(m, [], "monitor_stop", 1110, 0, "m1"),
    ...finish(m, [], "stop", 1120, 0, "m1"),
    ...finish(m, [], "start", 1130, 0, "m1"),
    ...finish(m, [], "monitor_start", 1140, 0, "m1"),
  ];
  assertEquals(
    ofType(all, "hook").filter((h) => h.member && h.method !== "status").map((h) =>
      `${h.method} ${h.member}`
    ),
    ["monitor_stop m1", "stop m1", "start m1", "monitor_start m1"],
  );
  assertEquals(restartBudget(m, m.members[1]).used, 1, "NUM_RESOURCE_RESTARTS");
  assertEquals(restartBudget(m, m.members[0]).used, 0);
});

Deno.test("restart budget: counted in a window of retry_interval, enforced under RESTART_ONLY", () => {
  const m = online([member("db", { failoverMode: "RESTART_ONLY", retryCount: 2 })]);
  const restart = (now: number) => {
    keep(m, now - 10); // a lease with room for the start
    answerProbes(m, now - 5); // nothing in flight: the probe after the restart is the one we answer
    const r = ask(m, now, { optag: "RESOURCE_RESTART", member: "db" });
    if (r.reply) return r.reply.code;
    finish(m, [], "stop", now + 10, 0, "db");
    finish(m, [], "start", now + 20, 0, "db");
    assertEquals(replyOf(finish(m, [], "status", now + 30, 0, "db"), r.id)?.code, 0);
    return 0;
  };
  assertEquals(restart(2000), 0);
  assertEquals(restart(4000), 0);
  const refused = ask(m, 6000, { optag: "RESOURCE_RESTART", member: "db" }).reply!;
  assertEquals(refused.code, SCHA_ERR.CHECKS);
  assertStringIncludes(refused.message, "RESTART_ONLY and used its 2 restarts in 5m0s");
  assertStringIncludes(refused.message, "free again in");
  assertEquals(restartBudget(m, m.members[0]).used, 2);
  // The window slides: 300 s after the first restart, one is free again.
  for (let t = 5000; t <= 302_100; t += 1000) {
    keep(m, t);
    const probe = ofType(history(m), "hook").filter((h) => h.method === "status").at(-1)!;
    if (!history(m).some((e) => e.type === "reply" && e.id === -1) && probe) {
      run(m, {
        type: "hook_done",
        now: t + 1,
        id: probe.id,
        method: "status",
        outcome: { kind: "exit", code: 0 },
      });
    }
  }
  assertEquals(restartBudget(m, m.members[0]).used, 1);
  assertEquals(restart(303_000), 0);
});

Deno.test("GIVEOVER, even refused, resets this node's restart counters", () => {
  const m = online([member("db")]);
  ask(m, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  ask(m, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  assertEquals(restartBudget(m, m.members[0]).used, 2);
  m.policy.groupRestarts.push(wallNow(m));
  // b stops being heard: no node may take the group.
  m.peers.get("b")!.lastHeard = null;
  const r = ask(m, 1200, { optag: "GIVEOVER", member: "db" }).reply!;
  assertEquals(r.code, SCHA_ERR.CHECKS);
  assertStringIncludes(r.message, "b: not connected");
  assertEquals(restartBudget(m, m.members[0]).used, 0);
  assertEquals(groupRestarts(m, m.members[0]), 0);
  assert(ofType(history(m), "persist").at(-1)!.state.policy.restarts.db?.length !== 2);
});

Deno.test("GIVEOVER: the candidate checks, the group is handed over, pingpong marked on both", () => {
  const m = online([member("db")]);
  const r = ask(m, 1100, { optag: "GIVEOVER", member: "db" });
  const req = sent(r.fx, "check_request");
  assertEquals(req.map((s) => s.to), ["b"]);
  const id = (req[0].msg as Message & { type: "check_request" }).id;
  // b runs its monitor_check hooks and answers.
  const { m: b } = make("b", {
    roleOnStart: "secondary",
    members: [member("db", { hasMonitorCheck: true })],
  });
  finish(b, [], "status", 10, 1, "db");
  // b follows a, the primary of epoch 1.
  run(b, { type: "message", now: 1000, from: "a", msg: hb({ role: "primary", epoch: 1 }) });
  let fx = run(b, { type: "message", now: 1110, from: "a", msg: req[0].msg });
  assertEquals(hooks(fx), ["monitor_check"]);
  fx = finish(b, [], "monitor_check", 1150, 0, "db");
  const result = sent(fx, "check_result");
  assertEquals((result[0].msg as Message & { type: "check_result" }).ok, true);
  assertEquals((result[0].msg as Message & { type: "check_result" }).id, id);
  // a hands over.
  fx = run(m, { type: "message", now: 1160, from: "b", msg: result[0].msg });
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause, {
    kind: "giveover",
    member: "db",
    to: "b",
    internal: false,
  });
  fx = finish(m, [], "stop", 1200, 0, "db");
  const release = sent(fx, "release").find((s) => s.to === "b")!;
  assertEquals((release.msg as Message & { type: "release" }).pingpong, "db");
  assertEquals((release.msg as Message & { type: "release" }).successor, "b");
  assertEquals(m.policy.pingpong.map((p) => [p.node, p.member]), [["a", "db"]]);
  // b takes it, and marks a as no destination of db's giveovers.
  run(b, { type: "message", now: 1210, from: "a", msg: release.msg });
  assertEquals(b.role, "primary");
  assertEquals(b.policy.pingpong.map((p) => [p.node, p.member]), [["a", "db"]]);
  // a answers the caller once b runs the group.
  fx = run(m, {
    type: "message",
    now: 2000,
    from: "b",
    msg: hb({ role: "primary", state: "running", epoch: 2, seq: 9 }),
  });
  assertEquals(replyOf(fx, r.id)?.code, 0);
  assertStringIncludes(replyOf(fx, r.id)!.message, "online on b");
});

Deno.test("pingpong: a giveover back is refused until pingpong_interval has passed", () => {
  const m = online([member("db")], { pingpongIntervalMs: 60 * I });
  m.policy.pingpong.push({ node: "b", member: "db", at: wallNow(m) });
  let r = ask(m, 1100, { optag: "CHECK_GIVEOVER", member: "db" }).reply!;
  assertEquals(r.code, SCHA_ERR.CHECKS);
  assertStringIncludes(r.message, "b: pingpong");
  assertStringIncludes(r.message, "blocked for 59s more");
  assertEquals(
    r.plan?.nodes.find((n) => n.node === "b")?.untilWallMs,
    wallNow(m) + 60 * I - 1100 + 1040,
  );
  // Another member's mark does not block this one.
  m.policy.pingpong = [{ node: "b", member: "other", at: wallNow(m) }];
  const other = ask(m, 1200, { optag: "CHECK_GIVEOVER", member: "db" });
  assertEquals(other.reply, undefined, "goes on to ask b");
  assertEquals(sent(other.fx, "check_request").length, 1);
  m.requests.clear();
  // Expiry: after the interval, b is a candidate again.
  m.policy.pingpong = [{ node: "b", member: "db", at: wallNow(m) }];
  for (let t = 2000; t <= 62_000; t += 1000) keep(m, t);
  const later = ask(m, 62_500, { optag: "CHECK_GIVEOVER", member: "db" });
  assertEquals(later.reply, undefined);
  assertEquals(sent(later.fx, "check_request").map((s) => s.to), ["b"]);
  r = run(m, {
    type: "message",
    now: 62_600,
    from: "b",
    msg: {
      type: "check_result",
      resource: "r",
      epoch: 0,
      id: (sent(later.fx, "check_request")[0].msg as { id: number }).id,
      ok: true,
      reason: "",
    },
  }).find((e) => e.type === "reply") as Effect & { type: "reply" };
  assertEquals(r.code, 0, "CHECK_GIVEOVER changes nothing and says yes");
  assertEquals(m.role, "primary");
});

/**
 * Secondary b, with two members that have a monitor_check and both stopped,
 * asked by a to check for a giveover: b and the monitor_check hooks it ran.
 */
function askedToCheck() {
  const { m: b } = make("b", {
    roleOnStart: "secondary",
    members: [member("db", { hasMonitorCheck: true }), member("ip", { hasMonitorCheck: true })],
  });
  finish(b, [], "status", 10, 1, "db");
  finish(b, [], "status", 10, 1, "ip");
  run(b, {
    type: "message",
    now: 100,
    from: "a",
    msg: { type: "check_request", resource: "r", epoch: 1, id: 7 },
  });
  return { b, checks: ofType(history(b), "hook").filter((h) => h.method === "monitor_check") };
}

Deno.test("monitor_check veto (with its output) and a candidate that never answers", () => {
  // The candidate: its monitor_check fails and says why.
  const { b, checks } = askedToCheck();
  run(b, {
    type: "hook_done",
    now: 150,
    id: checks[0].id,
    method: "monitor_check",
    outcome: { kind: "exit", code: 1, output: "/data is not mounted" },
  });
  const fx = run(b, {
    type: "hook_done",
    now: 160,
    id: checks[1].id,
    method: "monitor_check",
    outcome: { kind: "timeout" },
  });
  const res = sent(fx, "check_result")[0].msg as Message & { type: "check_result" };
  assertEquals(res.ok, false);
  assertStringIncludes(res.reason, "member db: monitor_check exit 1: /data is not mounted");
  assertStringIncludes(res.reason, "member ip: monitor_check timed out");
  // The asker: a veto makes it refuse (b was the only candidate), with the plan.
  const m = online([member("db")]);
  const r = ask(m, 1100, { optag: "GIVEOVER", member: "db" });
  const id = (sent(r.fx, "check_request")[0].msg as { id: number }).id;
  const vetoed = run(m, { type: "message", now: 1200, from: "b", msg: { ...res, id } });
  const reply = replyOf(vetoed, r.id)!;
  assertEquals(reply.code, SCHA_ERR.CHECKS);
  assertStringIncludes(
    reply.plan!.nodes.find((n) => n.node === "b")!.blocked!,
    "/data is not mounted",
  );
  assertEquals(m.role, "primary");
  // No answer at all: a veto once the check's time is up.
  const q = ask(m, 1300, { optag: "GIVEOVER", member: "db" });
  let answered: Effect | undefined;
  for (let t = 2000; t <= 12_000 && !answered; t += 1000) {
    answered = keep(m, t).find((e) => e.type === "reply" && e.id === q.id);
  }
  assert(answered && answered.type === "reply");
  assertEquals(answered.code, SCHA_ERR.CHECKS);
  assertStringIncludes(answered.message, "no answer to the check");
});

Deno.test("a candidate with two failed starts within pingpong_interval vetoes itself", () => {
  const { m: b } = make("b", { roleOnStart: "secondary" });
  finish(b, [], "status", 10, 1, "r");
  b.policy.failedStarts.push(wallNow(b), wallNow(b));
  const fx = run(b, {
    type: "message",
    now: 100,
    from: "a",
    msg: { type: "check_request", resource: "r", epoch: 1, id: 3 },
  });
  const res = sent(fx, "check_result")[0].msg as Message & { type: "check_result" };
  assertEquals(res.ok, false);
  assertStringIncludes(res.reason, "2 starts failed on b within pingpong_interval");
});

Deno.test("failover_mode on a start failure: NONE, RESTART_ONLY, LOG_ONLY stay ONLINE_FAULTED", () => {
  for (const mode of ["NONE", "RESTART_ONLY", "LOG_ONLY"] as const) {
    const { m } = make("a", {
      roleOnStart: "primary",
      members: [member("ip"), member("db", { failoverMode: mode })],
    });
    keep(m, 10);
    finish(m, [], "status", 20, 1, "ip");
    finish(m, [], "status", 20, 1, "db");
    finish(m, [], "start", 30, 0, "ip");
    finish(m, [], "start", 40, 1, "db"); // fails: rolled back
    finish(m, [], "stop", 50, 0, "db");
    const fx = finish(m, [], "stop", 60, 0, "ip");
    assertEquals(m.role, "primary", mode);
    assertEquals(rgState(m), "ONLINE_FAULTED", mode);
    assertEquals(resourceState(m, m.members[1]), "START_FAILED", mode);
    assert(ofType(fx, "log").some((l) => l.message.includes(`failover_mode ${mode}`)));
    // No new attempt by itself.
    assertEquals(hooks(keep(m, 2000)).includes("start"), false, mode);
  }
});

Deno.test("failover_mode on a start failure: SOFT and HARD retry, then relocate to the best secondary", () => {
  for (const mode of ["SOFT", "HARD"] as const) {
    const { m } = make("a", {
      roleOnStart: "primary",
      members: [member("db", { failoverMode: mode })],
    });
    keep(m, 10);
    finish(m, [], "status", 20, 1, "db");
    let t = 30;
    // attempts = 2 in the test settings.
    for (let i = 0; i < 2; i++) {
      finish(m, [], "start", t, 1, "db");
      finish(m, [], "stop", t + 10, 0, "db");
      t += 1100; // a failed start waits an interval before the next
      keep(m, t);
    }
    assertEquals(m.role, "secondary", mode);
    const cause = ofType(history(m), "transition").at(-1)!.cause;
    assertEquals(cause.kind, "give_up");
    assertEquals(m.releasePending, null, "stopped already: released");
    const release = ofType(history(m), "send").filter((s) => s.msg.type === "release").at(-1)!;
    assertEquals((release.msg as { successor: string }).successor, "b", mode);
    assertEquals(m.policy.failedStarts.length, 2);
  }
});

Deno.test("failover_mode on a stop failure while keeping the lease: HARD panics, the others wait for an operator", () => {
  for (const mode of ["NONE", "SOFT", "RESTART_ONLY", "HARD"] as const) {
    const m = online([member("db", { failoverMode: mode })]);
    const r = ask(m, 1100, { optag: "RESOURCE_RESTART", member: "db" });
    const fx = finish(m, [], "stop", 1110, 1, "db");
    if (mode === "HARD") {
      assertEquals(hooks(fx), ["panic"], mode);
      assert(ofType(fx, "guard").some((g) => g.command.action === "panicking"));
    } else {
      assertEquals(hooks(fx).includes("panic"), false, mode);
      assertEquals(rgState(m), "ERROR_STOP_FAILED", mode);
      assertEquals(resourceState(m, m.members[0]), "STOP_FAILED", mode);
      assertEquals(replyOf(fx, r.id)?.code, SCHA_ERR.INTERNAL, mode);
      assertEquals(hooks(keep(m, 2000)).includes("start"), false, "nothing starts over it");
    }
  }
});

Deno.test("a stop failure when the node must let go panics whatever the failover_mode", () => {
  const m = online([member("db", { failoverMode: "NONE" })]);
  run(m, { type: "command", now: 1100, command: { role: "secondary" } });
  const fx = finish(m, [], "stop", 1110, 1, "db");
  assertEquals(hooks(fx), ["panic"]);
});

Deno.test("the monitor restarts a failing member retry_count times, then gives the group over", () => {
  const m = online([member("db", { retryCount: 2 })]);
  let t = 2100;
  for (let i = 1; i <= 2; i++) {
    const fx = probe(m, t, 1);
    assertEquals(hooks(fx), ["stop"], `restart ${i}`);
    finish(m, [], "stop", t + 20, 0, "db");
    finish(m, [], "start", t + 30, 0, "db");
    probe(m, t + 1100, 0);
    t += 3000;
    assertEquals(restartBudget(m, m.members[0]).used, i);
    assertEquals(m.members[0].status.value, "DEGRADED");
  }
  const fx = probe(m, t, 1);
  assertEquals(sent(fx, "check_request").map((s) => s.to), ["b"], "giveover asks b");
  assertEquals(restartBudget(m, m.members[0]).used, 0, "the giveover reset the counters");
  // b vetoes: the member is FAULTED, the group stays, the monitor keeps probing.
  const id = (sent(fx, "check_request")[0].msg as { id: number }).id;
  run(m, {
    type: "message",
    now: t + 50,
    from: "b",
    msg: { type: "check_result", resource: "r", epoch: 0, id, ok: false, reason: "no disk" },
  });
  assertEquals(m.role, "primary");
  assertEquals(m.members[0].status.value, "FAULTED");
  assertStringIncludes(m.members[0].status.message, "giveover refused");
});

Deno.test("the monitor: one unknown probe is half a failure; RESTART_ONLY out of budget quits", () => {
  const m = online([member("db", { failoverMode: "RESTART_ONLY", retryCount: 0 })]);
  probe(m, 2100, -1); // timed out: unknown, 50
  assertEquals(m.members[0].status.value, "DEGRADED");
  probe(m, 3200, 2); // unknown again: 100
  assertEquals(m.members[0].unmonitored, true);
  assertEquals(resourceState(m, m.members[0]), "ONLINE_NOT_MONITORED");
  assertEquals(
    m.members[0].status.message,
    "Application faulted, but not restarted. Probe quitting.",
  );
  assertEquals(hooks(keep(m, 5000)).includes("status"), false, "no more probes");
});

Deno.test("LOG_ONLY: failures are only logged, and after retry_count of them the monitor quits", () => {
  const m = online([member("db", { failoverMode: "LOG_ONLY", retryCount: 2 })]);
  for (const t of [2100, 3200]) {
    const fx = probe(m, t, 1);
    assertEquals(hooks(fx), [], "nothing restarts");
    assertEquals(m.members[0].status.value, "FAULTED");
  }
  assertEquals(m.members[0].unmonitored, true);
});

Deno.test("scha_resource_setstatus: a member's status as the fault monitor says it", () => {
  const m = online([member("db")]);
  let fx = run(m, {
    type: "setstatus",
    now: 1100,
    id: 5,
    member: "db",
    status: "DEGRADED",
    message: "slow",
  });
  assertEquals(replyOf(fx, 5)?.code, 0);
  assertEquals(m.members[0].status, { value: "DEGRADED", message: "slow" });
  fx = run(m, { type: "setstatus", now: 1100, id: 6, member: "x", status: "OK", message: "" });
  assertEquals(replyOf(fx, 6)?.code, SCHA_ERR.RSRC);
});

Deno.test("status in words: budgets, pingpong blocks with their end, a faulted member", () => {
  const m = online([member("db", { retryCount: 2 })]);
  ask(m, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  ask(m, 1200, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  m.policy.pingpong.push({ node: "b", member: "db", at: wallNow(m) });
  m.members[0].failures.push({ at: 1100, weight: 100 }, { at: 1200, weight: 100 });
  m.members[0].status = { value: "FAULTED", message: "giveover refused" };
  const st = statusOf(m, 60_000, (ms) => `T+${ms - wallNow(m)}`);
  const notes = st.explanations;
  assert(
    notes.includes(
      "member db: restarts 2/2 in 5m0s, window resets in 4m1s: none left, the next failure " +
        "asks for a giveover",
    ),
    notes.join("\n"),
  );
  assert(
    notes.some((n) =>
      n.startsWith("giveover by db to b blocked by pingpong until T+3600000") &&
      n.endsWith("(59m1s, pingpong_interval 1h0m)")
    ),
    notes.join("\n"),
  );
  assert(
    notes.includes("member db: ONLINE_FAULTED (probe failed 2 times in 5m0s): giveover refused"),
    notes.join("\n"),
  );
  assertEquals(st.rgState, "ONLINE");
  assertEquals(st.members[0].restarts.used, 2);
});

Deno.test("pingpong marks come only from the node that was primary, for a member of the group", () => {
  const { m: b } = make("b", { roleOnStart: "secondary", members: [member("db")] });
  run(b, { type: "message", now: 100, from: "a", msg: hb({ role: "primary", epoch: 1 }) });
  const release = (epoch: number, pingpong: string): Message => ({
    type: "release",
    resource: "r",
    epoch,
    successor: null,
    pingpong,
  });
  // The watchdog, a stale epoch, an unknown member: no mark.
  run(b, { type: "message", now: 200, from: "w", msg: release(1, "db") });
  run(b, { type: "message", now: 200, from: "a", msg: release(0, "db") });
  run(b, { type: "message", now: 200, from: "a", msg: release(1, "nope") });
  assertEquals(b.policy.pingpong, []);
  // The primary of epoch 1 releasing for db, many times over: one mark.
  for (let i = 0; i < 5000; i++) {
    run(b, { type: "message", now: 300 + i, from: "a", msg: release(1, "db") });
  }
  assertEquals(b.policy.pingpong.map((p) => [p.node, p.member]), [["a", "db"]]);
});

Deno.test("restart counts are bounded: retry_count + 1 kept, however many are reported", () => {
  const m = online([member("db", { retryCount: 3, retryIntervalMs: 3600 * I })]);
  for (let i = 0; i < 10_001; i++) ask(m, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  assertEquals(m.policy.restarts.db.length, 4);
  assertEquals(restartBudget(m, m.members[0]).used, 4);
});

Deno.test("a member named constructor or toString is a name like any other", () => {
  const m = online([member("constructor"), member("toString")]);
  const r = ask(m, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "constructor" });
  assertEquals(r.reply?.code, 0);
  assertEquals(restartBudget(m, m.members[0]).used, 1);
  assertEquals(restartBudget(m, m.members[1]).used, 0);
  assertEquals(statusOf(m).members.map((x) => x.restarts.used), [1, 0]);
});

Deno.test("pingpong: a mark of the whole group (ctl giveover) blocks every member's giveover", () => {
  const m = online([member("db")]);
  m.policy.pingpong.push({ node: "b", member: "", at: wallNow(m) });
  const r = ask(m, 1100, { optag: "CHECK_GIVEOVER", member: "db" }).reply!;
  assertEquals(r.code, SCHA_ERR.CHECKS);
  assertStringIncludes(r.message, "b: pingpong");
});

Deno.test("SCHA_ERR numbers are Solaris's, 0 to 18, as scripts compare $? with them", () => {
  // Literal numbers (scha_calls(3HA)): tests that compare with SCHA_ERR.X would follow a
  // renumbering; this one does not.
  assertEquals(Object.entries(SCHA_ERR), [
    ["NOERR", 0],
    ["NOMEM", 1],
    ["HANDLE", 2],
    ["INVAL", 3],
    ["TAG", 4],
    ["RECONF", 5],
    ["ACCESS", 6],
    ["SEQID", 7],
    ["DEPEND", 8],
    ["STATE", 9],
    ["METHOD", 10],
    ["NODE", 11],
    ["RG", 12],
    ["RT", 13],
    ["RSRC", 14],
    ["PROP", 15],
    ["CHECKS", 16],
    ["RSTATUS", 17],
    ["INTERNAL", 18],
  ]);
});

Deno.test("RG_STATE on a watchdog is OFFLINE: it runs no member (it said PENDING_OFFLINE for ever)", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  run(m, { type: "tick", now: 5 * I });
  assertEquals(rgState(m), "OFFLINE");
  assertEquals(statusOf(m).rgState, "OFFLINE");
});

Deno.test("monitor_check vetoes too long for the wire are cut so that the check_result is still sent (it was refused by the codec, and the giveover waited for its timeout)", () => {
  const { b, checks } = askedToCheck();
  let fx: Effect[] = [];
  for (const [i, h] of checks.entries()) {
    fx = run(b, {
      type: "hook_done",
      now: 150 + i,
      id: h.id,
      method: "monitor_check",
      outcome: { kind: "exit", code: 1, output: "x".repeat(700) },
    });
  }
  const res = sent(fx, "check_result")[0].msg as Message & { type: "check_result" };
  assertEquals(res.ok, false);
  assert(res.reason.length <= MAX_REASON_LENGTH, `${res.reason.length} chars`);
  assert(res.reason.endsWith("…"));
  // What the peer's codec makes of it: the same message, not a refusal.
  const decoded = parseMessage(res);
  assert(!(decoded instanceof Error), String(decoded));
});

Deno.test("a GIVEOVER of the whole group (ctl giveover, no member) clears every member's restart count here, as one by a member clears that member's", () => {
  const m = online([member("db"), member("ip")]);
  m.policy.restarts = { db: [wallNow(m)], ip: [wallNow(m), wallNow(m)] };
  m.policy.groupRestarts = [wallNow(m)];
  // No secondary is connected: refused, and the counters are cleared all the same (§3.3 item 5).
  ask(m, 1000, { optag: "GIVEOVER", member: null });
  assertEquals(Object.values(m.policy.restarts).flat(), []);
  assertEquals(m.policy.groupRestarts, []);
});
