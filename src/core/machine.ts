/**
 * The failover machine of one resource on one node: events in, effects out.
 *
 * Safety rests on leases (PRODUCT.md §3.3):
 * - a primary runs its service only while a quorum of the resource's nodes
 *   (itself plus a majority of the rest, i.e. one peer in a cluster of two or
 *   three) has granted it a lease, counted from the send time of its own
 *   request; when the lease runs out it stops the service and steps down;
 * - a node grants a lease to one claimant at a time and keeps honouring it, in
 *   its own clock, for the lease plus the stop bound, stretched by the clock
 *   skew, plus one timeout (`holdMs`);
 * - a secondary takes over only after more than complaint_count complaints
 *   from watchdogs, received while no primary is heard, and after the primary
 *   has been silent for that same hold time (or a fence succeeded).
 *
 * The state is mutated in place by `step`, which returns the effects to run in
 * order. Nothing here reads a clock or touches I/O: time comes with events.
 */
import type {
  Claim,
  Effect,
  Event,
  HookMethod,
  HookOutcome,
  LogLevel,
  Message,
  NodeId,
  PersistedState,
  ResourceSettings,
  Role,
  RoleCommand,
  ServiceState,
  Time,
} from "./types.ts";
import { describeOutcome } from "./types.ts";
import { fmt, holdMs, leaseMs, livenessMs } from "./timing.ts";

/**
 * Deliberate defects, one per safety mechanism, so tests can show that the
 * simulator's checker catches a machine without it. The daemon never sets them.
 */
export interface Defects {
  /** The primary never stops when its lease runs out. */
  noSelfFencing?: boolean;
  /** Complaints count even while the primary is connected (the original's banking bug). */
  countComplaintsWhileConnected?: boolean;
  /** Take over on complaints without waiting out the old primary's lease (granters neither). */
  noLeaseWait?: boolean;
  /** Count the lease from the ack's arrival instead of the request's send time. */
  renewOnReceipt?: boolean;
  /** On equal epoch and priority both claimants yield (the original's tie). */
  bothYieldOnTie?: boolean;
  /** A status probe that timed out reads as running (the original's hung-status bug). */
  timeoutIsRunning?: boolean;
}

/** What this node knows of a peer, from its last heartbeat or ack. */
export interface PeerView {
  lastHeard: Time | null;
  /** The transport reported the peer gone since it was last heard. */
  down: boolean;
  role: Role | null;
  epoch: number;
  priority: number;
  state: ServiceState;
}

/** A complaint as recorded by a secondary. */
export interface ComplaintRecord {
  from: NodeId;
  at: Time;
  silenceMs: number;
  reason: string;
}

/** The last role change, for status. */
export interface TransitionRecord {
  at: Time;
  from: Role;
  to: Role;
  epoch: number;
  reason: string;
}

/** The whole state of one resource on one node. */
export interface Machine {
  settings: ResourceSettings;
  defects: Defects;
  now: Time;
  bootedAt: Time;
  role: Role;
  /** Claimed epoch while primary; otherwise the epoch last followed. */
  epoch: number;
  maxEpoch: number;
  forced: boolean;
  service: ServiceState;
  attempts: number;
  nextHookId: number;
  /** The start, stop, fence or panic hook in flight (they never overlap). */
  busy: { id: number; method: HookMethod; since: Time } | null;
  /** The status probe in flight; `stale` once a start or stop began after it. */
  probe: { id: number; since: Time; stale: boolean } | null;
  nextProbeAt: Time;
  /** When reconcile wants to run again (a probe slot), or null. */
  reconcileAt: Time | null;
  nextStartAt: Time;
  nextHeartbeatAt: Time;
  seq: number;
  /** Send times of recent lease requests, by sequence number. */
  sent: Map<number, Time>;
  /** Primary: lease expiry granted by each peer. */
  grantsFrom: Map<NodeId, Time>;
  /** Primary: the lease end last announced; null when none is held. */
  leaseUntil: Time | null;
  /** Granter: the claimant this node honours, and until when (local clock). */
  grant: { holder: Claim; until: Time } | null;
  peers: Map<NodeId, PeerView>;
  complaints: ComplaintRecord[];
  /** Last time any primary was heard from (or boot: one might have been active). */
  lastPrimaryHeard: Time;
  lastPrimary: NodeId | null;
  /** Lease and stop bound announced by the last primary heard. */
  primaryLeaseMs: number;
  primaryStopMs: number;
  /** Watchdog: last time a primary was seen running. */
  lastRunningSeen: Time | null;
  fenced: boolean;
  /** Complaints processed before this time may be stale (after a freeze). */
  staleUntil: Time;
  /** The last probe answered unknown (hung, killed, odd exit): act without knowing. */
  probeSaidUnknown: boolean;
  /** After stepping down with the service still up: where to hand over once stopped. */
  releasePending: { epoch: number; successor: NodeId | null } | null;
  shuttingDown: boolean;
  quiesced: boolean;
  roleSince: Time;
  lastTransition: TransitionRecord | null;
  /** Why the machine does not do what one might expect, for status. */
  note: string;
}

