/**
 * The bookkeeping of Solaris-style restart policy (scha-semantics.md §3–§4):
 * restart windows per member and per group, pingpong marks, failed starts.
 * Kept in wall-clock milliseconds (and persisted) so that a daemon restart
 * neither resets a budget nor lifts a pingpong block. Queries here change
 * nothing; `prunePolicy` is called by the step.
 */
import type { Machine, MemberRun } from "./state.ts";
import { wallNow } from "./state.ts";
import type { NodeId, PolicyState } from "./types.ts";

/** An empty record. */
export function emptyPolicy(): PolicyState {
  return { restarts: {}, groupRestarts: [], pingpong: [], failedStarts: [] };
}

/** A member's restart budget: used within its window, the most, and when the oldest leaves it. */
export function restartBudget(
  m: Machine,
  x: MemberRun,
): { used: number; max: number; windowMs: number; resetsInMs: number | null } {
  const window = x.settings.retryIntervalMs;
  const since = wallNow(m) - window;
  const times = (m.policy.restarts[x.settings.name] ?? []).filter((t) => t > since);
  return {
    used: times.length,
    max: x.settings.retryCount,
    windowMs: window,
    resetsInMs: times.length === 0 ? null : Math.min(...times) + window - wallNow(m),
  };
}

/** RESTART requests of the group within `member`'s retry_interval (NUM_RG_RESTARTS). */
export function groupRestarts(m: Machine, x: MemberRun): number {
  const since = wallNow(m) - x.settings.retryIntervalMs;
  return m.policy.groupRestarts.filter((t) => t > since).length;
}

/** Count a restart of a member (a RESOURCE_RESTART, RESOURCE_IS_RESTARTED or the monitor's). */
export function recordRestart(m: Machine, member: string) {
  (m.policy.restarts[member] ??= []).push(wallNow(m));
}

/** Count a RESTART of the group. */
export function recordGroupRestart(m: Machine) {
  m.policy.groupRestarts.push(wallNow(m));
}

/** A GIVEOVER (even refused) clears this node's counters for the member and the group. */
export function resetCounters(m: Machine, member: string | null) {
  if (member !== null) m.policy.restarts[member] = [];
  m.policy.groupRestarts = [];
}

/**
 * Until when (wall ms) `node` may not be the destination of a giveover asked
 * by `member` (a giveover by that member moved the group off it), or null.
 * Without a member, any member's mark counts.
 */
export function pingpongUntil(m: Machine, node: NodeId, member: string | null): number | null {
  let until: number | null = null;
  for (const p of m.policy.pingpong) {
    if (p.node !== node || (member !== null && p.member !== member)) continue;
    const end = p.at + m.settings.pingpongIntervalMs;
    if (end > wallNow(m) && (until === null || end > until)) until = end;
  }
  return until;
}

/** Remember that a giveover asked by `member` moved the group off `node`. */
export function recordPingpong(m: Machine, node: NodeId, member: string) {
  m.policy.pingpong.push({ node, member, at: wallNow(m) });
}

/** Starts of the group that failed here within pingpong_interval. */
export function recentFailedStarts(m: Machine): number {
  const since = wallNow(m) - m.settings.pingpongIntervalMs;
  return m.policy.failedStarts.filter((t) => t > since).length;
}

/** Forget what no window can see any more (a step does this, never a query). */
export function prunePolicy(m: Machine) {
  const now = wallNow(m);
  let longest = 0;
  for (const x of m.members) longest = Math.max(longest, x.settings.retryIntervalMs);
  for (const [name, times] of Object.entries(m.policy.restarts)) {
    const x = m.members.find((y) => y.settings.name === name);
    const window = x?.settings.retryIntervalMs ?? 0;
    const kept = times.filter((t) => t > now - window);
    if (kept.length !== times.length) m.policy.restarts[name] = kept;
    if (kept.length === 0) delete m.policy.restarts[name];
  }
  if (m.policy.groupRestarts.some((t) => t <= now - longest)) {
    m.policy.groupRestarts = m.policy.groupRestarts.filter((t) => t > now - longest);
  }
  const pp = m.settings.pingpongIntervalMs;
  if (m.policy.pingpong.some((p) => p.at <= now - pp)) {
    m.policy.pingpong = m.policy.pingpong.filter((p) => p.at > now - pp);
  }
  if (m.policy.failedStarts.some((t) => t <= now - pp)) {
    m.policy.failedStarts = m.policy.failedStarts.filter((t) => t > now - pp);
  }
}
