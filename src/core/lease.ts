/**
 * Leases. Every node sends a heartbeat to its peers each interval; from a
 * primary it asks for a lease. A peer grants only when it knows no other live
 * claimant, and keeps honouring the grant for the hold time. The primary's
 * lease counts from the send time of the requests a quorum granted; when it
 * runs out the primary fences itself.
 */
import type { Claim, Effect, Message, NodeId, Time } from "./types.ts";
import { fmt, holdMs, leaseMs } from "./timing.ts";
import {
  beats,
  hasLease,
  isLive,
  log,
  type Machine,
  mayBeActive,
  myClaim,
  persist,
  primaryConnected,
  quorum,
} from "./state.ts";
import { promote, stepDown } from "./transitions.ts";

/** Send this node's heartbeat to every peer; from a primary it is a lease request. */
export function sendHeartbeats(m: Machine, fx: Effect[]) {
  // A claimant without a lease asks more often: the takeover waits on it.
  const waiting = m.role === "primary" && !hasLease(m) && !m.shuttingDown;
  m.nextHeartbeatAt = m.now + m.settings.heartbeatIntervalMs / (waiting ? 4 : 1);
  m.seq += 1;
  m.sent.set(m.seq, m.now);
  // Only requests younger than a lease can still prove anything.
  const oldest = m.now - leaseMs(m.settings);
  for (const [s, t] of m.sent) {
    if (t < oldest) m.sent.delete(s);
    else break;
  }
  const role = m.role;
  for (const to of m.settings.peers) {
    fx.push({
      type: "send",
      to,
      msg: {
        type: "heartbeat",
        resource: m.settings.name,
        epoch: m.epoch,
        role,
        priority: m.settings.priority,
        state: m.service,
        seq: m.seq,
        leaseMs: leaseMs(m.settings),
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
  let granted = false;
  let holder: Claim | undefined;
  let reason: string | undefined;
  if (msg.role === "primary") {
    const claim: Claim = { node: from, epoch: msg.epoch, priority: msg.priority };
    const d = decideGrant(m, fx, claim, msg.leaseMs, msg.stopTimeoutMs);
    granted = d.granted;
    holder = d.holder;
    reason = d.reason;
  }
  fx.push({
    type: "send",
    to: from,
    msg: {
      type: "ack",
      resource: m.settings.name,
      epoch: m.epoch,
      role: m.role,
      priority: m.settings.priority,
      state: m.service,
      seq: msg.seq,
      granted,
      ...(holder ? { holder } : {}),
      ...(reason ? { reason } : {}),
    },
  });
}

/** Decide whether to grant `claim` a lease. Grants are exclusive: one live holder at a time. */
export function decideGrant(
  m: Machine,
  fx: Effect[],
  claim: Claim,
  claimLeaseMs: number,
  claimStopMs: number,
): { granted: boolean; holder?: Claim; reason?: string } {
  if (m.shuttingDown) return { granted: false, reason: "shutting down" };
  if (m.role === "primary") {
    const mine = myClaim(m);
    const tie = claim.epoch === mine.epoch && claim.priority === mine.priority;
    if (beats(claim, mine) || (tie && m.defects.bothYieldOnTie)) {
      stepDown(
        m,
        fx,
        "secondary",
        `yield to ${claim.node} (epoch ${claim.epoch}, priority ${claim.priority} beats ` +
          `epoch ${mine.epoch}, priority ${mine.priority})`,
        null,
      );
    } else {
      return { granted: false, holder: mine, reason: "this node is primary" };
    }
  }
  if (m.role !== "watchdog" && mayBeActive(m)) {
    return { granted: false, reason: `local service is ${m.service}` };
  }
  const g = m.grant;
  if (g && g.holder.node !== claim.node && g.until > m.now) {
    return { granted: false, holder: g.holder, reason: `lease held by ${g.holder.node}` };
  }
  // A better claimant than the holder we renew, alive and waiting: stop renewing,
  // so that the holder steps down; its current lease stays honoured.
  const better = betterWaitingClaimant(m, claim);
  if (better) {
    return { granted: false, holder: better, reason: `${better.node} claims a later epoch` };
  }
  const changed = !g || g.holder.node !== claim.node || g.holder.epoch !== claim.epoch;
  const h = m.defects.noLeaseWait ? 0 : holdMs(
    Math.max(claimLeaseMs, leaseMs(m.settings)),
    Math.max(claimStopMs, m.settings.stopTimeoutMs),
    m.settings.clockSkew,
    m.settings.timeoutMs,
  );
  m.grant = { holder: claim, until: m.now + h, holdMs: h };
  if (changed) {
    if (m.role !== "primary") m.epoch = Math.max(m.epoch, claim.epoch);
    persist(m, fx);
    log(fx, "info", `lease granted to ${claim.node} (epoch ${claim.epoch})`);
  }
  return { granted: true };
}

/** A live primary claimant that beats `claim`, if this node has heard one. */
export function betterWaitingClaimant(m: Machine, claim: Claim): Claim | null {
  for (const [node, p] of m.peers) {
    if (node === claim.node || p.role !== "primary" || !isLive(m, p)) continue;
    const other = { node, epoch: p.epoch, priority: p.priority };
    if (beats(other, claim)) return other;
  }
  return null;
}

/** A primary counts a granted ack towards its lease, and yields to a better holder it is told of. */
export function onAck(m: Machine, fx: Effect[], from: NodeId, msg: Message & { type: "ack" }) {
  // A primary on its way out asks for no more lease.
  if (m.role !== "primary" || m.shuttingDown) return;
  const sentAt = m.sent.get(msg.seq);
  if (msg.granted) {
    // Too old or from before a restart: proves nothing.
    if (sentAt === undefined && !m.defects.renewOnReceipt) return;
    const until = (m.defects.renewOnReceipt ? m.now : sentAt!) + leaseMs(m.settings);
    const prev = m.grantsFrom.get(from) ?? -Infinity;
    if (until > prev) m.grantsFrom.set(from, until);
    updateLease(m, fx);
    return;
  }
  const holder = msg.holder;
  const mine = myClaim(m);
  const tie = holder && holder.epoch === mine.epoch && holder.priority === mine.priority;
  if (
    holder && holder.node !== m.settings.self &&
    (beats(holder, mine) || (tie && m.defects.bothYieldOnTie))
  ) {
    stepDown(
      m,
      fx,
      "secondary",
      `yield to ${holder.node} (epoch ${holder.epoch}), reported by ${from}`,
      null,
    );
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
  if (m.grant && m.grant.holder.node === from && m.grant.holder.epoch === msg.epoch) {
    m.grant = null;
    persist(m, fx);
    log(fx, "info", `${from} released its lease (epoch ${msg.epoch})`);
  }
  const p = m.peers.get(from);
  if (p && p.role === "primary" && p.epoch === msg.epoch) p.role = "secondary";
  if (
    msg.successor === m.settings.self && m.role === "secondary" && !m.shuttingDown &&
    !primaryConnected(m)
  ) {
    promote(m, fx, `handover from ${from}`, false);
  }
}

/** Our own vote is ours to give only when we honour no other holder's lease. */
export function selfVote(m: Machine): boolean {
  const g = m.grant;
  return !g || g.holder.node === m.settings.self || g.until <= m.now;
}

/** Recompute the lease from the grants of a quorum; announce it when it changes. */
export function updateLease(m: Machine, fx: Effect[]) {
  const need = quorum(m) - (selfVote(m) ? 1 : 0);
  let until: Time | null;
  if (m.forced || need <= 0) {
    until = Infinity;
  } else {
    const valid = [...m.grantsFrom.values()].sort((a, b) => b - a);
    until = valid.length >= need ? valid[need - 1] : null;
    if (until !== null && until <= m.now) until = null;
  }
  // No quorum now: a lease already held simply runs out (checkLease acts then).
  if (until === null || until === m.leaseUntil) return;
  if (m.leaseUntil === null) {
    log(fx, "info", `lease acquired (quorum ${quorum(m)} of ${m.settings.nodes.length})`);
    m.note = "";
  }
  m.leaseUntil = until;
  fx.push({ type: "lease", until: Number.isFinite(until) ? until : null });
}

/** Self-fencing: a primary whose lease ran out stops its service and steps down. */
export function checkLease(m: Machine, fx: Effect[]) {
  if (m.forced || m.shuttingDown || m.defects.noSelfFencing) return;
  if (m.leaseUntil === null) updateLease(m, fx);
  if (quorum(m) <= 1) return;
  if (m.leaseUntil !== null && m.now >= m.leaseUntil) {
    stepDown(
      m,
      fx,
      "secondary",
      `self-fencing: lease expired, no acknowledgement from a quorum for ` +
        `${fmt(leaseMs(m.settings))}`,
      null,
    );
  }
}