/** Create the machine at daemon start, from persisted state if there is any. */
export function createMachine(
  settings: ResourceSettings,
  now: Time,
  persisted: PersistedState | null,
  defects: Defects = {},
): { machine: Machine; effects: Effect[] } {
  const peers = new Map<NodeId, PeerView>();
  const m: Machine = {
    settings,
    defects,
    now,
    bootedAt: now,
    role: "init",
    epoch: persisted?.epoch ?? 0,
    maxEpoch: Math.max(persisted?.maxEpoch ?? 0, persisted?.epoch ?? 0),
    forced: false,
    service: "unknown",
    attempts: 0,
    nextHookId: 1,
    busy: null,
    probe: null,
    nextProbeAt: now,
    reconcileAt: null,
    nextStartAt: now,
    nextHeartbeatAt: now,
    seq: 0,
    sent: new Map(),
    grantsFrom: new Map(),
    leaseUntil: null,
    grant: null,
    peers,
    complaints: [],
    lastPrimaryHeard: now,
    lastPrimary: null,
    primaryLeaseMs: leaseMs(settings),
    primaryStopMs: settings.stopTimeoutMs,
    lastRunningSeen: null,
    fenced: false,
    probeSaidUnknown: false,
    staleUntil: now,
    releasePending: null,
    shuttingDown: false,
    quiesced: false,
    roleSince: now,
    lastTransition: null,
    note: "",
  };
  updateSettings(m, settings);
  const fx: Effect[] = [];
  if (persisted?.grantHolder) {
    // We may have granted a lease just before a crash: keep honouring it.
    m.grant = { holder: persisted.grantHolder, until: now + hold(m) };
  }
  const target = persisted ? persisted.role : settings.roleOnStart;
  if (target === "primary" && !persisted) {
    promote(m, fx, "role_on_start", false);
  } else if (target !== "init") {
    setRole(m, fx, target, persisted ? "restored from state_dir" : "role_on_start", true);
  }
  afterEvent(m, fx);
  return { machine: m, effects: fx };
}

/**
 * Apply new settings (a reload) to a machine, keeping what it knows: peers that
 * appear start unheard, peers that went away are forgotten.
 */
export function updateSettings(m: Machine, s: ResourceSettings): void {
  m.settings = s;
  for (const p of s.peers) {
    if (m.peers.has(p)) continue;
    m.peers.set(p, {
      lastHeard: null,
      down: false,
      role: null,
      epoch: 0,
      priority: s.nodes.find((n) => n.name === p)?.priority ?? 100,
      state: "unknown",
    });
  }
  for (const p of [...m.peers.keys()]) if (!s.peers.includes(p)) m.peers.delete(p);
}

/** Feed one event to the machine; returns the effects to run, in order. */
export function step(m: Machine, ev: Event): Effect[] {
  const fx: Effect[] = [];
  // The machine wakes at least every interval; a longer gap means this process was
  // frozen (SIGSTOP) or starved, and what arrives now may have waited in a buffer.
  const gap = ev.now - m.now;
  if (gap > livenessMs(m.settings)) {
    m.staleUntil = ev.now + m.settings.timeoutMs;
    if (m.complaints.length > 0) m.complaints = [];
    log(
      fx,
      "warning",
      `no event for ${fmt(gap)}: was this daemon frozen? stale complaints ignored`,
    );
  }
  m.now = Math.max(m.now, ev.now);
  switch (ev.type) {
    case "tick":
      break;
    case "command":
      onCommand(m, fx, ev.command);
      break;
    case "message":
      onMessage(m, fx, ev.from, ev.msg);
      break;
    case "peer_down": {
      const p = m.peers.get(ev.peer);
      if (p) p.down = true;
      break;
    }
    case "hook_done":
      onHookDone(m, fx, ev.id, ev.method, ev.outcome);
      break;
    case "shutdown":
      onShutdown(m, fx);
      break;
  }
  afterEvent(m, fx);
  return fx;
}

