/**
 * Leases. Every node sends a heartbeat to its peers each interval; from a
 * primary it asks for a lease. A peer grants only when it knows no other live
 * claimant, and keeps honouring the grant for the hold time. The primary's
 * lease counts from the send time of the requests a quorum granted; when it
 * runs out the primary fences itself.
 *
 * What a claimant asks for is bounded by the shared configuration: a granter
 * grants at most the lease and stop bound the configuration gives that node,
 * says in its ack what it granted, and the claimant credits no more than that
 * (and no more than it asked for with that very request). So two nodes whose
 * settings differ (a reload on one of them, a per-node section) can never
 * disagree on how long a lease lasts in the unsafe direction.
 */
import type { Claim, Effect, Message, NodeId, Time } from "./types.ts";
import { recordPingpong } from "./policy.ts";
import { holdMs, leaseMs } from "./timing.ts";
import {
  activePeer,
  beats,
  claimOf,
  configured,
  groupState,
  hasLease,
  isLive,
  log,
  type Machine,
  mayBeActive,
  myClaim,
  persist,
  primaryConnected,
  quarantined,
  quorum,
} from "./state.ts";
import { changeRole } from "./roles.ts";

/**
 * The next heartbeat instant: on the grid of the interval, so that every
 * resource with the same interval beats in the same tick and their messages
 * share one frame per peer.
 */
export function nextBeat(now: Time, intervalMs: number): Time {
  return (Math.floor(now / intervalMs) + 1) * intervalMs;
}

/** Send this node's heartbeat to every peer; from a primary it is a lease request. */
export function sendHeartbeats(m: Machine, fx: Effect[]) {
  // A claimant without a lease asks more often: the takeover waits on it.
  const waiting = m.role === "primary" && !hasLease(m) && !m.shuttingDown;
  m.nextHeartbeatAt = nextBeat(m.now, m.settings.heartbeatIntervalMs / (waiting ? 4 : 1));
  m.seq += 1;
  const lease = leaseMs(m.settings);
  m.sent.set(m.seq, { at: m.now, leaseMs: lease });
  // Only requests younger than a lease can still prove anything.
  const oldest = m.now - lease;
  for (const [s, r] of m.sent) {
    if (r.at < oldest) m.sent.delete(s);
    else break;
  }
  const state = groupState(m);
  for (const to of m.settings.peers) {
    fx.push({
      type: "send",
      to,
      msg: {
        type: "heartbeat",
        resource: m.settings.name,
        epoch: m.epoch,
        role: m.role,
        state,
        seq: m.seq,
        leaseMs: lease,
        stopTimeoutMs: m.settings.stopTimeoutMs,
      },
    });
  }
}

/** Answer a peer's heartbeat with an ack, granting a lease when the sender is a primary that may have one. */
export function onHeartbeat(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "heartbeat" },
) {
  let answer: GrantDecision = { granted: false };
  if (msg.role === "primary") {
    answer = decideGrant(m, fx, claimOf(m, from, msg.epoch), msg.leaseMs, msg.stopTimeoutMs);
  }
  fx.push({
    type: "send",
    to: from,
    msg: {
      type: "ack",
      resource: m.settings.name,
      epoch: m.epoch,
      role: m.role,
      state: groupState(m),
      seq: msg.seq,
      granted: answer.granted,
      ...(answer.granted ? { leaseMs: answer.leaseMs, stopTimeoutMs: answer.stopMs } : {}),
      ...(answer.holder
        ? { holder: { node: answer.holder.node, epoch: answer.holder.epoch } }
        : {}),
      ...(answer.reason ? { reason: answer.reason } : {}),
    },
  });
}

/** A granter's answer to a lease request. */
export type GrantDecision =
  | { granted: true; leaseMs: number; stopMs: number; holder?: undefined; reason?: undefined }
  | { granted: false; holder?: Claim; reason?: string };

/**
 * Decide whether to grant `claim` a lease of `askLeaseMs` with a stop bound of
 * `askStopMs`. Grants are exclusive: one live holder at a time. Both numbers
 * are capped by the configuration's entry for the claimant.
 */
