/**
 * The built-in fault monitor (scha-semantics.md §9.3), for members of a group
 * that is ONLINE on this primary. Each failed probe adds to the member's
 * history over retry_interval (stopped: 100, unknown: 50, as DSDL severities);
 * once the history reaches 100:
 *
 * - LOG_ONLY: status FAULTED and a log line; after retry_count such faults the
 *   monitor quits that member (ONLINE_NOT_MONITORED);
 * - within the restart budget (retry_count in retry_interval): a
 *   RESOURCE_RESTART of the member, through the one request executor;
 * - RESTART_ONLY out of budget: FAULTED, and the monitor quits the member;
 * - otherwise a GIVEOVER; refused, the member is FAULTED and probing goes on
 *   (the refusal reset the counters, so the next fault restarts again).
 */
import type { Effect, ServiceState } from "./types.ts";
import { human as fmt } from "./timing.ts";
import { log, type Machine, type MemberRun } from "./state.ts";
import { restartBudget } from "./policy.ts";
import { onRequest } from "./scha.ts";

/** Severity of a failed probe: a member that says stopped failed completely. */
export function failureWeight(state: ServiceState): number {
  return state === "stopped" ? 100 : 50;
}

/**
 * The member's failure history that counts toward the next action: within
 * retry_interval, and since the monitor last acted (a query).
 */
export function failureSum(m: Machine, x: MemberRun): number {
  const from = Math.max(m.now - x.settings.retryIntervalMs, x.actedAt);
  return x.failures.filter((f) => f.at > from).reduce((a, f) => a + f.weight, 0);
}

/** Failed probes within retry_interval, acted on or not (for status). */
export function recentFailures(m: Machine, x: MemberRun): number {
  return x.failures.filter((f) => f.at > m.now - x.settings.retryIntervalMs).length;
}

/** A probe of an online member did not say running: weigh it, and act when it adds up. */
export function onMemberFailure(m: Machine, fx: Effect[], x: MemberRun, state: ServiceState) {
  const s = x.settings;
  const from = m.now - s.retryIntervalMs;
  x.failures = x.failures.filter((f) => f.at > from);
  x.failures.push({ at: m.now, weight: failureWeight(state) });
  const sum = failureSum(m, x);
  const probes = recentFailures(m, x);
  if (m.requests.size > 0) {
    // A request is under way (a restart, a giveover): it decides; the failure still counts.
    log(fx, "debug", `member ${s.name}: probe said ${state} while a request is under way`);
    return;
  }
  if (sum < 100) {
    x.status = {
      value: "DEGRADED",
      message: `probe said ${state} (${sum}/100 in ${fmt(s.retryIntervalMs)})`,
    };
    log(fx, "warning", `member ${s.name}: probe said ${state}; history ${sum}/100`);
    return;
  }
  x.actedAt = m.now;
  const why = `probe failed ${probes} time${probes === 1 ? "" : "s"} in ${fmt(s.retryIntervalMs)}`;
  if (s.failoverMode === "LOG_ONLY") {
    x.faults += 1;
    x.status = { value: "FAULTED", message: `${why}; failover_mode LOG_ONLY: logged only` };
    log(fx, "error", `member ${s.name}: FAULTED (${why}); failover_mode LOG_ONLY: no action`);
    if (x.faults >= s.retryCount) quit(fx, x);
    return;
  }
  const budget = restartBudget(m, x);
  if (budget.used < budget.max) {
    x.status = {
      value: "DEGRADED",
      message: `${why}; restarting (${budget.used + 1}/${budget.max} in ${fmt(budget.windowMs)})`,
    };
    log(fx, "warning", `member ${s.name}: ${why}; restart ${budget.used + 1} of ${budget.max}`);
    const id = -(m.nextRequestId++);
    onRequest(m, fx, id, { optag: "RESOURCE_RESTART", member: s.name }, true);
    return;
  }
  if (s.failoverMode === "RESTART_ONLY") {
    x.status = { value: "FAULTED", message: `${why}; restarts used up (RESTART_ONLY)` };
    log(
      fx,
      "error",
      `member ${s.name}: ${budget.max} restarts used up; failover_mode RESTART_ONLY`,
    );
    return quit(fx, x);
  }
  log(
    fx,
    "warning",
    `member ${s.name}: ${why} after ${budget.max} restarts: giving the group over`,
  );
  // A refusal (now or after the checks) marks the member FAULTED (scha.ts).
  onRequest(m, fx, -(m.nextRequestId++), { optag: "GIVEOVER", member: s.name }, true);
}

/** The monitor stops watching the member until the group is started again. */
function quit(fx: Effect[], x: MemberRun) {
  x.unmonitored = true;
  x.status = {
    value: "FAULTED",
    message: "Application faulted, but not restarted. Probe quitting.",
  };
  log(fx, "error", `member ${x.settings.name}: the monitor quits (ONLINE_NOT_MONITORED)`);
}
