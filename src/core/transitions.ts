/**
 * Role changes: promotion (a new epoch, persisted before it is announced),
 * stepping down (stop first, release the lease after), and plain role sets.
 * Every change yields a transition effect, a log line and the `role` hook.
 */
import type { Claim, Effect, NodeId, Role } from "./types.ts";
import { beats, hookEffect, isLive, log, type Machine, mayBeActive, persist } from "./state.ts";

/** Become primary with the next epoch, persisted before anything announces it. */
export function promote(m: Machine, fx: Effect[], reason: string, force: boolean) {
  const from = m.role;
  m.maxEpoch += 1;
  m.epoch = m.maxEpoch;
  m.role = "primary";
  m.forced = force;
  m.attempts = 0;
  m.grantsFrom.clear();
  m.sent.clear();
  m.leaseUntil = null;
  m.complaints = [];
  m.fenced = false;
  m.releasePending = null;
  m.roleSince = m.now;
  m.nextStartAt = m.now;
  m.note = force ? "forced primary: running without a lease" : "waiting for a lease";
  persist(m, fx);
  transition(m, fx, from, "primary", reason);
  m.nextHeartbeatAt = m.now; // ask for a lease at once (afterEvent sends it)
}

/** Leave the primary role; the service is stopped, then the lease is released. */
export function stepDown(
  m: Machine,
  fx: Effect[],
  to: Role,
  reason: string,
  successor: NodeId | null,
) {
  const epoch = m.epoch;
  setRole(m, fx, to, reason, false);
  m.releasePending = { epoch, successor };
  m.leaseUntil = null;
  m.grantsFrom.clear();
  cancelStart(m, fx);
  if (!mayBeActive(m)) stoppedAfterStepDown(m, fx);
}

/**
 * A start still running when the lease is gone must not finish: it is killed,
 * and the stop that follows at once undoes whatever it did.
 */
export function cancelStart(m: Machine, fx: Effect[]) {
  if (m.busy?.method === "start" && !m.defects.noStartCancel) {
    fx.push({ type: "cancel", id: m.busy.id });
    log(fx, "warning", "start cancelled: this node may no longer run the service");
  }
}

/** Set a role that is not a promotion; persisted, logged, and the `role` hook run. */
export function setRole(m: Machine, fx: Effect[], to: Role, reason: string, atStart: boolean) {
  const from = atStart ? "init" : m.role;
  m.role = to;
  m.forced = false;
  m.roleSince = m.now;
  m.complaints = [];
  m.note = "";
  if (to !== "primary") m.epoch = m.maxEpoch;
  persist(m, fx);
  transition(m, fx, from, to, reason);
}

/** Record a role change: transition effect, log line, `role` hook. */
export function transition(m: Machine, fx: Effect[], from: Role, to: Role, reason: string) {
  m.lastTransition = { at: m.now, from, to, epoch: m.epoch, reason };
  fx.push({ type: "transition", from, to, epoch: m.epoch, reason });
  log(fx, "info", `role ${from} -> ${to} (epoch ${m.epoch}): ${reason}`);
  fx.push(hookEffect(m, "role", [from, to]));
}

/** Once the service is stopped after a step-down, release the lease to every peer. */
export function stoppedAfterStepDown(m: Machine, fx: Effect[]) {
  const r = m.releasePending;
  if (!r || mayBeActive(m)) return;
  m.releasePending = null;
  fx.push({ type: "lease", until: null });
  for (const to of m.settings.peers) {
    fx.push({
      type: "send",
      to,
      msg: { type: "release", resource: m.settings.name, epoch: r.epoch, successor: r.successor },
    });
  }
}

/** The live secondary a departing primary hands over to: best priority, then name. */
export function bestSecondary(m: Machine): NodeId | null {
  let best: Claim | null = null;
  for (const [node, p] of m.peers) {
    if (p.role !== "secondary" || !isLive(m, p)) continue;
    const c = { node, epoch: 0, priority: p.priority };
    if (!best || beats(c, best)) best = c;
  }
  return best?.node ?? null;
}