export function decideGrant(
  m: Machine,
  fx: Effect[],
  claim: Claim,
  askLeaseMs: number,
  askStopMs: number,
): GrantDecision {
  const cfg = configured(m, claim.node);
  if (!cfg) return { granted: false, reason: "not a node of this resource" };
  if (cfg.watchdog) return { granted: false, reason: `${claim.node} is configured as a watchdog` };
  if (m.shuttingDown) return { granted: false, reason: "shutting down" };
  if (quarantined(m)) {
    return { granted: false, reason: "state file unreadable at start: granting nothing yet" };
  }
  if (m.role === "primary") {
    const mine = myClaim(m);
    const tie = claim.epoch === mine.epoch && claim.priority === mine.priority;
    if (beats(claim, mine) || (tie && m.defects.bothYieldOnTie)) {
      changeRole(m, fx, "secondary", {
        kind: "yield",
        to: claim.node,
        epoch: claim.epoch,
        reportedBy: null,
      });
    } else {
      return { granted: false, holder: mine, reason: "this node is primary" };
    }
  }
  if (m.role !== "watchdog" && mayBeActive(m)) {
    return { granted: false, reason: `local service is ${groupState(m)}` };
  }
  const g = m.grant;
  if (g && g.holder.node !== claim.node && g.until > m.now) {
    return { granted: false, holder: g.holder, reason: `lease held by ${g.holder.node}` };
  }
  const changed = !g || g.holder.node !== claim.node || g.holder.epoch !== claim.epoch;
  // Not while another node may still run it (stepped down, its stop under way or failed).
  const active = changed ? activePeer(m, claim.node) : null;
  if (active !== null) {
    return { granted: false, reason: `${active.node} says the service is ${active.state} there` };
  }
  // A better claimant than the holder we renew, alive and waiting: stop renewing,
  // so that the holder steps down; its current lease stays honoured.
  const better = betterWaitingClaimant(m, claim);
  if (better) {
    return { granted: false, holder: better, reason: `${better.node} claims a later epoch` };
  }
  const trust = m.defects.trustClaimedLease;
  const lease = trust ? askLeaseMs : Math.min(askLeaseMs, cfg.leaseMs);
  const stop = trust ? askStopMs : Math.min(askStopMs, cfg.stopTimeoutMs);
  const h = m.defects.noLeaseWait
    ? 0
    : holdMs(lease, stop, m.settings.clockSkew, m.settings.timeoutMs);
  // A renewal never shortens what an earlier grant of the same claimant promised.
  const until = Math.max(m.now + h, changed ? 0 : g!.until);
  m.grant = { holder: claim, until, holdMs: Math.max(h, changed ? 0 : g!.holdMs) };
  if (changed) {
    if (m.role !== "primary") m.epoch = Math.max(m.epoch, claim.epoch);
    persist(m, fx);
    log(fx, "info", `lease granted to ${claim.node} (epoch ${claim.epoch})`);
  } else if (m.grant.holdMs !== g!.holdMs) {
    persist(m, fx);
  }
  return { granted: true, leaseMs: lease, stopMs: stop };
}

/** A live primary claimant that beats `claim`, if this node has heard one. */
export function betterWaitingClaimant(m: Machine, claim: Claim): Claim | null {
  for (const [node, p] of m.peers) {
    if (node === claim.node || p.role !== "primary" || !isLive(m, p)) continue;
    const other = claimOf(m, node, p.epoch);
    if (beats(other, claim)) return other;
  }
  return null;
}

/** A primary counts a granted ack towards its lease, and yields to a better holder it is told of. */
export function onAck(m: Machine, fx: Effect[], from: NodeId, msg: Message & { type: "ack" }) {
  // A primary on its way out asks for no more lease.
  if (m.role !== "primary" || m.shuttingDown) return;
  const asked = m.sent.get(msg.seq);
  if (msg.granted) {
    // Too old or from before a restart: proves nothing.
    if (asked === undefined && !m.defects.renewOnReceipt) return;
    if (msg.leaseMs === undefined || msg.stopTimeoutMs === undefined) {
      log(fx, "debug", `grant from ${from} without its numbers: ignored`);
      return;
    }
    const sentAt = m.defects.renewOnReceipt ? m.now : asked!.at;
    const lease = m.defects.ackCreditedWithCurrentLease
      ? leaseMs(m.settings)
      : Math.min(msg.leaseMs, asked?.leaseMs ?? msg.leaseMs);
    const prev = m.grantsFrom.get(from);
    if (!prev || sentAt >= prev.sentAt) {
      m.grantsFrom.set(from, { sentAt, leaseMs: lease, stopMs: msg.stopTimeoutMs });
    }
    updateLease(m, fx);
    return;
  }
  const holder = msg.holder ? claimOf(m, msg.holder.node, msg.holder.epoch) : null;
  const mine = myClaim(m);
  const tie = holder && holder.epoch === mine.epoch && holder.priority === mine.priority;
  if (
    holder && holder.node !== m.settings.self &&
    (beats(holder, mine) || (tie && m.defects.bothYieldOnTie))
  ) {
    changeRole(m, fx, "secondary", {
      kind: "yield",
      to: holder.node,
      epoch: holder.epoch,
      reportedBy: from,
    });
    return;
  }
  m.grantsFrom.delete(from);
  if (msg.reason) {
    const note = `lease refused by ${from}: ${msg.reason}`;
    // Logged once per reason: a refusal comes back every interval while it lasts.
    if (note !== m.note) log(fx, "info", note);
    m.note = note;
  }
}

