/**
 * Role changes, in one place: the table of allowed (from, cause, to), one
 * entry function per role that resets what that role must not inherit, and
 * the one sentence each cause is rendered as. A change the table does not
 * list is logged and ignored, never thrown.
 *
 * Order of effects for every change: persist (a promotion's new epoch is on
 * disk before anything announces it), transition, log, `role` hook; then, when
 * leaving the primary role, the start in flight is cancelled and the release
 * waits for the service to be stopped.
 */
import type { Cause, Effect, NodeId, Role, Time } from "./types.ts";
import { MAX_EPOCH } from "./types.ts";
import { fmt } from "./timing.ts";
import { hookEffect, log, type Machine, mayBeActive, persist } from "./state.ts";

const ALL: readonly Role[] = ["init", "primary", "secondary", "watchdog"];

/** Every role change the machine makes, by cause. */
export const TRANSITIONS: readonly {
  from: readonly Role[];
  cause: Cause["kind"];
  to: readonly Role[];
}[] = [
  { from: ["init"], cause: "role_on_start", to: ["primary", "secondary", "watchdog"] },
  { from: ["init"], cause: "restored", to: ["primary", "secondary", "watchdog"] },
  { from: ALL, cause: "operator", to: ALL },
  { from: ["primary"], cause: "switchover", to: ["secondary"] },
  { from: ["secondary"], cause: "takeover", to: ["primary"] },
  { from: ["secondary"], cause: "handover", to: ["primary"] },
  { from: ["primary"], cause: "self_fence", to: ["secondary"] },
  { from: ["primary"], cause: "fenced_by", to: ["secondary"] },
  { from: ["primary"], cause: "yield", to: ["secondary"] },
  { from: ["primary"], cause: "give_up", to: ["secondary"] },
  { from: ["primary"], cause: "giveover", to: ["secondary"] },
  { from: ["primary"], cause: "shutdown", to: ["secondary"] },
  { from: ALL, cause: "removed", to: ["init"] },
];

/** Is (from, cause, to) a row of the table? */
export function allowed(from: Role, cause: Cause["kind"], to: Role): boolean {
  return TRANSITIONS.some((t) => t.cause === cause && t.from.includes(from) && t.to.includes(to));
}

/** The one sentence for a cause, in logs, events and status. */
export function describeCause(c: Cause): string {
  switch (c.kind) {
    case "role_on_start":
      return "role_on_start";
    case "restored":
      return "restored from state_dir";
    case "operator":
      return c.force ? "operator (forced)" : "operator";
    case "switchover":
      return c.successor
        ? `switchover: handing over to ${c.successor}`
        : "switchover: no secondary";
    case "takeover":
      return `takeover: ${c.complaints} complaints from ${c.watchdogs.join(", ")}; primary ` +
        `${c.primary ?? "(none seen)"} ` +
        (c.fenced ? "fenced" : `silent for ${fmt(c.silenceMs)} > ${fmt(c.waitMs)}`);
    case "handover":
      return `handover from ${c.from}`;
    case "self_fence":
      return `self-fencing: lease expired, no acknowledgement from a quorum for ${fmt(c.leaseMs)}`;
    case "fenced_by":
      return `fenced by ${c.node}`;
    case "yield":
      return `yield to ${c.to} (epoch ${c.epoch})` +
        (c.reportedBy ? `, reported by ${c.reportedBy}` : "");
    case "give_up":
      return `giving up: ${c.attempts} start attempts failed`;
    case "giveover":
      return `giveover to ${c.to}` +
        (c.internal
          ? `: member ${c.member} kept failing after its restarts`
          : c.member
          ? ` asked by member ${c.member}`
          : " asked by the operator");
    case "shutdown":
      return `shutdown: handing over to ${c.successor}`;
    case "removed":
      return "resource removed from the configuration";
  }
}

/** What each role must not inherit from the one before. */
const ENTER: Record<Role, (m: Machine, cause: Cause) => void> = {
  primary(m, cause) {
    m.forced = cause.kind === "operator" && cause.force;
    m.attempts = 0;
    m.nextStartAt = m.now;
    m.grantsFrom.clear();
    m.sent.clear();
    m.leaseUntil = null;
    // Detected: when the first complaint that counted arrived (a handover is noticed at once).
    m.failover = cause.kind === "takeover" || cause.kind === "handover"
      ? {
        kind: cause.kind,
        from: cause.kind === "takeover" ? cause.primary : cause.from,
        detectedAt: Math.min(m.now, ...m.complaints.map((c) => c.at)),
        decidedAt: m.now,
        oldStoppedAt: null,
        startedAt: null,
      }
      : null;
    m.complaints = [];
    m.fenced = null;
    m.releasePending = null;
    // The last primary this node knows of is now itself: nothing to fence after a step-down.
    m.lastPrimary = m.settings.self;
    m.lastPrimaryEpoch = m.epoch;
    m.note = m.forced ? "forced primary: running without a lease" : "waiting for a lease";
    m.nextHeartbeatAt = m.now; // ask for a lease at once
  },
  secondary(m) {
    m.forced = false;
    m.complaints = [];
    m.note = "";
  },
  watchdog(m) {
    m.forced = false;
    m.complaints = [];
    m.lastRunningSeen = null;
    m.note = "";
  },
  init(m) {
    m.forced = false;
    m.complaints = [];
    m.note = "";
  },
};

