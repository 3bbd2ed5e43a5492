/**
 * The status view's sentences for people in the situations where an operator
 * must act or wait: they say what happens next and what to do. (The exact
 * words may change; each test checks the facts a sentence must carry.)
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { statusOf } from "./status.ts";
import { wallNow } from "./state.ts";
import { ask, finish, hb, I, make, member, online, run } from "./test_helpers.ts";

const notes = (m: Parameters<typeof statusOf>[0], at?: number) =>
  statusOf(m, at, () => "HH:MM").explanations;

Deno.test("status: a primary whose peers are gone says its lease will not be renewed, and what follows", () => {
  const m = online();
  assert(!notes(m, 1040).some((n) => n.includes("renew")), notes(m, 1040).join("\n"));
  // Peers last heard at 1030; past the liveness bound (2 s) the lease still runs (to ~4 s).
  const later = notes(m, 3100);
  const line = later.find((n) => n.includes("renew"));
  assert(line, later.join("\n"));
  for (const fact of ["0 of 2 peers connected", "1 needed", "stops r", "self-fencing"]) {
    assert(line.includes(fact), line);
  }
});

Deno.test("status: a failed stop on a node giving the resource up says it is retried, and the risk", () => {
  const m = online([member("r")], { hasPanic: false });
  run(m, { type: "command", now: 1100, command: { role: "secondary" } });
  finish(m, [], "stop", 1200, 1);
  const line = notes(m).find((n) => n.startsWith("stop failed"));
  assert(line, notes(m).join("\n"));
  for (const fact of ["may still run here", "no panic command", `every ${I / 1000}s`, "by hand"]) {
    assert(line.includes(fact), line);
  }

  const p = online([member("r")], { hasPanic: true });
  run(p, { type: "command", now: 1100, command: { role: "secondary" } });
  finish(p, [], "stop", 1200, 1);
  const panicked = notes(p).find((n) => n.startsWith("stop failed"));
  assert(panicked?.includes("panic ran"), notes(p).join("\n"));
});

Deno.test("status: a failed stop on a primary that keeps its lease says how to clear it", () => {
  const m = online([member("r")], { hasPanic: false });
  ask(m, 1100, { optag: "RESTART", member: "r" });
  finish(m, [], "stop", 1200, 1);
  assertEquals(statusOf(m).rgState, "ERROR_STOP_FAILED");
  const line = notes(m).find((n) => n.startsWith("stop failed"));
  assert(line, notes(m).join("\n"));
  for (const fact of ["ERROR_STOP_FAILED", "may still run", "hastmon ctl restart r"]) {
    assert(line.includes(fact), line);
  }
});

Deno.test("status: a pingpong mark on the node it protects reads as a giveover back here", () => {
  const m = online();
  m.policy.pingpong.push({ node: "a", member: "r", at: wallNow(m) });
  m.policy.pingpong.push({ node: "b", member: "r", at: wallNow(m) });
  const marks = notes(m).filter((n) => n.includes("pingpong"));
  assertEquals(marks.length, 2, marks.join("\n"));
  assert(marks[0].startsWith("giveover by r back to a (this node) blocked"), marks[0]);
  assert(marks[1].startsWith("giveover by r to b blocked"), marks[1]);
});

Deno.test("status: a member with no restarts left says what its next failure does", () => {
  const soft = online([member("db", { retryCount: 1 })]);
  ask(soft, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  assert(
    notes(soft).some((n) => n.startsWith("member db: restarts 1/1") && n.includes("giveover")),
    notes(soft).join("\n"),
  );
  const only = online([member("db", { retryCount: 2, failoverMode: "RESTART_ONLY" })]);
  ask(only, 1100, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  assert(!notes(only).some((n) => n.includes("none left")), "1 of 2: one left");
  ask(only, 1200, { optag: "RESOURCE_IS_RESTARTED", member: "db" });
  assert(
    notes(only).some((n) => n.includes("none left") && n.includes("monitoring")),
    notes(only).join("\n"),
  );
});

Deno.test("status: a watchdog says which node it cannot complain to", () => {
  const { m } = make("w", { roleOnStart: "watchdog" });
  run(m, { type: "message", now: 100, from: "a", msg: hb({ role: "primary", epoch: 1 }) });
  const deaf = notes(m).filter((n) => n.includes("complaints cannot reach"));
  assertEquals(deaf.length, 1, notes(m).join("\n"));
  assert(deaf[0].startsWith("b unreachable"), deaf[0]);
  run(m, {
    type: "message",
    now: 200,
    from: "b",
    msg: hb({ role: "secondary", state: "stopped", epoch: 1 }),
  });
  assertEquals(notes(m).filter((n) => n.includes("complaints cannot reach")), []);
  // The primary unreachable is what complaints are for, not a node that misses them.
  const gone = notes(m, 200 + 3 * I).filter((n) => n.includes("complaints cannot reach"));
  assertEquals(gone.map((n) => n.split(" ")[0]), ["b"]);
});

Deno.test("status: a primary waiting for its first lease says so once", () => {
  const { m } = make("a", { roleOnStart: "primary" });
  const waiting = notes(m).filter((n) => n.includes("waiting for a lease"));
  assertEquals(waiting, ["waiting for a lease from 1 of 2 peers"]);
});