/** A primary that stopped releases its lease; a named successor takes over at once. */
export function onRelease(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "release" },
) {
  const holder = m.grant !== null && m.grant.holder.node === from &&
    m.grant.holder.epoch === msg.epoch;
  if (holder) {
    m.grant = null;
    persist(m, fx);
    log(fx, "info", `${from} released its lease (epoch ${msg.epoch})`);
  }
  // A giveover asked by a member: `from` is no destination of that member's giveovers for a
  // pingpong_interval. Every node keeps the mark, so it outlives the node that gave over.
  // Only from the node that was primary at that epoch, and for a member of this group.
  const wasPrimary = holder || (m.lastPrimary === from && m.lastPrimaryEpoch === msg.epoch);
  if (
    msg.pingpong !== undefined && wasPrimary && !configured(m, from)?.watchdog &&
    (msg.pingpong === "" || m.members.some((x) => x.settings.name === msg.pingpong))
  ) {
    recordPingpong(m, from, msg.pingpong);
    persist(m, fx);
  }
  const p = m.peers.get(from);
  if (p && p.role === "primary" && p.epoch === msg.epoch) p.role = "secondary";
  // A release is sent once the service is stopped there (roles.ts), after its heartbeats.
  if (p && p.epoch <= msg.epoch) p.state = "stopped";
  if (
    msg.successor === m.settings.self && m.role === "secondary" && !m.shuttingDown &&
    !primaryConnected(m)
  ) {
    changeRole(m, fx, "primary", { kind: "handover", from });
  }
}

/**
 * A peer fenced `node`: a grant to it is void at once (the fence is the proof
 * that it is down), and a node told that it was fenced stops its service.
 */
export function onFenced(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "fenced" },
) {
  if (configured(m, from)?.watchdog) {
    log(fx, "debug", `fence report from ${from}, which is a watchdog: ignored`);
    return;
  }
  if (msg.node === m.settings.self) {
    if (m.role === "primary" && m.epoch <= msg.nodeEpoch) {
      changeRole(m, fx, "secondary", { kind: "fenced_by", node: from });
    }
    return;
  }
  if (m.grant && m.grant.holder.node === msg.node && m.grant.holder.epoch <= msg.nodeEpoch) {
    m.grant = null;
    persist(m, fx);
    log(fx, "warning", `${from} fenced ${msg.node}: its lease is void`);
  }
  const p = m.peers.get(msg.node);
  if (p && p.role === "primary" && p.epoch <= msg.nodeEpoch) p.role = null;
  // Down, its service with it: what it last said of its service holds no takeover back.
  if (p && p.epoch <= msg.nodeEpoch) p.state = "stopped";
}

/** Our own vote is ours to give only when we honour no other holder's lease. */
export function selfVote(m: Machine): boolean {
  const g = m.grant;
  return !g || g.holder.node === m.settings.self || g.until <= m.now;
}

/**
 * When a peer's grant ends for this primary: the granted lease from the
 * request's send time, shortened by as much as our own stop bound exceeds the
 * one the granter holds for (the granter must still cover our whole stop).
 */
export function grantEnd(m: Machine, g: { sentAt: Time; leaseMs: number; stopMs: number }): Time {
  return g.sentAt + g.leaseMs - Math.max(0, m.settings.stopTimeoutMs - g.stopMs);
}

/** Recompute the lease from the grants of a quorum. */
export function updateLease(m: Machine, fx: Effect[]) {
  const need = quorum(m) - (selfVote(m) ? 1 : 0);
  let until: Time | null;
  if (m.forced || need <= 0) {
    until = Infinity;
  } else {
    const ends = [...m.grantsFrom.values()].map((g) => grantEnd(m, g)).sort((a, b) => b - a);
    until = ends.length >= need ? ends[need - 1] : null;
    if (until !== null && until <= m.now) until = null;
  }
  // No quorum now: a lease already held simply runs out (checkLease acts then).
  if (until === null || until === m.leaseUntil) return;
  if (m.leaseUntil === null) {
    log(fx, "info", `lease acquired (quorum ${quorum(m)} of ${m.settings.nodes.length})`);
    m.note = "";
    if (m.failover && m.failover.oldStoppedAt === null) m.failover.oldStoppedAt = m.now;
  }
  m.leaseUntil = until;
}

/** Self-fencing: a primary whose lease ran out stops its service and steps down. */
export function checkLease(m: Machine, fx: Effect[]) {
  if (m.forced || m.shuttingDown || m.defects.noSelfFencing) return;
  if (m.leaseUntil === null) updateLease(m, fx);
  if (quorum(m) <= 1) return;
  if (m.leaseUntil !== null && m.now >= m.leaseUntil) {
    changeRole(m, fx, "secondary", { kind: "self_fence", leaseMs: leaseMs(m.settings) });
  }
}
