/**
 * The service on this node: its members, started in order and stopped in
 * reverse, one hook at a time, brought where the role and the lease want it.
 *
 * - A start runs each member's `start` in order, skipping members already
 *   running. When one fails, the start is rolled back: every member that may
 *   run is stopped, in reverse order.
 * - A stop runs each member's `stop` in reverse order, all within one
 *   stop_timeout. A member whose stop fails makes the group stop_failed and
 *   runs `panic` at once when there is one (the guard is told, so that it does
 *   not run panic a second time).
 * - Each member is probed on its own clock; a probe that timed out or was
 *   killed is unknown, never running. The resource's state is derived from
 *   its members (see `groupState`).
 */
import type { Effect, HookMethod, HookOutcome, ServiceState } from "./types.ts";
import { describeOutcome } from "./types.ts";
import {
  groupState,
  hasLease,
  hookEffect,
  log,
  type Machine,
  mayBeActive,
  type MemberRun,
  quarantined,
} from "./state.ts";
import { changeRole, stoppedAfterStepDown } from "./roles.ts";

/** A standby re-checks that its copy is stopped every this many probe intervals. */
export const SECONDARY_PROBE_INTERVALS = 6;

/** status exit codes: 0 running, 1 stopped, anything else (timeout, kill, error) unknown. */
export function probeResult(outcome: HookOutcome): ServiceState {
  if (outcome.kind !== "exit") return "unknown";
  if (outcome.code === 0) return "running";
  if (outcome.code === 1) return "stopped";
  return "unknown";
}

/** Does the role want the service up here, now? */
export function wantUp(m: Machine): boolean {
  return m.role === "primary" && !m.shuttingDown && !m.removing && hasLease(m) &&
    !quarantined(m);
}

/**
 * May a start (of the next member) begin now? It needs the role, and some
 * lease left: a lease about to run out would fence right after.
 */
export function leaseAllowsStart(m: Machine): boolean {
  return wantUp(m) &&
    (m.forced || m.leaseUntil === null || m.leaseUntil - m.now >= m.settings.timeoutMs);
}

/**
 * Bring the service where the role wants it. Records in `reconcileAt` when it
 * wants to run again (a probe slot, the end of a back-off), or null.
 */
export function reconcile(m: Machine, fx: Effect[]) {
  m.reconcileAt = null;
  if (m.busy || m.role === "watchdog") return;
  const up = wantUp(m);
  const mayStart = m.now >= m.nextStartAt && leaseAllowsStart(m);
  const probing = m.members.some((x) => x.probe !== null);
  const dirty = m.members.some((x) => x.dirty);
  switch (groupState(m)) {
    case "running":
    case "starting":
      if (!up) return beginStop(m, fx, false);
      return probeDue(m, fx);
    case "stopped":
      if (mayStart && !probing) return beginStart(m, fx);
      if (up && m.now < m.nextStartAt) wakeAt(m, m.nextStartAt);
      // Stopped by itself after a start: run stop anyway before it counts as inactive.
      if (!up && dirty) return beginStop(m, fx, false);
      if (m.role === "secondary" && !m.shuttingDown) probeDue(m, fx);
      return;
    case "unknown": {
      // After a start that did not finish, stop at once: no probe can vouch for it.
      if (!up && dirty) return beginStop(m, fx, false);
      if (probing) return;
      // A probe first; only an unknown answer from the probe itself acts blind.
      if (m.members.some((x) => x.state === "unknown" && !x.probeSaidUnknown)) {
        return probeDue(m, fx, (x) => x.state === "unknown");
      }
      if (!up) return beginStop(m, fx, false);
      if (mayStart) return beginStart(m, fx);
      if (m.now < m.nextStartAt) wakeAt(m, m.nextStartAt);
      return;
    }
    case "stop_failed":
      // Try again every interval: a stop that failed once may succeed (or panic may).
      if (m.now >= m.nextStartAt) {
        m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
        return beginStop(m, fx, false);
      }
      return wakeAt(m, m.nextStartAt);
    case "stopping":
      return;
  }
}

function wakeAt(m: Machine, t: number) {
  m.reconcileAt = m.reconcileAt === null ? t : Math.min(m.reconcileAt, t);
}

/** Probe every member (that `which` picks) whose slot has come; note when the next one comes. */
function probeDue(m: Machine, fx: Effect[], which: (x: MemberRun) => boolean = () => true) {
  for (const x of m.members) {
    if (x.probe || !which(x)) continue;
    if (m.now >= x.nextProbeAt) runProbe(m, fx, x);
    else wakeAt(m, x.nextProbeAt);
  }
}

