/**
 * The service on this node: probe, start and stop, one start or stop at a
 * time, brought where the role and the lease want it. A probe that timed out
 * or was killed is unknown, never running.
 */
import type { Effect, HookMethod, HookOutcome, ServiceState } from "./types.ts";
import { describeOutcome } from "./types.ts";
import { hasLease, hookEffect, log, type Machine } from "./state.ts";
import { stepDown, stoppedAfterStepDown } from "./transitions.ts";

/** A secondary re-checks that its copy is stopped every this many intervals. */
export const SECONDARY_PROBE_INTERVALS = 6;

/** Bring the service where the role wants it: one start/stop at a time, probes in between. */
export function reconcile(m: Machine, fx: Effect[]) {
  m.reconcileAt = null;
  if (m.busy || m.role === "watchdog") return;
  const wantUp = m.role === "primary" && !m.shuttingDown && hasLease(m);
  // A start needs some lease left: one about to run out would fence right after.
  const mayStart = wantUp &&
    (m.forced || m.leaseUntil === null || m.leaseUntil - m.now >= m.settings.timeoutMs);
  const probeDue = !m.probe && m.now >= m.nextProbeAt;
  // Whatever waits for the next probe slot below wakes the machine then.
  if (!m.probe && !probeDue) m.reconcileAt = m.nextProbeAt;
  switch (m.service) {
    case "running":
    case "starting":
      if (!wantUp) return runStop(m, fx);
      if (probeDue) runProbe(m, fx);
      return;
    case "stopped":
      if (mayStart && !m.probe) return runStart(m, fx);
      // Stopped by itself after a start: run stop anyway before it counts as inactive.
      if (!wantUp && m.dirty) return runStop(m, fx);
      if (m.role === "secondary" && probeDue && !m.shuttingDown) runProbe(m, fx);
      return;
    case "unknown":
      // After a start that did not finish, stop at once: no probe can vouch for it.
      if (!wantUp && m.dirty) return runStop(m, fx);
      // A probe first; only an unknown answer from the probe itself acts blind.
      if (m.probe) return;
      if (!m.probeSaidUnknown) {
        if (probeDue) runProbe(m, fx);
        return;
      }
      if (wantUp) return mayStart ? runStart(m, fx) : undefined;
      return runStop(m, fx);
    case "stop_failed":
      if (probeDue) {
        m.nextProbeAt = m.now + m.settings.heartbeatIntervalMs;
        runStop(m, fx);
      }
      return;
    case "stopping":
      return;
  }
}

/** Run the status hook. */
export function runProbe(m: Machine, fx: Effect[]) {
  const id = m.nextHookId++;
  m.probe = { id, since: m.now, stale: false };
  fx.push(hookEffect(m, "status", [], id));
}

/** Run the start hook, counting the attempt; give up and step down after `attempts`. */
export function runStart(m: Machine, fx: Effect[]) {
  if (m.attempts >= m.settings.attempts) {
    stepDown(
      m,
      fx,
      "secondary",
      `giving up: ${m.attempts} start attempts failed (attempts = ${m.settings.attempts})`,
      null,
    );
    // The service may be half up: stop it before releasing.
    m.probeSaidUnknown = true;
    m.service = "unknown";
    return runStop(m, fx);
  }
  m.attempts += 1;
  m.service = "starting";
  m.dirty = true;
  runBusy(m, fx, "start", []);
  log(fx, "info", `starting (attempt ${m.attempts} of ${m.settings.attempts})`);
}

/** Run the stop hook. */
export function runStop(m: Machine, fx: Effect[]) {
  m.service = "stopping";
  runBusy(m, fx, "stop", []);
}

/** Run a start, stop, fence or panic hook: at most one at a time; it makes a probe in flight stale. */
export function runBusy(m: Machine, fx: Effect[], method: HookMethod, args: string[]) {
  const id = m.nextHookId++;
  m.busy = { id, method, since: m.now };
  if (m.probe) m.probe.stale = true;
  fx.push(hookEffect(m, method, args, id));
}

/** status exit codes: 0 running, 1 stopped, anything else (timeout, kill, error) unknown. */
export function probeResult(outcome: HookOutcome): ServiceState {
  if (outcome.kind !== "exit") return "unknown";
  if (outcome.code === 0) return "running";
  if (outcome.code === 1) return "stopped";
  return "unknown";
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
  if (m.probe && m.probe.id === id) {
    const stale = m.probe.stale;
    m.probe = null;
    // A primary watches its service every interval; a standby checks now and then
    // that its own copy stays stopped (each probe is a process: it costs CPU).
    const every = m.role === "primary" ? 1 : SECONDARY_PROBE_INTERVALS;
    m.nextProbeAt = m.now + every * m.settings.heartbeatIntervalMs;
    if (stale || m.busy) return;
    const state = m.defects.timeoutIsRunning && outcome.kind === "timeout"
      ? "running"
      : probeResult(outcome);
    if (state !== m.service) {
      const wasUp = m.service === "running" || m.service === "starting";
      const level = wasUp && state !== "running" ? "warning" : "info";
      log(fx, level, `status: ${state} (${describeOutcome(outcome)})`);
    }
    m.service = state;
    m.probeSaidUnknown = state === "unknown";
    // A step-down waits for "stopped": a probe saying so is as good as a stop.
    if (state === "stopped") stoppedAfterStepDown(m, fx);
    if (state === "running") {
      m.attempts = 0;
      m.note = "";
    }
    return;
  }
  if (!m.busy || m.busy.id !== id) return; // a notification hook, or from before a restart
  m.busy = null;
  switch (method) {
    case "start":
      if (ok) {
        m.service = "starting";
        log(fx, "info", "start finished; waiting for status to confirm");
      } else {
        m.service = "unknown";
        m.probeSaidUnknown = false;
        log(fx, "error", `start failed (${describeOutcome(outcome)})`);
      }
      m.nextProbeAt = m.now + m.settings.heartbeatIntervalMs;
      break;
    case "stop":
      if (ok) {
        m.service = "stopped";
        m.dirty = false;
        log(fx, "info", "stopped");
        stoppedAfterStepDown(m, fx);
      } else {
        m.service = "stop_failed";
        log(fx, "error", `stop failed (${describeOutcome(outcome)})`);
        if (m.settings.hasPanic) runBusy(m, fx, "panic", []);
      }
      break;
    case "panic":
      log(
        fx,
        "error",
        `panic finished (${describeOutcome(outcome)}), the service state is unknown`,
      );
      m.service = "stop_failed";
      break;
    case "fence":
      if (ok) {
        m.fenced = true;
        log(fx, "warning", `fence of ${m.lastPrimary ?? "the primary"} succeeded`);
      } else {
        log(fx, "error", `fence failed (${describeOutcome(outcome)})`);
      }
      break;
  }
}