/** The next instant at which the machine wants a tick. */
export function wakeAt(m: Machine): Time {
  let t = m.nextHeartbeatAt;
  if (m.role === "primary" && m.leaseUntil !== null) t = Math.min(t, m.leaseUntil);
  if (m.role === "primary" && m.grant && m.grant.until > m.now) t = Math.min(t, m.grant.until);
  if (m.reconcileAt !== null) t = Math.min(t, m.reconcileAt);
  if (m.role === "secondary" && complaintsReady(m)) t = Math.min(t, takeoverAllowedAt(m));
  return Math.max(t, m.now);
}

/** a beats b: higher epoch, then lower priority number, then lower node name. */
export function beats(a: Claim, b: Claim): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.priority !== b.priority) return a.priority < b.priority;
  return a.node < b.node;
}

/** Majority of the resource's nodes, this one included. */
export function quorum(m: Machine): number {
  return Math.floor(m.settings.nodes.length / 2) + 1;
}

/** Is the peer heard recently and not reported down? */
export function isLive(m: Machine, p: PeerView): boolean {
  return !p.down && p.lastHeard !== null && m.now - p.lastHeard <= livenessMs(m.settings);
}

/** Is this node's service possibly running (from start begin to stop completion)? */
export function mayBeActive(m: Machine): boolean {
  return m.service !== "stopped" || m.busy?.method === "start";
}

// ---------------------------------------------------------------------------
// Events

function onCommand(m: Machine, fx: Effect[], cmd: RoleCommand) {
  if (m.shuttingDown) {
    log(fx, "warning", `role ${cmd.role} ignored: shutting down`);
    return;
  }
  if (cmd.role === m.role && !(cmd.force && !m.forced && cmd.role === "primary")) {
    log(fx, "info", `role is already ${cmd.role}`);
    return;
  }
  if (cmd.role === "primary") {
    if (cmd.force) {
      log(fx, "warning", "forced to primary without a lease: the operator takes the risk");
    }
    promote(m, fx, cmd.force ? "operator (forced)" : "operator", !!cmd.force);
  } else if (m.role === "primary") {
    stepDown(m, fx, cmd.role, "operator", null);
  } else {
    setRole(m, fx, cmd.role, "operator", false);
  }
}

function onMessage(m: Machine, fx: Effect[], from: NodeId, msg: Message) {
  const peer = m.peers.get(from);
  if (!peer) {
    log(fx, "debug", `message from ${from}, not a node of this resource: ignored`);
    return;
  }
  if (msg.epoch > m.maxEpoch) m.maxEpoch = msg.epoch;
  switch (msg.type) {
    case "heartbeat":
      heard(m, peer, from, msg.role, msg.epoch, msg.priority, msg.state);
      if (msg.role === "primary") {
        m.primaryLeaseMs = msg.leaseMs;
        m.primaryStopMs = msg.stopTimeoutMs;
      }
      onHeartbeat(m, fx, from, msg);
      break;
    case "ack":
      heard(m, peer, from, msg.role, msg.epoch, msg.priority, msg.state);
      onAck(m, fx, from, msg);
      break;
    case "complaint":
      onComplaint(m, fx, from, peer, msg);
      break;
    case "release":
      onRelease(m, fx, from, msg);
      break;
  }
}

function heard(
  m: Machine,
  peer: PeerView,
  from: NodeId,
  role: Role,
  epoch: number,
  priority: number,
  state: ServiceState,
) {
  peer.lastHeard = m.now;
  peer.down = false;
  peer.role = role;
  peer.epoch = epoch;
  peer.priority = priority;
  peer.state = state;
  if (role === "primary") {
    m.lastPrimaryHeard = m.now;
    m.lastPrimary = from;
    if (state === "running") m.lastRunningSeen = m.now;
    // Connected again: old complaints are void.
    if (m.complaints.length > 0 && !m.defects.countComplaintsWhileConnected) m.complaints = [];
    m.fenced = false;
  }
}