/** Run a member's status hook. */
export function runProbe(m: Machine, fx: Effect[], x: MemberRun) {
  const id = m.nextHookId++;
  x.probe = { id, since: m.now, stale: false };
  fx.push(hookEffect(m, "status", [], { id, member: x }));
}

/** Begin a start of the members, counting the attempt; give up and step down after `attempts`. */
export function beginStart(m: Machine, fx: Effect[]) {
  if (m.attempts >= m.settings.attempts) {
    changeRole(m, fx, "secondary", { kind: "give_up", attempts: m.attempts });
    // The service may be half up: stop it before releasing.
    for (const x of m.members) if (x.state !== "stopped") x.state = "unknown";
    return beginStop(m, fx, false);
  }
  m.attempts += 1;
  m.op = {
    kind: "start",
    index: -1,
    since: m.now,
    deadline: Infinity,
    rollback: false,
    failed: false,
  };
  log(fx, "info", `starting (attempt ${m.attempts} of ${m.settings.attempts})`);
  // The guard knows of the start before it begins: a kill -9 right after is covered.
  syncGuard(m, fx);
  advanceStart(m, fx);
}

/** Start the next member that does not run; end the start when none is left. */
function advanceStart(m: Machine, fx: Effect[]) {
  const op = m.op!;
  for (let i = op.index + 1; i < m.members.length; i++) {
    const x = m.members[i];
    if (x.state === "running") continue;
    // Each member's start needs the lease as the first did: the one before may have
    // taken long (or the daemon was frozen meanwhile).
    if (!leaseAllowsStart(m)) {
      log(fx, "warning", "start interrupted: this node may no longer start the service");
      return beginStop(m, fx, true);
    }
    op.index = i;
    x.dirty = true;
    x.state = "starting";
    runMemberHook(m, fx, "start", x);
    return;
  }
  m.op = null;
  log(fx, "info", "start finished; waiting for status to confirm");
}

/** Begin a stop of every member that may run, in reverse order, within one stop_timeout. */
export function beginStop(m: Machine, fx: Effect[], rollback: boolean) {
  m.op = {
    kind: "stop",
    index: m.members.length,
    since: m.now,
    deadline: m.now + m.settings.stopTimeoutMs,
    rollback,
    failed: false,
  };
  advanceStop(m, fx);
}

/** Stop the next member (going backwards) that may run; end the stop when none is left. */
function advanceStop(m: Machine, fx: Effect[]) {
  const op = m.op!;
  for (let i = op.index - 1; i >= 0; i--) {
    const x = m.members[i];
    if (!x.dirty && x.state === "stopped") continue;
    op.index = i;
    x.state = "stopping";
    runMemberHook(m, fx, "stop", x, Math.max(1, op.deadline - m.now));
    return;
  }
  m.op = null;
  if (op.failed) {
    log(fx, "error", "stop failed: the service may still run here");
    // Tried again after an interval (a stop that failed once may succeed then).
    m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
    return;
  }
  log(fx, "info", op.rollback ? "start rolled back: stopped" : "stopped");
  // A failed start waits a probe interval before the next attempt.
  if (op.rollback) m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
  stoppedAfterStepDown(m, fx);
}

/** Run a member's start or stop: the one control hook in flight; probes in flight go stale. */
function runMemberHook(
  m: Machine,
  fx: Effect[],
  method: "start" | "stop",
  x: MemberRun,
  timeoutMs?: number,
) {
  const id = m.nextHookId++;
  m.busy = { id, method, member: x.settings.name, since: m.now };
  for (const y of m.members) if (y.probe) y.probe.stale = true;
  fx.push(hookEffect(m, method, [], { id, member: x, timeoutMs }));
}

/** Run a resource-wide control hook (fence, panic): at most one control hook at a time. */
export function runControlHook(m: Machine, fx: Effect[], method: HookMethod, args: string[]) {
  const id = m.nextHookId++;
  m.busy = { id, method, member: null, since: m.now };
  for (const y of m.members) if (y.probe) y.probe.stale = true;
  fx.push(hookEffect(m, method, args, { id }));
}

