/**
 * Watchdogs and takeover. A watchdog complains to the secondaries when no
 * primary is seen running; a secondary takes over only after more than
 * complaint_count complaints received while no primary is heard, and after
 * the old primary's hold time of silence (or a successful fence).
 */
import type { Effect, Message, NodeId, Time } from "./types.ts";
import { fmt, holdMs, leaseMs } from "./timing.ts";
import {
  activePeer,
  configured,
  hookEffect,
  isLive,
  log,
  type Machine,
  primaryConnected,
  recentComplaints,
} from "./state.ts";
import { changeRole } from "./roles.ts";
import { runControlHook } from "./group.ts";

/** A secondary records a watchdog's complaint, unless a primary is heard or the complaint may be stale. */
export function onComplaint(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "complaint" },
) {
  // Only the configuration makes a node a watchdog, never its own word.
  if (!configured(m, from)?.watchdog) {
    log(fx, "debug", `complaint from ${from}, which is not a configured watchdog: ignored`);
    return;
  }
  if (m.role !== "secondary") {
    log(fx, "debug", `complaint from ${from} ignored: role is ${m.role}`);
    return;
  }
  if (m.now < m.staleUntil) {
    log(
      fx,
      "debug",
      `complaint from ${from} ignored: it may have waited while this node was frozen`,
    );
    return;
  }
  if (primaryConnected(m) && !m.defects.countComplaintsWhileConnected) {
    log(fx, "debug", `complaint from ${from} ignored: primary ${m.lastPrimary} is connected`);
    return;
  }
  m.complaints.push({ from, at: m.now, silenceMs: msg.silenceMs, reason: msg.reason });
  fx.push(hookEffect(m, "complain", [from, msg.reason]));
  log(
    fx,
    "info",
    `complaint from ${from}: ${msg.reason} (${recentComplaints(m).length} within ` +
      `${fmt(m.settings.complaintIntervalMs)}, threshold ${m.settings.complaintCount})`,
  );
}

/** Watchdog: complain to the secondaries when no primary is seen running. */
export function watch(m: Machine, fx: Effect[]) {
  const live = [...m.peers.entries()].filter(([, p]) => isLive(m, p));
  const primaries = live.filter(([, p]) => p.role === "primary");
  if (primaries.some(([, p]) => p.state === "running")) {
    m.note = "";
    return;
  }
  const since = m.lastRunningSeen ?? m.roleSince;
  const silence = m.now - since;
  const reason = primaries.length > 0
    ? `primary ${primaries[0][0]} is ${primaries[0][1].state}`
    : m.lastPrimary
    ? `primary ${m.lastPrimary} unreachable for ${fmt(m.now - m.lastPrimaryHeard)}`
    : "no primary seen";
  const secondaries = live.filter(([, p]) => p.role === "secondary").map(([n]) => n);
  m.note = `complaining: ${reason}`;
  if (secondaries.length === 0) return;
  for (const to of secondaries) {
    fx.push({
      type: "send",
      to,
      msg: {
        type: "complaint",
        resource: m.settings.name,
        epoch: m.epoch,
        reason,
        primary: m.lastPrimary,
        silenceMs: silence,
      },
    });
  }
  fx.push(hookEffect(m, "complain", [reason]));
}

/** Forget complaints older than complaint_interval (a step does this, never a query). */
export function pruneComplaints(m: Machine) {
  const from = m.now - m.settings.complaintIntervalMs;
  if (m.complaints.length > 0 && m.complaints[0].at < from) {
    m.complaints = m.complaints.filter((c) => c.at >= from);
  }
}

/** More than complaint_count recent complaints, and no primary heard. */
export function complaintsReady(m: Machine): boolean {
  return recentComplaints(m).length > m.settings.complaintCount &&
    (!primaryConnected(m) || !!m.defects.countComplaintsWhileConnected);
}

/**
 * The wait a secondary observes: the hold time of the longest lease and stop
 * bound the configuration allows the last primary (its own, if longer). When
 * the last primary it knows is itself (it stepped down since) or none, any
 * other node may have become primary unheard: the longest of them all. A
 * peer's announcement does not enter into it.
 */