/**
 * Change the role for `cause`. A promotion takes the next epoch; leaving the
 * primary role cancels a start in flight and releases the lease (to
 * `successor`, if any) once the service is stopped. False when the table does
 * not allow it or no epoch is left.
 */
export function changeRole(
  m: Machine,
  fx: Effect[],
  to: Role,
  cause: Cause,
  successor: NodeId | null = null,
): boolean {
  const from = m.role;
  if (!allowed(from, cause.kind, to)) {
    log(fx, "error", `no transition ${from} -> ${to} on ${cause.kind}: ignored`);
    return false;
  }
  const leaving = from === "primary" && to !== "primary" ? m.epoch : null;
  if (to === "primary" && cause.kind !== "restored") {
    if (m.maxEpoch >= MAX_EPOCH) {
      log(fx, "error", `cannot become primary: epoch ${m.maxEpoch} is the highest allowed`);
      return false;
    }
    m.maxEpoch += 1;
    m.epoch = m.maxEpoch;
  }
  // The group is ONLINE (or faulted) only on the node that started it in this role,
  // and the monitor's history belongs to that run.
  m.online = false;
  m.faulted = false;
  for (const x of m.members) {
    x.failures = [];
    x.actedAt = -Infinity;
    x.faults = 0;
    x.unmonitored = false;
    x.startFailed = false;
    x.monitorFailed = false;
  }
  ENTER[to](m, cause);
  m.role = to;
  m.roleSince = m.now;
  if (to !== "primary") m.epoch = m.maxEpoch;
  persist(m, fx);
  const reason = describeCause(cause);
  m.lastTransition = { at: m.now, from, to, epoch: m.epoch, reason };
  fx.push({ type: "transition", from, to, epoch: m.epoch, cause, reason });
  log(fx, "info", `role ${from} -> ${to} (epoch ${m.epoch}): ${reason}`);
  fx.push(hookEffect(m, "role", [from, to]));
  if (leaving !== null) {
    // The peers may take over once the lease and a stop bound have passed: every stop from
    // here on is bounded by that, not by when it happens to begin.
    const base = m.leaseUntil !== null && m.leaseUntil < m.now ? m.leaseUntil : m.now;
    const stopBy = base + m.settings.stopTimeoutMs + m.settings.timeoutMs / 2;
    // A giveover tells every peer which member asked: its pingpong mark (scha §4.1).
    m.releasePending = cause.kind === "giveover"
      ? { epoch: leaving, successor, pingpong: cause.member ?? "", stopBy }
      : { epoch: leaving, successor, stopBy };
    m.leaseUntil = null;
    m.grantsFrom.clear();
    cancelStart(m, fx);
    widenStop(m, stopBy);
    stoppedAfterStepDown(m, fx);
  }
  return true;
}

/**
 * A start still running when the lease is gone must not finish: it is killed,
 * and the stop that follows at once undoes whatever it did.
 */
export function cancelStart(m: Machine, fx: Effect[]) {
  const method = m.busy?.method;
  // A monitor_start is part of the start: a fault monitor launched now could restart the
  // service behind the stop.
  if ((method === "start" || method === "monitor_start") && !m.defects.noStartCancel) {
    fx.push({ type: "cancel", id: m.busy!.id });
    log(fx, "warning", `${method} cancelled: this node may no longer run the service`);
  }
}

/**
 * Leaving the primary role in the middle of a restart's stop: the start half
 * is off, the members the restart left running are stopped by the same
 * operation, and all of it is due by `stopBy`.
 */
function widenStop(m: Machine, stopBy: Time) {
  const op = m.op;
  if (op?.kind !== "stop") return;
  op.deadline = stopBy;
  if (op.then === null) return;
  op.then = null;
  op.purpose = "stop";
  const planned = new Set(op.steps.map((s) => s.member));
  for (let i = m.members.length - 1; i >= 0; i--) {
    const x = m.members[i];
    if (planned.has(i) || (!x.dirty && x.state === "stopped")) continue;
    if (x.settings.hasMonitorStop) op.steps.push({ member: i, method: "monitor_stop" });
    op.steps.push({ member: i, method: "stop" });
  }
}

/** Once the service is stopped after a step-down, release the lease to every peer. */
export function stoppedAfterStepDown(m: Machine, fx: Effect[]) {
  const r = m.releasePending;
  if (!r || mayBeActive(m)) return;
  m.releasePending = null;
  for (const to of m.settings.peers) {
    fx.push({
      type: "send",
      to,
      msg: {
        type: "release",
        resource: m.settings.name,
        epoch: r.epoch,
        successor: r.successor,
        ...(r.pingpong !== undefined ? { pingpong: r.pingpong } : {}),
      },
    });
  }
}
