/**
 * Role changes through the one table: typed causes, refusals of changes the
 * table does not list, the planned switchover, and connect/disconnect.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { allowed, changeRole, describeCause, TRANSITIONS } from "./roles.ts";
import { switchoverPlan } from "./machine.ts";
import type { Effect, Message } from "./types.ts";
import { finish, grantFrom, hb, hooks, make, ofType, run } from "./test_helpers.ts";

Deno.test("the table: a takeover only from secondary, a self-fence only from primary", () => {
  assert(allowed("secondary", "takeover", "primary"));
  assert(!allowed("watchdog", "takeover", "primary"));
  assert(!allowed("init", "self_fence", "secondary"));
  assert(allowed("primary", "self_fence", "secondary"));
  // Every cause kind appears in the table.
  const kinds = new Set(TRANSITIONS.map((t) => t.cause));
  for (
    const k of [
      "role_on_start",
      "restored",
      "operator",
      "switchover",
      "takeover",
      "handover",
      "self_fence",
      "fenced_by",
      "yield",
      "give_up",
      "shutdown",
      "removed",
    ]
  ) assert(kinds.has(k as never), k);
});

Deno.test("a change the table does not list is logged and ignored, never thrown", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  const fx: Effect[] = [];
  const done = changeRole(m, fx, "primary", {
    kind: "takeover",
    complaints: 4,
    watchdogs: [],
    primary: null,
    silenceMs: 0,
    waitMs: 0,
    fenced: false,
  });
  assertEquals(done, false);
  assertEquals(m.role, "watchdog");
  assertEquals(ofType(fx, "transition"), []);
  assert(ofType(fx, "log").some((l) => l.level === "error"));
});

Deno.test("every cause renders as one sentence", () => {
  assertEquals(describeCause({ kind: "handover", from: "a" }), "handover from a");
  assertEquals(
    describeCause({ kind: "switchover", successor: "b" }),
    "switchover: handing over to b",
  );
});

/** A running primary a with b connected as a secondary. */
function runningPrimary() {
  const { m } = make("a", { roleOnStart: "primary" });
  grantFrom(m, "w", 10);
  finish(m, [], "status", 20, 0);
  run(m, { type: "message", now: 30, from: "b", msg: hb({ role: "secondary", state: "stopped" }) });
  return m;
}

Deno.test("switchover: `role secondary` on the primary hands over to the best secondary once stopped", () => {
  const m = runningPrimary();
  assertEquals(switchoverPlan(m), { successor: "b", blocked: null });
  let fx = run(m, { type: "command", now: 40, command: { role: "secondary" } });
  assertEquals(m.role, "secondary");
  assertEquals(ofType(fx, "transition")[0].cause, { kind: "switchover", successor: "b" });
  fx = finish(m, fx, "stop", 50, 0);
  const release = ofType(fx, "send").find((s) => s.msg.type === "release")!.msg as Message & {
    type: "release";
  };
  assertEquals(release.successor, "b");
});

Deno.test("switchover --to: a node that is not a connected secondary is refused, nothing changes", () => {
  const m = runningPrimary();
  assertEquals(switchoverPlan(m, "w").blocked, "w is not a connected secondary");
  assertEquals(switchoverPlan(m, "zz").blocked, "zz is not a node of this resource");
  const fx = run(m, { type: "command", now: 40, command: { role: "secondary", to: "w" } });
  assertEquals(m.role, "primary");
  assertEquals(hooks(fx).includes("stop"), false);
});

Deno.test("the named successor takes over at once on the release", () => {
  const { m } = make("b", { roleOnStart: "secondary" });
  run(m, { type: "message", now: 10, from: "a", msg: hb({ epoch: 1 }) });
  run(m, { type: "message", now: 20, from: "a", msg: hb({ epoch: 1, role: "secondary" }) });
  const fx = run(m, {
    type: "message",
    now: 30,
    from: "a",
    msg: { type: "release", resource: "r", epoch: 1, successor: "b" },
  });
  assertEquals(m.role, "primary");
  assertEquals(ofType(fx, "transition")[0].cause, { kind: "handover", from: "a" });
  // It asks for its lease in the same step.
  assert(ofType(fx, "send").some((s) => s.msg.type === "heartbeat" && s.msg.role === "primary"));
});

Deno.test("connect and disconnect run on the primary when a secondary's link comes and goes", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  let fx = run(m, { type: "message", now: 10, from: "b", msg: hb({ role: "secondary" }) });
  const notes = (f: Effect[]) =>
    ofType(f, "hook").filter((h) => h.method === "connect" || h.method === "disconnect").map((
      h,
    ) => `${h.method} ${h.args.join(" ")}`);
  assertEquals(notes(fx), ["connect b"]);
  fx = run(m, { type: "message", now: 500, from: "b", msg: hb({ role: "secondary" }) });
  assertEquals(notes(fx), [], "once per change");
  fx = run(m, { type: "peer_down", now: 600, peer: "b" });
  assertEquals(notes(fx), ["disconnect b"]);
  // The watchdog's link is not a secondary's: no hook for it.
  fx = run(m, { type: "message", now: 700, from: "w", msg: hb({ role: "watchdog" }) });
  assertEquals(notes(fx), []);
});
