/**
 * The timing rule applied to a configuration: for every resource, every node
 * that can be primary is paired with every other such node as its secondary,
 * against the slowest watchdog, and `computeTimeline` (src/core/timing.ts, the
 * one definition the daemon and the simulator also use) says whether the
 * numbers keep "at most one active node".
 */

import { computeTimeline, type TimingParams } from "../core/timing.ts";
import type { ResourceNodeConfig, TimelineReport } from "./types.ts";

/** The timing parameters of one node's view of a resource. */
export function timingParams(n: ResourceNodeConfig): TimingParams {
  return {
    heartbeatIntervalMs: n.heartbeatIntervalMs,
    complaintCount: n.complaintCount,
    complaintIntervalMs: n.complaintIntervalMs,
    timeoutMs: n.timeoutMs,
    stopTimeoutMs: n.stopTimeoutMs,
    clockSkew: n.clockSkew,
  };
}

/** A watchdog node is one that starts as watchdog; it never becomes primary by itself. */
export function isWatchdog(n: ResourceNodeConfig): boolean {
  return n.roleOnStart === "watchdog";
}

/**
 * The timelines of one resource: one per ordered (primary, secondary) pair of
 * non-watchdog nodes, or a single one without secondary when only one node can
 * be primary (so that its own lease is still checked).
 */
export function resourceTimelines(nodes: readonly ResourceNodeConfig[]): TimelineReport[] {
  const eligible = nodes.filter((n) => !isWatchdog(n));
  let watchdog: TimelineReport["watchdog"] = null;
  for (const w of nodes.filter(isWatchdog)) {
    if (watchdog === null || w.heartbeatIntervalMs > watchdog.intervalMs) {
      watchdog = { node: w.node, intervalMs: w.heartbeatIntervalMs };
    }
  }
  const report = (p: ResourceNodeConfig, s: ResourceNodeConfig | null): TimelineReport => ({
    primary: p.node,
    secondary: s?.node ?? null,
    watchdog,
    timeline: computeTimeline(
      timingParams(p),
      timingParams(s ?? p),
      watchdog?.intervalMs ?? null,
      { hasPanic: p.panic !== null },
    ),
  });
  if (eligible.length === 1) return [report(eligible[0], null)];
  return eligible.flatMap((p) => eligible.filter((s) => s !== p).map((s) => report(p, s)));
}
