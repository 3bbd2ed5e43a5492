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
  Effect,
  Event,
  Message,
  NodeId,
  PersistedState,
  ResourceSettings,
  Role,
  RoleCommand,
  ServiceState,
  Time,
} from "./types.ts";
import { fmt, leaseMs, livenessMs } from "./timing.ts";
import { type Defects, hold, log, type Machine, mayBeActive, type PeerView } from "./state.ts";
import {
  bestSecondary,
  cancelStart,
  promote,
  setRole,
  stepDown,
  stoppedAfterStepDown,
} from "./transitions.ts";
import { checkLease, onAck, onHeartbeat, onRelease, sendHeartbeats } from "./lease.ts";
import {
  checkTakeover,
  complaintsReady,
  onComplaint,
  takeoverAllowedAt,
  watch,
} from "./takeover.ts";
import { onHookDone, reconcile } from "./service.ts";

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
    dirty: false,
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
    // As long as the claimant's own numbers asked for, if they were longer than ours.
    const h = Math.max(hold(m), persisted.grantHoldMs ?? 0);
    m.grant = { holder: persisted.grantHolder, until: now + h, holdMs: h };
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
  if (m.role === "primary" && m.leaseUntil !== null && m.leaseUntil > m.now) {
    t = Math.min(t, m.leaseUntil);
  }
  if (m.role === "primary" && m.grant && m.grant.until > m.now) t = Math.min(t, m.grant.until);
  if (m.reconcileAt !== null) t = Math.min(t, m.reconcileAt);
  if (m.role === "secondary" && complaintsReady(m)) t = Math.min(t, takeoverAllowedAt(m));
  return Math.max(t, m.now);
}

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
      cancelStart(m, fx);
    }
  }
}

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
  if (!mayBeActive(m) || m.service === "stop_failed") return true;
  return m.role !== "primary" && m.releasePending === null && m.service !== "running" &&
    m.service !== "starting";
}

// The machine's public face, for the runtime, the simulator and the tests.
export type { ComplaintRecord, Defects, Machine, PeerView, TransitionRecord } from "./state.ts";
export { beats, isLive, mayBeActive, quorum } from "./state.ts";
export { primarySilenceMs, takeoverWaitMs } from "./takeover.ts";
export { probeResult } from "./service.ts";