/** Take the result of a hook the machine waits for. */
export function onHookDone(
  m: Machine,
  fx: Effect[],
  id: number,
  method: HookMethod,
  outcome: HookOutcome,
) {
  const ok = outcome.kind === "exit" && outcome.code === 0;
  const probed = m.members.find((x) => x.probe?.id === id);
  if (probed) return onProbeDone(m, fx, probed, outcome);
  if (!m.busy || m.busy.id !== id) return; // a notification hook, or from before a restart
  const busy = m.busy;
  m.busy = null;
  const x = m.members.find((y) => y.settings.name === busy.member);
  const who = x && m.members.length > 1 ? `member ${x.settings.name}: ` : "";
  switch (method) {
    case "start":
      if (!x || !m.op) return;
      x.nextProbeAt = m.now + Math.min(m.settings.heartbeatIntervalMs, x.settings.probeIntervalMs);
      if (ok) {
        x.state = "starting";
        return advanceStart(m, fx);
      }
      x.state = "unknown";
      x.probeSaidUnknown = false;
      log(fx, "error", `${who}start failed (${describeOutcome(outcome)}): rolling back`);
      return beginStop(m, fx, true);
    case "stop":
      if (!x || !m.op) return;
      if (ok) {
        x.state = "stopped";
        x.dirty = false;
        return advanceStop(m, fx);
      }
      x.state = "stop_failed";
      m.op.failed = true;
      log(fx, "error", `${who}stop failed (${describeOutcome(outcome)})`);
      if (m.settings.hasPanic) {
        m.op = null;
        fx.push({ type: "guard", command: { action: "panicking" } });
        return runControlHook(m, fx, "panic", []);
      }
      // Without panic, stop what can be stopped; the group stays stop_failed.
      return advanceStop(m, fx);
    case "panic":
      log(
        fx,
        "error",
        `panic finished (${describeOutcome(outcome)}), the service state is unknown`,
      );
      for (const y of m.members) if (y.state !== "stopped" || y.dirty) y.state = "stop_failed";
      return;
    case "fence":
      if (ok) {
        m.fenced = true;
        log(fx, "warning", `fence of ${m.lastPrimary ?? "the primary"} succeeded`);
      } else {
        log(fx, "error", `fence failed (${describeOutcome(outcome)})`);
      }
      return;
  }
}

function onProbeDone(m: Machine, fx: Effect[], x: MemberRun, outcome: HookOutcome) {
  const stale = x.probe!.stale;
  x.probe = null;
  // A primary watches its service every probe interval; a standby checks now and then
  // that its own copy stays stopped (each probe is a process: it costs CPU).
  const every = m.role === "primary" ? 1 : SECONDARY_PROBE_INTERVALS;
  x.nextProbeAt = m.now + every * x.settings.probeIntervalMs;
  if (stale || m.busy || m.op) return;
  const state = m.defects.timeoutIsRunning && outcome.kind === "timeout"
    ? "running"
    : probeResult(outcome);
  if (state !== x.state) {
    const wasUp = x.state === "running" || x.state === "starting";
    const level = wasUp && state !== "running" ? "warning" : "info";
    const who = m.members.length > 1 ? `member ${x.settings.name} ` : "";
    log(fx, level, `${who}status: ${state} (${describeOutcome(outcome)})`);
  }
  x.state = state;
  x.probeSaidUnknown = state === "unknown";
  const group = groupState(m);
  // A step-down waits for "stopped": probes saying so are as good as a stop.
  if (group === "stopped") stoppedAfterStepDown(m, fx);
  if (group === "running") {
    m.attempts = 0;
    m.note = "";
    if (m.failover && m.failover.startedAt === null) m.failover.startedAt = m.now;
  }
}

/**
 * Keep the guard in step with the machine: armed with the lease end while
 * this primary may run the service, "stopping" once it stops it without a
 * lease, disarmed when nothing may run. Emits only changes.
 */
export function syncGuard(m: Machine, fx: Effect[]) {
  const g = m.guard;
  if (!mayBeActive(m)) {
    if (g.state !== "disarmed") {
      m.guard = { state: "disarmed" };
      fx.push({ type: "guard", command: { action: "disarm" } });
    }
    return;
  }
  if (m.role === "primary" && (m.forced || m.leaseUntil !== null)) {
    // (Planted defects remove both layers of a mechanism: the daemon's and its guard's.)
    const unbounded = m.forced || m.defects.noSelfFencing || m.defects.noStartCancel;
    const until = unbounded ? null : m.leaseUntil;
    const stale = g.state !== "armed" || g.until !== until || g.epoch !== m.epoch;
    if (stale) {
      m.guard = { state: "armed", until, epoch: m.epoch };
      fx.push({ type: "guard", command: { action: "arm", until, epoch: m.epoch } });
    }
    return;
  }
  if (m.op?.kind === "stop" && g.state === "armed") {
    m.guard = { state: "stopping" };
    fx.push({
      type: "guard",
      command: { action: "stopping", timeoutMs: Math.max(0, m.op.deadline - m.now) },
    });
  }
}