function onHeartbeat(m: Machine, fx: Effect[], from: NodeId, msg: Message & { type: "heartbeat" }) {
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
function decideGrant(
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
  m.grant = { holder: claim, until: m.now + h };
  if (changed) {
    if (m.role !== "primary") m.epoch = Math.max(m.epoch, claim.epoch);
    persist(m, fx);
    log(fx, "info", `lease granted to ${claim.node} (epoch ${claim.epoch})`);
  }
  return { granted: true };
}

function betterWaitingClaimant(m: Machine, claim: Claim): Claim | null {
  for (const [node, p] of m.peers) {
    if (node === claim.node || p.role !== "primary" || !isLive(m, p)) continue;
    const other = { node, epoch: p.epoch, priority: p.priority };
    if (beats(other, claim)) return other;
  }
  return null;
}

function onAck(m: Machine, fx: Effect[], from: NodeId, msg: Message & { type: "ack" }) {
  if (m.role !== "primary") return;
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
  if (msg.reason) m.note = `lease refused by ${from}: ${msg.reason}`;
}

function onComplaint(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  peer: PeerView,
  msg: Message & { type: "complaint" },
) {
  if (peer.role !== "watchdog") {
    log(fx, "debug", `complaint from ${from}, which is not a watchdog: ignored`);
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
  pruneComplaints(m);
  fx.push(hookEffect(m, "complain", [from, msg.reason]));
  log(
    fx,
    "info",
    `complaint from ${from}: ${msg.reason} (${m.complaints.length} within ` +
      `${fmt(m.settings.complaintIntervalMs)}, threshold ${m.settings.complaintCount})`,
  );
}

function onRelease(m: Machine, fx: Effect[], from: NodeId, msg: Message & { type: "release" }) {
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

function onHookDone(
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
    m.nextProbeAt = m.now + m.settings.heartbeatIntervalMs;
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

function onShutdown(m: Machine, fx: Effect[]) {
  if (m.shuttingDown) return;
  m.shuttingDown = true;
  log(fx, "info", "shutting down");
  if (m.role === "primary") {
    const successor = bestSecondary(m);
    if (successor) {
      stepDown(m, fx, "secondary", `shutdown: handing over to ${successor}`, successor);
    } else {
      // Keep the role for the next start; stop what runs here.
      m.releasePending = { epoch: m.epoch, successor: null };
      m.leaseUntil = null;
      m.grantsFrom.clear();
    }
  }
}

// ---------------------------------------------------------------------------
// Transitions

function promote(m: Machine, fx: Effect[], reason: string, force: boolean) {
  const from = m.role;
  m.maxEpoch += 1;
  m.epoch = m.maxEpoch;
  m.role = "primary";
  m.forced = force;
  m.attempts = 0;
  m.grantsFrom.clear();
  m.sent.clear();
  m.leaseUntil = null;
  m.complaints = [];
  m.fenced = false;
  m.releasePending = null;
  m.roleSince = m.now;
  m.nextStartAt = m.now;
  m.note = force ? "forced primary: running without a lease" : "waiting for a lease";
  persist(m, fx);
  transition(m, fx, from, "primary", reason);
  sendHeartbeats(m, fx);
}

/** Leave the primary role; the service is stopped, then the lease is released. */
function stepDown(
  m: Machine,
  fx: Effect[],
  to: Role,
  reason: string,
  successor: NodeId | null,
) {
  const epoch = m.epoch;
  setRole(m, fx, to, reason, false);
  m.releasePending = { epoch, successor };
  m.leaseUntil = null;
  m.grantsFrom.clear();
  if (!mayBeActive(m)) stoppedAfterStepDown(m, fx);
}

function setRole(m: Machine, fx: Effect[], to: Role, reason: string, atStart: boolean) {
  const from = atStart ? "init" : m.role;
  m.role = to;
  m.forced = false;
  m.roleSince = m.now;
  m.complaints = [];
  m.note = "";
  if (to !== "primary") m.epoch = m.maxEpoch;
  persist(m, fx);
  transition(m, fx, from, to, reason);
}

function transition(m: Machine, fx: Effect[], from: Role, to: Role, reason: string) {
  m.lastTransition = { at: m.now, from, to, epoch: m.epoch, reason };
  fx.push({ type: "transition", from, to, epoch: m.epoch, reason });
  log(fx, "info", `role ${from} -> ${to} (epoch ${m.epoch}): ${reason}`);
  fx.push(hookEffect(m, "role", [from, to]));
}

function stoppedAfterStepDown(m: Machine, fx: Effect[]) {
  const r = m.releasePending;
  if (!r) return;
  m.releasePending = null;
  fx.push({ type: "lease", until: null });
  for (const to of m.settings.peers) {
    fx.push({
      type: "send",
      to,
      msg: { type: "release", resource: m.settings.name, epoch: r.epoch, successor: r.successor },
    });
  }
}

// ---------------------------------------------------------------------------
// What happens after every event: heartbeats, the lease, takeover, hooks.

function afterEvent(m: Machine, fx: Effect[]) {
  if (m.now >= m.nextHeartbeatAt) {
    sendHeartbeats(m, fx);
    if (m.role === "watchdog") watch(m, fx);
  }
  if (m.role === "primary") checkLease(m, fx);
  if (m.role === "secondary") checkTakeover(m, fx);
  reconcile(m, fx);
  if (m.shuttingDown && !m.quiesced && !m.busy && quiet(m)) {
    m.quiesced = true;
    stoppedAfterStepDown(m, fx);
    fx.push({ type: "quiesced" });
  }
}

/** Nothing left to stop on shutdown: stopped, hopelessly failed, or never ours to stop. */
function quiet(m: Machine): boolean {
  if (m.service === "stopped" || m.service === "stop_failed") return true;
  return m.role !== "primary" && m.releasePending === null && m.service !== "running" &&
    m.service !== "starting";
}

function sendHeartbeats(m: Machine, fx: Effect[]) {
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

/** Our own vote is ours to give only when we honour no other holder's lease. */
function selfVote(m: Machine): boolean {
  const g = m.grant;
  return !g || g.holder.node === m.settings.self || g.until <= m.now;
}

function updateLease(m: Machine, fx: Effect[]) {
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

function checkLease(m: Machine, fx: Effect[]) {
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

function hasLease(m: Machine): boolean {
  if (m.defects.noSelfFencing && m.leaseUntil !== null) return true;
  return m.forced || (m.leaseUntil !== null && m.leaseUntil > m.now);
}

/** Watchdog: complain to the secondaries when no primary is seen running. */
function watch(m: Machine, fx: Effect[]) {
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

function primaryConnected(m: Machine): boolean {
  for (const p of m.peers.values()) if (p.role === "primary" && isLive(m, p)) return true;
  return false;
}

function pruneComplaints(m: Machine) {
  const from = m.now - m.settings.complaintIntervalMs;
  m.complaints = m.complaints.filter((c) => c.at >= from);
}

function complaintsReady(m: Machine): boolean {
  pruneComplaints(m);
  return m.complaints.length > m.settings.complaintCount &&
    (!primaryConnected(m) || !!m.defects.countComplaintsWhileConnected);
}

/** The wait a secondary observes: the announced primary's hold time, or its own if longer. */
export function takeoverWaitMs(m: Machine): number {
  return holdMs(
    Math.max(m.primaryLeaseMs, leaseMs(m.settings)),
    Math.max(m.primaryStopMs, m.settings.stopTimeoutMs),
    m.settings.clockSkew,
    m.settings.timeoutMs,
  );
}

/** How long the primary has provably been silent: our own view and every complaint's. */
export function primarySilenceMs(m: Machine): number {
  let silence = m.now - m.lastPrimaryHeard;
  for (const c of m.complaints) silence = Math.min(silence, c.silenceMs + (m.now - c.at));
  return silence;
}

function takeoverAllowedAt(m: Machine): Time {
  return m.now + Math.max(0, takeoverWaitMs(m) - primarySilenceMs(m)) + 1;
}

function checkTakeover(m: Machine, fx: Effect[]) {
  if (m.shuttingDown || !complaintsReady(m)) return;
  const silence = primarySilenceMs(m);
  const wait = takeoverWaitMs(m);
  const from = [...new Set(m.complaints.map((c) => c.from))].join(", ");
  if (silence > wait || m.fenced || m.defects.noLeaseWait) {
    promote(
      m,
      fx,
      `takeover: ${m.complaints.length} complaints from ${from} within ` +
        `${fmt(m.settings.complaintIntervalMs)}; primary ${m.lastPrimary ?? "(none seen)"} ` +
        (m.fenced ? "fenced" : `silent for ${fmt(silence)} > ${fmt(wait)}`),
      false,
    );
    return;
  }
  m.note = `takeover in ${fmt(wait - silence)}: waiting out the old primary's lease`;
  if (m.settings.hasFence && !m.busy && !m.fenced) {
    runBusy(m, fx, "fence", [m.lastPrimary ?? ""]);
  }
}

/** Bring the service where the role wants it: one start/stop at a time, probes in between. */
function reconcile(m: Machine, fx: Effect[]) {
  m.reconcileAt = null;
  if (m.busy || m.role === "watchdog") return;
  const wantUp = m.role === "primary" && !m.shuttingDown && hasLease(m);
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
      if (wantUp && !m.probe) return runStart(m, fx);
      if (m.role === "secondary" && probeDue && !m.shuttingDown) runProbe(m, fx);
      return;
    case "unknown":
      // A probe first; only an unknown answer from the probe itself acts blind.
      if (m.probe) return;
      if (!m.probeSaidUnknown) {
        if (probeDue) runProbe(m, fx);
        return;
      }
      return wantUp ? runStart(m, fx) : runStop(m, fx);
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

function runProbe(m: Machine, fx: Effect[]) {
  const id = m.nextHookId++;
  m.probe = { id, since: m.now, stale: false };
  fx.push(hookEffect(m, "status", [], id));
}

function runStart(m: Machine, fx: Effect[]) {
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
  runBusy(m, fx, "start", []);
  log(fx, "info", `starting (attempt ${m.attempts} of ${m.settings.attempts})`);
}

function runStop(m: Machine, fx: Effect[]) {
  m.service = "stopping";
  runBusy(m, fx, "stop", []);
}

function runBusy(m: Machine, fx: Effect[], method: HookMethod, args: string[]) {
  const id = m.nextHookId++;
  m.busy = { id, method, since: m.now };
  if (m.probe) m.probe.stale = true;
  fx.push(hookEffect(m, method, args, id));
}

function hookEffect(m: Machine, method: HookMethod, args: string[], id = m.nextHookId++): Effect {
  const timeoutMs = method === "stop"
    ? m.settings.stopTimeoutMs
    : m.settings.methodTimeoutMs[method] ?? m.settings.hookTimeoutMs;
  return { type: "hook", id, method, args, role: m.role, epoch: m.epoch, timeoutMs };
}

function persist(m: Machine, fx: Effect[]) {
  fx.push({
    type: "persist",
    state: {
      role: m.role,
      epoch: m.epoch,
      maxEpoch: m.maxEpoch,
      grantHolder: m.grant?.holder ?? null,
    },
  });
}

function log(fx: Effect[], level: LogLevel, message: string) {
  fx.push({ type: "log", level, message });
}

function myClaim(m: Machine): Claim {
  return { node: m.settings.self, epoch: m.epoch, priority: m.settings.priority };
}

function hold(m: Machine): number {
  return holdMs(
    leaseMs(m.settings),
    m.settings.stopTimeoutMs,
    m.settings.clockSkew,
    m.settings.timeoutMs,
  );
}

/** The live secondary a departing primary hands over to: best priority, then name. */
function bestSecondary(m: Machine): NodeId | null {
  let best: Claim | null = null;
  for (const [node, p] of m.peers) {
    if (p.role !== "secondary" || !isLive(m, p)) continue;
    const c = { node, epoch: 0, priority: p.priority };
    if (!best || beats(c, best)) best = c;
  }
  return best?.node ?? null;
}

/** status exit codes: 0 running, 1 stopped, anything else (timeout, kill, error) unknown. */
export function probeResult(outcome: HookOutcome): ServiceState {
  if (outcome.kind !== "exit") return "unknown";
  if (outcome.code === 0) return "running";
  if (outcome.code === 1) return "stopped";
  return "unknown";
}