export function takeoverWaitMs(m: Machine): number {
  const known = m.lastPrimary !== null && m.lastPrimary !== m.settings.self;
  const old = known ? configured(m, m.lastPrimary!) : undefined;
  const candidates = old ? [old] : m.settings.nodes.filter((n) => !n.watchdog);
  let lease = leaseMs(m.settings), stop = m.settings.stopTimeoutMs;
  for (const n of candidates) {
    lease = Math.max(lease, n.leaseMs);
    stop = Math.max(stop, n.stopTimeoutMs);
  }
  return holdMs(lease, stop, m.settings.clockSkew, m.settings.timeoutMs);
}

/**
 * Extra wait of a secondary when better-placed secondaries (lower priority
 * number, then name) are heard: two intervals for each, so that the best one
 * usually takes over alone instead of two claimants racing.
 */
export function deferMs(m: Machine): number {
  let rank = 0;
  for (const [node, p] of m.peers) {
    if (p.role !== "secondary" || !isLive(m, p)) continue;
    const priority = configured(m, node)?.priority ?? Infinity;
    const better = priority < m.settings.priority ||
      (priority === m.settings.priority && node < m.settings.self);
    if (better) rank++;
  }
  return rank * 2 * m.settings.heartbeatIntervalMs;
}

/** How long the primary has provably been silent: our own view and every complaint's. */
export function primarySilenceMs(m: Machine): number {
  let silence = m.now - m.lastPrimaryHeard;
  for (const c of recentComplaints(m)) silence = Math.min(silence, c.silenceMs + (m.now - c.at));
  return silence;
}

/** When the silence condition will hold, if nothing changes. */
export function takeoverAllowedAt(m: Machine): Time {
  return m.now + Math.max(0, takeoverWaitMs(m) + deferMs(m) - primarySilenceMs(m)) + 1;
}

/** Take over once complaints and silence allow it; run the fence meanwhile if there is one. */
export function checkTakeover(m: Machine, fx: Effect[]) {
  if (m.shuttingDown || m.removing || !complaintsReady(m)) {
    // What was said of a takeover no longer holds (a primary is heard again, or the
    // complaints ran out): a secondary's note is only ever about its takeover.
    m.note = "";
    return;
  }
  const silence = primarySilenceMs(m);
  const wait = takeoverWaitMs(m);
  const defer = deferMs(m);
  const complaints = recentComplaints(m);
  // A fence counts for the primary it put down, and only while that is the last one known.
  const fenced = m.fenced !== null && m.fenced.node === m.lastPrimary &&
    m.fenced.epoch === m.lastPrimaryEpoch;
  // A node still stopping it, or whose stop failed, may run it; a fence of that node settles it.
  const stuck = activePeer(m, fenced ? m.lastPrimary : null);
  if (stuck === null && (silence > wait + defer || fenced || m.defects.noLeaseWait)) {
    if (fenced && m.lastPrimary !== null && m.lastPrimary !== m.settings.self) {
      // The granters learn it first: the fenced primary's lease no longer holds them.
      for (const to of m.settings.peers) {
        fx.push({
          type: "send",
          to,
          msg: {
            type: "fenced",
            resource: m.settings.name,
            epoch: m.epoch,
            node: m.lastPrimary,
            nodeEpoch: m.lastPrimaryEpoch,
          },
        });
      }
      if (m.grant && m.grant.holder.node === m.lastPrimary) m.grant = null;
    }
    changeRole(m, fx, "primary", {
      kind: "takeover",
      complaints: complaints.length,
      watchdogs: [...new Set(complaints.map((c) => c.from))],
      primary: m.lastPrimary,
      silenceMs: silence,
      waitMs: wait,
      fenced,
    });
    return;
  }
  m.note = stuck !== null
    ? `takeover blocked: ${m.settings.name} is ${stuck.state} on ${stuck.node}, where it may ` +
      `still run; it goes on once ${stuck.node} has stopped it (a failed stop is retried every ` +
      `heartbeat) or ${stuck.node} is fenced or gone`
    : `takeover in ${fmt(wait + defer - silence)}: waiting out the old primary's lease` +
      (defer > 0 ? ` and giving a better-placed secondary ${fmt(defer)} first` : "");
  // Only the best-placed secondary fences: two fencing each other's primary at once
  // (a shoot-out) would leave nobody running.
  if (
    m.settings.hasFence && !m.busy && !fenced && defer === 0 && m.lastPrimary !== null &&
    m.lastPrimary !== m.settings.self
  ) {
    runControlHook(m, fx, "fence", [m.lastPrimary]);
  }
}
