/**
 * Restarts and stops racing the lease and each other (from a cold safety
 * review of resource groups; each test failed on the code before its fix):
 * a lease lost in the middle of a RESOURCE_RESTART, a monitor_start still
 * running at lease loss, a STOP_FAILED member that a probe must not clear,
 * and a RESTART that resumes the monitor of a member it had quit.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { resourceState, rgState, SCHA_ERR } from "./scha.ts";
import {
  ask,
  finish,
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

Deno.test("a lease lost during a RESOURCE_RESTART's stop: every member stops within lease + stop_timeout, nothing starts", () => {
  const m = online(members(3));
  keep(m, 2000); // lease until 5000
  ask(m, 4900, { optag: "RESOURCE_RESTART", member: "m0" }); // stop m0 begins
  const lost = run(m, { type: "tick", now: 5001 });
  assertEquals(m.role, "secondary");
  // The guard is told the stop's deadline: the lease's end + stop_timeout (+ half a timeout).
  const stopping = ofType(lost, "guard").map((g) => g.command).find((c) => c.action === "stopping");
  assert(stopping && stopping.action === "stopping");
  assert(5001 + stopping.timeoutMs <= 5000 + I + I / 2 + 1, JSON.stringify(stopping));
  // m0's stop ends: no start, the other members follow in the same operation and deadline.
  const fx = finish(m, [], "stop", 5890, 0, "m0");
  assertEquals(hooks(fx), ["stop"]);
  assertEquals(m.op?.purpose, "stop");
  assert(m.op!.deadline <= 5000 + I + I / 2, `deadline ${m.op!.deadline}`);
  const rest = [...finish(m, [], "stop", 5900, 0, "m2"), ...finish(m, [], "stop", 5950, 0, "m1")];
  assertEquals(hooks(rest).includes("start"), false);
  assertEquals(m.members.map((x) => x.state), ["stopped", "stopped", "stopped"]);
  assertEquals(ofType(rest, "send").filter((s) => s.msg.type === "release").length, 2);
});

Deno.test("a monitor_start still running when the lease runs out is cancelled, and the stop follows", () => {
  const ms = members(2, { hasMonitorStart: true, monitorStartTimeoutMs: 60 * I });
  const { m } = make("a", { roleOnStart: "primary", members: ms, hasPanic: true });
  keep(m, 10);
  finish(m, [], "status", 20, 1, "m0");
  finish(m, [], "status", 20, 1, "m1");
  finish(m, [], "start", 30, 0, "m0");
  assertEquals(m.busy?.method, "monitor_start");
  const fx = run(m, { type: "tick", now: 3100 }); // lease out: self-fence
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "cancel").length, 1, "monitor_start is cancelled");
  const id = ofType(fx, "cancel")[0].id;
  const after = run(m, {
    type: "hook_done",
    now: 3200,
    id,
    method: "monitor_start",
    outcome: { kind: "killed", signal: "SIGTERM" },
  });
  assertEquals(hooks(after), ["stop"], "m0 is stopped at once");
});

Deno.test("a member's STOP_FAILED is not cleared by a probe; only RESTART (or a role change) may act on it", () => {
  const m = online([member("db"), member("ip")]);
  ask(m, 1100, { optag: "RESOURCE_RESTART", member: "db" });
  finish(m, [], "stop", 1110, 1, "db"); // SOFT: ERROR_STOP_FAILED with the lease held
  assertEquals(rgState(m), "ERROR_STOP_FAILED");
  keep(m, 3100);
  assertEquals(m.members[0].probe, null, "no probe of the member whose stop failed");
  assertEquals(resourceState(m, m.members[0]), "STOP_FAILED");
  const give = ask(m, 3200, { optag: "GIVEOVER", member: "db" }).reply!;
  assertEquals(give.code, SCHA_ERR.STATE);
  assertEquals(
    ask(m, 3200, { optag: "RESOURCE_RESTART", member: "ip" }).reply?.code,
    SCHA_ERR.STATE,
  );
  // RESTART stops every member again, the failed one included, then starts them.
  const r = ask(m, 3300, { optag: "RESTART", member: "db" });
  assertEquals(r.reply, undefined);
  assertEquals(hooks(r.fx), ["stop"]);
});

Deno.test("a RESTART of the group resumes the monitoring of a member the monitor had quit", () => {
  const m = online([member("db", { failoverMode: "RESTART_ONLY", retryCount: 0 })]);
  keep(m, 2100);
  const x = m.members[0];
  run(m, {
    type: "hook_done",
    now: 2110,
    id: x.probe!.id,
    method: "status",
    outcome: { kind: "exit", code: 1 },
  });
  assert(x.unmonitored, "quit");
  // RESTART_ONLY refuses a RESTART: the operator changes the mode (a reload), then restarts.
  x.settings = { ...x.settings, failoverMode: "SOFT" };
  const r = ask(m, 2200, { optag: "RESTART", member: "db" });
  assertEquals(r.reply, undefined);
  finish(m, [], "stop", 2210, 0, "db");
  finish(m, [], "start", 2220, 0, "db");
  assertEquals(x.unmonitored, false);
});
