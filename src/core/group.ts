/**
 * The service on this node: its members, started in order and stopped in
 * reverse, one hook at a time, brought where the role and the lease want it.
 *
 * - A start runs each member's `start` (then `monitor_start`, if it has one)
 *   in order, skipping members already running. When a start fails, it is
 *   rolled back: every member that may run is stopped, in reverse order; then
 *   the failing member's `failover_mode` decides (scha-semantics.md §6).
 * - A stop runs each member's `monitor_stop` (if any) and `stop` in reverse
 *   order, all within one stop_timeout. A stop that fails when this node must
 *   give the resource up (lease gone, stepping down) runs `panic` at once when
 *   there is one; a stop that fails while this node keeps its lease (a
 *   restart) runs it only under failover_mode HARD, and otherwise leaves the
 *   group ERROR_STOP_FAILED for the operator.
 * - Each member is probed on its own clock; a probe that timed out or was
 *   killed is unknown, never running. Once the group has been ONLINE, a member
 *   that fails is the built-in monitor's (monitor.ts): restart within the
 *   budget, then give over.
 */
import type { Effect, HookEffect, HookMethod, HookOutcome, ServiceState } from "./types.ts";
import { describeOutcome } from "./types.ts";
import {
  groupState,
  hasLease,
  hookEffect,
  log,
  type Machine,
  mayBeActive,
  type MemberRun,
  persist,
  quarantined,
} from "./state.ts";
import { changeRole, stoppedAfterStepDown } from "./roles.ts";
import { recordFailedStart } from "./policy.ts";

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
  // Online (or faulted and left here): members are the monitor's and the operator's now.
  // A member whose stop failed keeps STOP_FAILED until an operator acts: no probe clears it.
  if (up && (m.online || m.faulted) && !m.op) {
    return probeDue(m, fx, (x) => !x.unmonitored && x.state !== "stop_failed");
  }
  const mayStart = m.now >= m.nextStartAt && leaseAllowsStart(m);
  const probing = m.members.some((x) => x.probe !== null);
  const dirty = m.members.some((x) => x.dirty);
  switch (groupState(m)) {
    case "running":
    case "starting":
      if (!up) return beginStop(m, fx, "stop");
      return probeDue(m, fx);
    case "stopped":
      if (mayStart && !probing) return beginStart(m, fx, "start");
      if (up && m.now < m.nextStartAt) wakeAt(m, m.nextStartAt);
      // Stopped by itself after a start: run stop anyway before it counts as inactive.
      if (!up && dirty) return beginStop(m, fx, "stop");
      if (m.role === "secondary" && !m.shuttingDown) probeDue(m, fx);
      return;
    case "unknown": {
      // After a start that did not finish, stop at once: no probe can vouch for it.
      if (!up && dirty) return beginStop(m, fx, "stop");
      if (probing) return;
      // A probe first; only an unknown answer from the probe itself acts blind.
      if (m.members.some((x) => x.state === "unknown" && !x.probeSaidUnknown)) {
        return probeDue(m, fx, (x) => x.state === "unknown");
      }
      if (!up) return beginStop(m, fx, "stop");
      if (mayStart) return beginStart(m, fx, "start");
      if (m.now < m.nextStartAt) wakeAt(m, m.nextStartAt);
      return;
    }
    case "stop_failed":
      // Try again every interval: a stop that failed once may succeed (or panic may).
      if (up) return; // ERROR_STOP_FAILED with the lease held: the operator's to clear
      if (m.now >= m.nextStartAt) {
        m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
        return beginStop(m, fx, "stop");
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

/**
 * Where in each period a member's probes fall: a hash of the resource's and the
 * member's names, so that the probes of a thousand resources are spread over
 * the interval instead of all beating together (a thousand processes in the
 * same instant), and stay spread after a burst (everything started at once, a
 * failover), whatever each probe's duration. Taken from the names, not from a
 * random draw or the runtime: the core stays deterministic, and the simulator
 * schedules exactly what the daemon does. Milliseconds in [0, period).
 */
export function probePhase(resource: string, member: string, period: number): number {
  // FNV-1a, 32 bits: cheap, and well spread for names that differ in one digit.
  let h = 0x811c9dc5;
  const key = `${resource}\u0000${member}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % Math.max(1, Math.floor(period));
}

/**
 * The first slot (`phase` plus a whole number of periods) after `now`. A probe
 * that ran late or long does not shift the ones after it, and one that
 * overran a slot is not followed by a second at once: it is never doubled.
 */
export function nextProbeSlot(now: number, period: number, phase: number): number {
  if (!(period > 0)) return now;
  return phase + (Math.floor((now - phase) / period) + 1) * period;
}

/** Run a member's status hook. */
export function runProbe(m: Machine, fx: Effect[], x: MemberRun) {
  const id = m.nextHookId++;
  x.probe = { id, since: m.now, stale: false };
  const e = hookEffect(m, "status", [], { id, member: x }) as HookEffect;
  // Routine watching of a settled state may wait when the node sheds load; nothing
  // that a start, a stop or a takeover waits on does.
  const settled = !m.busy && !m.op &&
    ((m.role === "primary" && m.online && x.state === "running") ||
      (m.role === "secondary" && x.state === "stopped"));
  // By one probe interval at most, a standby's too: its "my copy is stopped" is what lets
  // it grant the primary a lease, so it is never allowed to grow older than its period plus one.
  if (settled) e.deferrableMs = x.settings.probeIntervalMs;
  fx.push(e);
}

/**
 * Begin a start of `members` (indexes, default all) in order, each after the
 * one before succeeded. A plain start counts an attempt and gives up after
 * `attempts`; the start of a restart does not.
 */
export function beginStart(
  m: Machine,
  fx: Effect[],
  purpose: "start" | "restart" | "member_restart",
  members: number[] = m.members.map((_, i) => i),
  request: number | null = null,
) {
  if (purpose === "start") {
    if (m.attempts >= m.settings.attempts) return giveUp(m, fx);
    m.attempts += 1;
    log(fx, "info", `starting (attempt ${m.attempts} of ${m.settings.attempts})`);
  } else log(fx, "info", purpose === "restart" ? "restarting: start" : "member restart: start");
  m.faulted = false;
  const steps: Machine["op"] & object = {
    kind: "start",
    purpose,
    steps: [],
    index: -1,
    since: m.now,
    deadline: Infinity,
    failed: false,
    then: null,
    request,
  };
  for (const i of members) {
    const x = m.members[i];
    if (x.state === "running" && purpose === "start") continue;
    x.startFailed = false;
    // Started again: the monitor watches it afresh (a RESTART resumes a member it quit).
    x.unmonitored = false;
    x.monitorFailed = false;
    x.failures = [];
    x.actedAt = -Infinity;
    x.faults = 0;
    if (purpose === "start") x.status = { value: "UNKNOWN", message: "starting" };
    steps.steps.push({ member: i, method: "start" });
    if (x.settings.hasMonitorStart) steps.steps.push({ member: i, method: "monitor_start" });
  }
  m.op = steps;
  // The guard knows of the start before it begins: a kill -9 right after is covered.
  syncGuard(m, fx);
  advance(m, fx);
}

/**
 * Begin a stop of `members` (default all) in reverse order, within one
 * stop_timeout; `then`: members to start again afterwards (a restart).
 */
export function beginStop(
  m: Machine,
  fx: Effect[],
  purpose: "stop" | "rollback" | "restart" | "member_restart",
  members: number[] = m.members.map((_, i) => i),
  then: number[] | null = null,
  request: number | null = null,
) {
  // A member's restart leaves the group online; anything else takes it offline.
  if (purpose !== "member_restart") m.online = false;
  // After a step-down, whatever stop begins is due when the peers may take over. (Past
  // that already, e.g. after a freeze, the guard has acted: an ordinary stop then.)
  const stopBy = m.releasePending?.stopBy;
  const by = stopBy !== undefined && stopBy > m.now ? stopBy : Infinity;
  const op: Machine["op"] & object = {
    kind: "stop",
    purpose,
    steps: [],
    index: -1,
    since: m.now,
    deadline: Math.min(m.now + m.settings.stopTimeoutMs, by),
    failed: false,
    then,
    request,
  };
  for (const i of [...members].reverse()) {
    const x = m.members[i];
    // A restart stops its members whatever they say; a stop, only what may run.
    if (
      !x.dirty && x.state === "stopped" && purpose !== "member_restart" && purpose !== "restart"
    ) {
      continue;
    }
    if (x.settings.hasMonitorStop) op.steps.push({ member: i, method: "monitor_stop" });
    op.steps.push({ member: i, method: "stop" });
  }
  m.op = op;
  if (purpose === "restart" || purpose === "member_restart") {
    log(fx, "info", purpose === "restart" ? "restarting: stop" : "member restart: stop");
  }
  advance(m, fx);
}

/** Run the next step of the operation, or end it when none is left. */
function advance(m: Machine, fx: Effect[]) {
  const op = m.op!;
  op.index += 1;
  if (op.index >= op.steps.length) return endOp(m, fx);
  const step = op.steps[op.index];
  const x = m.members[step.member];
  switch (step.method) {
    case "start":
      // Each member's start needs the lease as the first did: the one before may have
      // taken long (or the daemon was frozen meanwhile).
      if (!leaseAllowsStart(m)) {
        log(fx, "warning", "start interrupted: this node may no longer start the service");
        return beginStop(m, fx, "rollback", undefined, null, op.request);
      }
      x.dirty = true;
      x.state = "starting";
      return runMemberHook(m, fx, "start", x);
    case "monitor_start":
      return runMemberHook(m, fx, "monitor_start", x);
    case "monitor_stop":
      return runMemberHook(
        m,
        fx,
        "monitor_stop",
        x,
        Math.max(1, Math.min(x.settings.monitorStopTimeoutMs, op.deadline - m.now)),
      );
    case "stop":
      x.state = "stopping";
      return runMemberHook(m, fx, "stop", x, Math.max(1, op.deadline - m.now));
  }
}

/** The operation is over: what follows it. */
function endOp(m: Machine, fx: Effect[]) {
  const op = m.op!;
  m.op = null;
  if (op.kind === "start") {
    log(fx, "info", "start finished; waiting for status to confirm");
    // The restart that asked for it is answered once a probe of each member it started has
    // answered (each is due at once, onControlHookDone), so that its caller reads the states
    // that follow.
    const r = op.request !== null ? m.requests.get(op.request) : undefined;
    if (r) r.startedAt = m.now;
    return;
  }
  if (op.failed) {
    log(fx, "error", "stop failed: the service may still run here");
    // Tried again after an interval (a stop that failed once may succeed then).
    m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
    return;
  }
  if (op.purpose === "rollback") {
    log(fx, "info", "start rolled back: stopped");
    const failed = m.members.find((x) => x.startFailed);
    stoppedAfterStepDown(m, fx);
    if (failed && m.role === "primary") startFailed(m, fx, failed);
    else m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
    return;
  }
  if (op.then !== null) {
    return beginStart(
      m,
      fx,
      op.purpose === "member_restart" ? "member_restart" : "restart",
      op.then,
      op.request,
    );
  }
  log(fx, "info", "stopped");
  for (const x of m.members) {
    if (x.state === "stopped") x.status = { value: "OFFLINE", message: "" };
  }
  stoppedAfterStepDown(m, fx);
}

/**
 * A start failed (and was rolled back): the failing member's failover_mode
 * decides. SOFT and HARD try again up to `attempts`, then relocate; NONE,
 * RESTART_ONLY and LOG_ONLY leave the group here, faulted, for the operator.
 */
function startFailed(m: Machine, fx: Effect[], x: MemberRun) {
  recordFailedStart(m);
  persist(m, fx);
  const mode = x.settings.failoverMode;
  if (mode === "NONE" || mode === "RESTART_ONLY" || mode === "LOG_ONLY") {
    m.faulted = true;
    log(
      fx,
      "error",
      `member ${x.settings.name}: START_FAILED; failover_mode ${mode} keeps the group here ` +
        `(ONLINE_FAULTED): restart it or change its role`,
    );
    return;
  }
  // A failed start waits a probe interval before the next attempt.
  m.nextStartAt = m.now + m.settings.heartbeatIntervalMs;
  if (m.attempts >= m.settings.attempts) giveUp(m, fx);
}

/** Out of start attempts: hand the group to the best secondary that may take it, else step down. */
function giveUp(m: Machine, fx: Effect[]) {
  const attempts = m.attempts;
  const successor = relocationTarget(m);
  changeRole(m, fx, "secondary", { kind: "give_up", attempts }, successor);
  // The service may be half up: stop it before releasing.
  for (const x of m.members) if (x.state !== "stopped") x.state = "unknown";
  if (mayBeActive(m)) beginStop(m, fx, "stop");
}

/**
 * Where a group that cannot start here goes: the best connected secondary
 * (priority, then name). Its own failed starts make it refuse a check; here
 * only connection and role are known.
 */
function relocationTarget(m: Machine): string | null {
  let best: { node: string; priority: number } | null = null;
  for (const [node, p] of m.peers) {
    const cfg = m.settings.nodes.find((n) => n.name === node);
    if (!cfg || cfg.watchdog || p.role !== "secondary" || p.lastHeard === null || p.down) continue;
    if (m.now - p.lastHeard > m.settings.heartbeatIntervalMs + m.settings.timeoutMs) continue;
    if (
      !best || cfg.priority < best.priority || (cfg.priority === best.priority && node < best.node)
    ) {
      best = { node, priority: cfg.priority };
    }
  }
  return best?.node ?? null;
}

/** Run a member's method: the one control hook in flight; probes in flight go stale. */
function runMemberHook(
  m: Machine,
  fx: Effect[],
  method: "start" | "stop" | "monitor_start" | "monitor_stop",
  x: MemberRun,
  timeoutMs?: number,
) {
  const id = m.nextHookId++;
  m.busy = { id, method, member: x.settings.name, since: m.now };
  // A start, stop or monitor_stop acts on it: what a start's confirmation waited for is over.
  // Not monitor_start: it follows the start that set it, before the probe that confirms it.
  if (method !== "monitor_start") x.confirmBy = null;
  for (const y of m.members) if (y.probe) y.probe.stale = true;
  const t = timeoutMs ??
    (method === "monitor_start" ? x.settings.monitorStartTimeoutMs : undefined);
  fx.push(hookEffect(m, method, [], { id, member: x, timeoutMs: t }));
}

/** Run a resource-wide control hook (fence, panic): at most one control hook at a time. */
export function runControlHook(m: Machine, fx: Effect[], method: HookMethod, args: string[]) {
  const id = m.nextHookId++;
  m.busy = { id, method, member: null, since: m.now };
  if (method === "fence" && m.lastPrimary !== null) {
    m.busy.target = { node: m.lastPrimary, epoch: m.lastPrimaryEpoch };
  }
  for (const y of m.members) if (y.probe) y.probe.stale = true;
  fx.push(hookEffect(m, method, args, { id }));
}

/** How long after a start its probe may still find the service not up yet: a heartbeat at most. */
function confirmWithinMs(m: Machine, x: MemberRun): number {
  return Math.min(m.settings.heartbeatIntervalMs, x.settings.probeIntervalMs);
}

/** Take the result of a control hook the machine waits for; false when it was not one. */
export function onControlHookDone(
  m: Machine,
  fx: Effect[],
  id: number,
  method: HookMethod,
  outcome: HookOutcome,
): boolean {
  if (!m.busy || m.busy.id !== id) return false;
  const ok = outcome.kind === "exit" && outcome.code === 0;
  const busy = m.busy;
  m.busy = null;
  const x = m.members.find((y) => y.settings.name === busy.member);
  const who = x && m.members.length > 1 ? `member ${x.settings.name}: ` : "";
  switch (method) {
    case "start":
      if (!x || !m.op) return true;
      if (ok) {
        // Confirmed by a probe as soon as the start's operation ends, as Pacemaker's first
        // monitor follows a start at once (a heartbeat's wait here cost the start of a
        // thousand a second). A START should return only once its service is up
        // (scha-semantics.md), but many scripts return a moment before (rc.d scripts,
        // pg_ctl without -w): a probe that does not find it running is asked again a
        // heartbeat later, as the original did, before a second start runs (onProbeDone).
        x.nextProbeAt = m.now;
        x.confirmBy = m.now + confirmWithinMs(m, x);
        x.state = "starting";
        advance(m, fx);
        return true;
      }
      x.nextProbeAt = m.now + confirmWithinMs(m, x);
      x.state = "unknown";
      x.probeSaidUnknown = false;
      x.startFailed = true;
      log(fx, "error", `${who}start failed (${describeOutcome(outcome)}): rolling back`);
      beginStop(m, fx, "rollback", undefined, null, m.op.request);
      return true;
    case "monitor_start":
      if (!x || !m.op) return true;
      x.monitorFailed = !ok;
      if (!ok) log(fx, "warning", `${who}monitor_start failed (${describeOutcome(outcome)})`);
      advance(m, fx);
      return true;
    case "monitor_stop":
    case "stop":
      if (!x || !m.op) return true;
      if (ok) {
        if (method === "stop") {
          x.state = "stopped";
          x.dirty = false;
        }
        advance(m, fx);
        return true;
      }
      stopFailed(m, fx, x, method, outcome);
      return true;
    case "panic":
      log(
        fx,
        "error",
        `panic finished (${describeOutcome(outcome)}), the service state is unknown`,
      );
      for (const y of m.members) if (y.state !== "stopped" || y.dirty) y.state = "stop_failed";
      return true;
    case "fence": {
      const target = busy.target;
      if (ok && target) {
        // Credited to the node it was run against, and only while that one is still the
        // last primary known: another heard meanwhile was not fenced by it.
        if (m.lastPrimary === target.node && m.lastPrimaryEpoch === target.epoch) {
          m.fenced = target;
          log(fx, "warning", `fence of ${target.node} succeeded`);
        } else {
          log(
            fx,
            "warning",
            `fence of ${target.node} succeeded, but ${m.lastPrimary ?? "another primary"} ` +
              `was heard meanwhile: it counts for nothing`,
          );
        }
      } else {
        log(fx, "error", `fence failed (${describeOutcome(outcome)})`);
      }
      return true;
    }
    default:
      return true;
  }
}

/**
 * A member's stop (or monitor_stop) failed. When this node must give the
 * resource up, safety needs `panic` now; while it keeps its lease, only
 * failover_mode HARD asks for it. Without panic the other members are still
 * stopped, and the group ends stop_failed.
 */
function stopFailed(
  m: Machine,
  fx: Effect[],
  x: MemberRun,
  method: string,
  outcome: HookOutcome,
) {
  const op = m.op!;
  x.state = "stop_failed";
  op.failed = true;
  const who = m.members.length > 1 ? `member ${x.settings.name}: ` : "";
  log(fx, "error", `${who}${method} failed (${describeOutcome(outcome)})`);
  const mustGo = !wantUp(m);
  if (m.settings.hasPanic && (mustGo || x.settings.failoverMode === "HARD")) {
    m.op = null;
    fx.push({ type: "guard", command: { action: "panicking" } });
    return runControlHook(m, fx, "panic", []);
  }
  if (!mustGo) {
    log(
      fx,
      "error",
      `${who}STOP_FAILED (failover_mode ${x.settings.failoverMode}): the group is ` +
        `ERROR_STOP_FAILED until an operator clears it`,
    );
  }
  // Stop what can be stopped; the group stays stop_failed.
  op.then = null;
  advance(m, fx);
}

/** A member's probe answered: its state, and for a primary online, the monitor's say. */
export function onProbeDone(
  m: Machine,
  fx: Effect[],
  x: MemberRun,
  outcome: HookOutcome,
  monitor: (m: Machine, fx: Effect[], x: MemberRun, state: ServiceState) => void,
) {
  const stale = x.probe!.stale;
  x.probe = null;
  // A primary watches its service every probe interval; a standby checks now and then
  // that its own copy stays stopped (each probe is a process: it costs CPU).
  const every = m.role === "primary" ? 1 : SECONDARY_PROBE_INTERVALS;
  const period = every * x.settings.probeIntervalMs;
  const slot = nextProbeSlot(m.now, period, probePhase(m.settings.name, x.settings.name, period));
  // A probe that began before a start or stop says nothing of after it: the next one may
  // come at once, unless an earlier slot was asked for (a restart's start just ended).
  if (!stale) x.nextProbeAt = slot;
  else x.nextProbeAt = Math.min(x.nextProbeAt, slot);
  if (stale || m.busy || m.op) return;
  const state = m.defects.timeoutIsRunning && outcome.kind === "timeout"
    ? "running"
    : probeResult(outcome);
  const confirmBy = x.confirmBy;
  x.confirmBy = null;
  if (confirmBy !== null && m.now < confirmBy && state !== "running" && x.state === "starting") {
    // Just started and not up yet: only the probe at confirmBy may say it did not start.
    x.nextProbeAt = confirmBy;
    return;
  }
  x.probedAt = m.now;
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
    if (!m.online && m.role === "primary") {
      // Online: what no fault monitor has said otherwise is OK now.
      for (const y of m.members) {
        if (y.status.value === "UNKNOWN" || y.status.value === "OFFLINE") {
          y.status = { value: "OK", message: "online" };
        }
      }
    }
    m.online = m.role === "primary";
    if (m.failover && m.failover.startedAt === null) m.failover.startedAt = m.now;
  }
  // Every failed probe of a watched member counts, also one that stays stopped.
  if (m.role === "primary" && m.online && state !== "running" && !x.unmonitored) {
    monitor(m, fx, x, state);
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
    // A lone node's lease never ends (it is its own quorum): armed without a deadline, the
    // guard still stops the service if the daemon is killed.
    const unbounded = m.forced || m.defects.noSelfFencing || m.defects.noStartCancel ||
      !Number.isFinite(m.leaseUntil!);
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
