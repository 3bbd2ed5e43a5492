/**
 * The timing rule (PRODUCT.md §3.3): the numbers that make "at most one active
 * node" hold. Shared by the machine, `hastmon config check` and the simulator,
 * so there is exactly one definition of each bound.
 */

/** The parameters the bounds depend on, in ms (skew is a fraction). */
export interface TimingParams {
  heartbeatIntervalMs: number;
  complaintCount: number;
  complaintIntervalMs: number;
  timeoutMs: number;
  stopTimeoutMs: number;
  clockSkew: number;
}

/** Lease a primary holds after an acknowledged request: complaint_count × heartbeat_interval. */
export function leaseMs(p: Pick<TimingParams, "complaintCount" | "heartbeatIntervalMs">): number {
  return p.complaintCount * p.heartbeatIntervalMs;
}

/**
 * How long after last hearing a primary (that announced `lease` and `stop`) a
 * peer must still consider it possibly active: the lease plus its stop bound,
 * stretched by the clock-rate bound, plus one timeout of margin.
 */
export function holdMs(lease: number, stopTimeout: number, clockSkew: number, timeout: number) {
  return (lease + stopTimeout) * (1 + clockSkew) + timeout;
}

/**
 * How long past the end of a lease the guard waits before it stops the service
 * itself: half a timeout, so that the daemon's own fencing comes first while it
 * is alive. The other half of the hold's timeout is left for the guard's own
 * lateness (its commands count from when the daemon wrote them: src/daemon/guard_protocol.ts).
 */
export function guardSlackMs(timeoutMs: number): number {
  return timeoutMs / 2;
}

/** A peer is live (connected) when heard from within this window. */
export function livenessMs(p: Pick<TimingParams, "heartbeatIntervalMs" | "timeoutMs">): number {
  return p.heartbeatIntervalMs + p.timeoutMs;
}

/** The timeline of one resource, for `config check` and for status. */
export interface Timeline {
  leaseMs: number;
  /** Latest moment, after the primary's last acknowledged request, by which it has stopped. */
  selfFenceDeadlineMs: number;
  /** The silence a secondary waits out before it may take over. */
  takeoverWaitMs: number;
  /** When the last complaint needed can arrive after the primary dies, worst case. */
  complaintsReadyMs: number;
  /** Worst-case time from the primary's death to the secondary beginning `start`. */
  worstTakeoverMs: number;
  /** Problems that make the promise impossible. Empty when the configuration is safe. */
  errors: string[];
  warnings: string[];
}

/**
 * Compute the timeline for a primary with `primary` parameters, a secondary
 * with `secondary` parameters, and watchdogs ticking every `watchdogIntervalMs`.
 */
export function computeTimeline(
  primary: TimingParams,
  secondary: TimingParams,
  watchdogIntervalMs: number | null,
  opts: { hasPanic: boolean },
): Timeline {
  const errors: string[] = [];
  const warnings: string[] = [];
  const lease = leaseMs(primary);
  const selfFence = (lease + primary.stopTimeoutMs) * (1 + primary.clockSkew);
  // The secondary uses the larger of what the primary announces and its own view.
  const wait = Math.max(
    holdMs(lease, primary.stopTimeoutMs, secondary.clockSkew, secondary.timeoutMs),
    holdMs(leaseMs(secondary), secondary.stopTimeoutMs, secondary.clockSkew, secondary.timeoutMs),
  );
  let complaintsReady = Infinity;
  if (watchdogIntervalMs === null) {
    warnings.push("no watchdog is configured: there will be no automatic failover");
  } else {
    // Detection (liveness window plus one tick), then complaint_count more ticks.
    complaintsReady = livenessMs({
      heartbeatIntervalMs: primary.heartbeatIntervalMs,
      timeoutMs: secondary.timeoutMs,
    }) + watchdogIntervalMs * (1 + secondary.complaintCount);
    if (secondary.complaintCount * watchdogIntervalMs >= secondary.complaintIntervalMs) {
      errors.push(
        `more than complaint_count (${secondary.complaintCount}) complaints can never arrive ` +
          `within complaint_interval (${fmt(secondary.complaintIntervalMs)}): the watchdog ` +
          `complains every ${fmt(watchdogIntervalMs)}, so ${secondary.complaintCount + 1} ` +
          `complaints span ${fmt(secondary.complaintCount * watchdogIntervalMs)}`,
      );
    }
  }
  if (lease <= primary.timeoutMs) {
    errors.push(
      `the lease (complaint_count × heartbeat_interval = ${fmt(lease)}) is not longer than ` +
        `timeout (${fmt(primary.timeoutMs)}): a primary could never hold it`,
    );
  }
  if (primary.clockSkew < 0 || primary.clockSkew >= 1) {
    errors.push(`clock_skew must be in [0, 1), not ${primary.clockSkew}`);
  }
  if (!opts.hasPanic) {
    warnings.push(
      "no panic command: safety assumes every stop finishes within stop_timeout",
    );
  }
  const worst = Math.max(wait + primary.heartbeatIntervalMs, complaintsReady) +
    secondary.heartbeatIntervalMs;
  return {
    leaseMs: lease,
    selfFenceDeadlineMs: selfFence,
    takeoverWaitMs: wait,
    complaintsReadyMs: complaintsReady,
    worstTakeoverMs: worst,
    errors,
    warnings,
  };
}

/** Seconds with up to three decimals, e.g. "1.35s". */
export function fmt(ms: number): string {
  if (!Number.isFinite(ms)) return "never";
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * A duration for people (status, refusals): "0.35s", "42s", "4m12s", "3h5m",
 * "2d4h"; "never" when infinite. Logs keep `fmt`'s exact seconds.
 */
export function human(ms: number): string {
  if (!Number.isFinite(ms)) return "never";
  const t = Math.max(0, ms);
  if (t < 10_000) return `${Number((t / 1000).toFixed(2))}s`;
  const s = Math.floor(t / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor(s / 60) % 60}m`;
  return `${Math.floor(s / 86400)}d${Math.floor(s / 3600) % 24}h`;
}
