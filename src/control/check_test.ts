import { assertEquals } from "../../tests/assert.ts";
import { CHECK, evaluateCheck } from "./check.ts";
import type { StatusResult } from "./protocol.ts";
import type { ResourceStatus } from "../core/status.ts";
import { memberStatus, primaryStatus, secondaryStatus, watchdogStatus } from "./test_helpers.ts";

function on(node: string, ...resources: ResourceStatus[]): StatusResult {
  return { node, version: "0.1.0", pid: 1, uptimeMs: 1, resources };
}

/** primaryStatus with its watchdog connected: the healthy primary. */
function healthyPrimary(): ResourceStatus {
  const st = primaryStatus();
  st.peers[1].connected = true;
  return st;
}

Deno.test("check: a primary running with secondary and watchdog connected is OK", () => {
  const r = evaluateCheck(on("alpha", healthyPrimary()));
  assertEquals(r.code, CHECK.OK);
  assertEquals(r.line, "HASTMON OK - web: primary here (running), epoch 7, 2/2 peers connected");
});

Deno.test("check: a watchdog that sees the primary running is OK", () => {
  const r = evaluateCheck(on("wd", watchdogStatus()));
  assertEquals(r.code, CHECK.OK);
  assertEquals(
    r.line,
    "HASTMON OK - web: watchdog here, primary alpha (running), epoch 7, 2/2 peers connected",
  );
});

Deno.test("check: watchdog unreachable is a WARNING", () => {
  const r = evaluateCheck(on("alpha", primaryStatus()));
  assertEquals(r.code, CHECK.WARNING);
  assertEquals(
    r.line,
    "HASTMON WARNING - web: no watchdog reachable: no automatic failover " +
      "(primary here (running), epoch 7, 1/2 peers connected)",
  );
});

Deno.test("check: a primary with no secondary connected is a WARNING", () => {
  const st = healthyPrimary();
  st.peers[0].connected = false;
  const r = evaluateCheck(on("alpha", st));
  assertEquals(r.code, CHECK.WARNING);
  assertEquals(r.line.includes("no secondary connected: nowhere to fail over"), true);
});

Deno.test("check: no primary running anywhere known is CRITICAL, and comes first", () => {
  // The secondary hears no primary (alpha is not connected).
  const r = evaluateCheck(on("beta", secondaryStatus(), healthyPrimary()));
  assertEquals(r.code, CHECK.CRITICAL);
  assertEquals(
    r.line.startsWith("HASTMON CRITICAL - db: no primary running (secondary here"),
    true,
  );
  assertEquals(r.line.includes("; web: primary here"), true);
  // A primary that is not running yet (waiting for its lease) is not a running primary.
  const waiting = healthyPrimary();
  waiting.state = "stopped";
  assertEquals(evaluateCheck(on("alpha", waiting)).code, CHECK.CRITICAL);
});

Deno.test("check: a failed stop is CRITICAL; forced primary and init are WARNINGs", () => {
  const failed = healthyPrimary();
  failed.state = "stop_failed";
  assertEquals(evaluateCheck(on("alpha", failed)).code, CHECK.CRITICAL);
  const forced = healthyPrimary();
  forced.forced = true;
  assertEquals(evaluateCheck(on("alpha", forced)).code, CHECK.WARNING);
  const init = watchdogStatus();
  init.role = "init";
  const r = evaluateCheck(on("wd", init));
  assertEquals(r.code, CHECK.WARNING);
  assertEquals(r.line.includes("init here: out of the failover set"), true);
});

Deno.test("check: unknown names and an empty daemon are UNKNOWN; CRITICAL still wins", () => {
  assertEquals(evaluateCheck(on("alpha", healthyPrimary()), ["nope"]).code, CHECK.UNKNOWN);
  assertEquals(evaluateCheck(on("alpha")).line, "HASTMON UNKNOWN - no resources on alpha");
  assertEquals(evaluateCheck(on("beta", secondaryStatus()), ["nope"]).code, CHECK.CRITICAL);
});

Deno.test("check: a used-up restart budget and a DEGRADED member WARN; FAULTED, unmonitored or ONLINE_FAULTED is CRITICAL", () => {
  const budget = healthyPrimary();
  budget.members = [
    memberStatus("db", {
      status: "DEGRADED",
      restarts: { used: 2, max: 2, windowMs: 300_000, resetsInMs: 90_000 },
    }),
  ];
  let r = evaluateCheck(on("alpha", budget));
  assertEquals(r.code, CHECK.WARNING);
  assertEquals(r.line.includes("member db DEGRADED, member db restart budget used (2/2)"), true);

  const faulted = healthyPrimary();
  faulted.rgState = "ONLINE_FAULTED";
  faulted.members = [memberStatus("db", { status: "FAULTED", monitored: false })];
  r = evaluateCheck(on("alpha", faulted));
  assertEquals(r.code, CHECK.CRITICAL);
  assertEquals(
    r.line.includes("group ONLINE_FAULTED here, member db unmonitored (the monitor quit)"),
    true,
    r.line,
  );
});
