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

/**
 * A map from member names that no name can break: `constructor` or `toString`
 * are names like any other here (no prototype).
 */
export function memberMap<T>(): Record<string, T> {
  return Object.create(null);
}

/** An empty record. */
export function emptyPolicy(): PolicyState {
  return { restarts: memberMap(), groupRestarts: [], pingpong: [], failedStarts: [] };
}

/** Longest list kept of group restarts and of failed starts (only a few are ever counted). */
const MAX_KEPT = 64;

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
    resetsInMs: times.length === 0
      ? null
      : times.reduce((a, t) => Math.min(a, t), Infinity) + window - wallNow(m),
  };
}

/** RESTART requests of the group within `member`'s retry_interval (NUM_RG_RESTARTS). */
export function groupRestarts(m: Machine, x: MemberRun): number {
  const since = wallNow(m) - x.settings.retryIntervalMs;
  return m.policy.groupRestarts.filter((t) => t > since).length;
}

/**
 * Count a restart of a member (a RESOURCE_RESTART, RESOURCE_IS_RESTARTED or
 * the monitor's). Only the latest retry_count + 1 matter: no more are kept, so
 * that no caller can grow the state file without bound.
 */
export function recordRestart(m: Machine, member: string) {
  const times = m.policy.restarts[member] ??= [];
  times.push(wallNow(m));
  const x = m.members.find((y) => y.settings.name === member);
  const keep = Math.min(MAX_KEPT, (x?.settings.retryCount ?? 0) + 1);
  if (times.length > keep) times.splice(0, times.length - keep);
}

/** Count a RESTART of the group. */
export function recordGroupRestart(m: Machine) {
  m.policy.groupRestarts.push(wallNow(m));
  if (m.policy.groupRestarts.length > MAX_KEPT) m.policy.groupRestarts.shift();
}

/**
 * A GIVEOVER (even refused) clears this node's counters for the member and the
 * group; one of the whole group (no member), every member's.
 */
export function resetCounters(m: Machine, member: string | null) {
  // A giveover of the whole group (no member) leaves no member's history behind here either.
  if (member === null) m.policy.restarts = {};
  else m.policy.restarts[member] = [];
  m.policy.groupRestarts = [];
}

/**
 * Until when (wall ms) `node` may not be the destination of a giveover asked
 * by `member` (a giveover by that member moved the group off it), or null.
 * Without a member, any member's mark counts; a mark of the whole group
 * (member "") counts for every member.
 */
export function pingpongUntil(m: Machine, node: NodeId, member: string | null): number | null {
  let until: number | null = null;
  for (const p of m.policy.pingpong) {
    // A mark of the whole group ("", from `ctl giveover`) blocks every member's giveover too.
    if (p.node !== node || (member !== null && p.member !== member && p.member !== "")) continue;
    const end = p.at + m.settings.pingpongIntervalMs;
    if (end > wallNow(m) && (until === null || end > until)) until = end;
  }
  return until;
}

/** Remember that a giveover asked by `member` moved the group off `node` (one mark per pair). */
export function recordPingpong(m: Machine, node: NodeId, member: string) {
  m.policy.pingpong = m.policy.pingpong.filter((p) => p.node !== node || p.member !== member);
  m.policy.pingpong.push({ node, member, at: wallNow(m) });
}

/** Count a start of the group that failed here. */
export function recordFailedStart(m: Machine) {
  m.policy.failedStarts.push(wallNow(m));
  if (m.policy.failedStarts.length > MAX_KEPT) m.policy.failedStarts.shift();
}

/** Starts of the group that failed here within pingpong_interval. */
export function recentFailedStarts(m: Machine): number {
  const since = wallNow(m) - m.settings.pingpongIntervalMs;
  return m.policy.failedStarts.filter((t) => t > since).length;
}

/** A time from the future beyond this (a clock set back, a foreign file) is forgotten. */
const FUTURE_SLACK_MS = 60_000;

/** Forget what no window can see any more (a step does this, never a query). */
export function prunePolicy(m: Machine) {
  const now = wallNow(m);
  const future = (t: number) => t > now + FUTURE_SLACK_MS;
  if (m.policy.pingpong.some((p) => future(p.at))) {
    m.policy.pingpong = m.policy.pingpong.filter((p) => !future(p.at));
  }
  let longest = 0;
  for (const x of m.members) longest = Math.max(longest, x.settings.retryIntervalMs);
  for (const [name, times] of Object.entries(m.policy.restarts)) {
    const x = m.members.find((y) => y.settings.name === name);
    const window = x?.settings.retryIntervalMs ?? 0;
    const kept = times.filter((t) => t > now - window && !future(t));
    if (kept.length !== times.length) m.policy.restarts[name] = kept;
    if (kept.length === 0) delete m.policy.restarts[name];
  }
  if (m.policy.groupRestarts.some((t) => t <= now - longest || future(t))) {
    m.policy.groupRestarts = m.policy.groupRestarts.filter((t) => t > now - longest && !future(t));
  }
  const pp = m.settings.pingpongIntervalMs;
  if (m.policy.pingpong.some((p) => p.at <= now - pp)) {
    m.policy.pingpong = m.policy.pingpong.filter((p) => p.at > now - pp);
  }
  if (m.policy.failedStarts.some((t) => t <= now - pp || future(t))) {
    m.policy.failedStarts = m.policy.failedStarts.filter((t) => t > now - pp && !future(t));
  }
}
