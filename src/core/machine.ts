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
 *   skew, plus one timeout (`holdMs`); both numbers are capped by the shared
 *   configuration's entry for the claimant, and the claimant credits no more;
 * - a secondary takes over only after more than complaint_count complaints
 *   from configured watchdogs, received while no primary is heard, and after
 *   the primary has been silent for that same hold time (or a fence succeeded).
 *
 * `step` runs the checks every event shares (a freeze, the clock), then the
 * event's handler, then `afterEvent`: heartbeats, the lease, the takeover,
 * the service, connect/disconnect, the guard. The state is mutated in place
 * by `step`, which returns the effects to run in order. Nothing here reads a
 * clock or touches I/O: time comes with events.
 */
import type {
  Effect,
  Event,
  HookMethod,
  HookOutcome,
  MemberSettings,
  Message,
  NodeId,
  PersistedState,
  ResourceSettings,
  RoleCommand,
  Time,
} from "./types.ts";
import { MAX_EPOCH } from "./types.ts";
import { fmt, livenessMs } from "./timing.ts";
import {
  claimOf,
  configured,
  type Defects,
  groupState,
  hold,
  hookEffect,
  isLive,
  log,
  longestHold,
  type Machine,
  mayBeActive,
  type MemberRun,
  type PeerView,
} from "./state.ts";
import { changeRole, stoppedAfterStepDown } from "./roles.ts";
import {
  checkLease,
  onAck,
  onFenced,
  onHeartbeat,
  onRelease,
  sendHeartbeats,
  updateLease,
} from "./lease.ts";
import {
  checkTakeover,
  complaintsReady,
  onComplaint,
  pruneComplaints,
  takeoverAllowedAt,
  watch,
} from "./takeover.ts";
import { onControlHookDone, onProbeDone, reconcile, syncGuard } from "./group.ts";
import { onMemberFailure } from "./monitor.ts";
import {
  onCheckRequest,
  onCheckResult,
  onMonitorCheckDone,
  onRequest,
  progressRequests,
  requestWake,
  SCHA_ERR,
} from "./scha.ts";
import { emptyPolicy, prunePolicy } from "./policy.ts";

/**
 * What a node found in its state directory for a resource: nothing, a state
 * it can trust, or a file it cannot (then it grants and starts nothing for
 * the longest hold it might owe, instead of starting from defaults).
 */
export type Restored = PersistedState | null | "invalid";

/** Create the machine at daemon start, from persisted state if there is any. */
export function createMachine(
  settings: ResourceSettings,
  now: Time,
  persisted: Restored,
  defects: Defects = {},
  wallOffset = 0,
): { machine: Machine; effects: Effect[] } {
  const state = persisted === "invalid" ? null : persisted;
  const m: Machine = {
    settings,
    defects,
    now,
    role: "init",
    epoch: Math.min(state?.epoch ?? 0, MAX_EPOCH),
    maxEpoch: Math.min(Math.max(state?.maxEpoch ?? 0, state?.epoch ?? 0), MAX_EPOCH),
    forced: false,
    members: settings.members.map((s) => newMember(s, now)),
    attempts: 0,
    nextStartAt: now,
    nextHookId: 1,
    busy: null,
    op: null,
    reconcileAt: null,
    nextHeartbeatAt: now,
    seq: 0,
    sent: new Map(),
    grantsFrom: new Map(),
    leaseUntil: null,
    grant: null,
    peers: new Map(),
    complaints: [],
    lastPrimaryHeard: now,
    lastPrimary: null,
    lastPrimaryEpoch: 0,
    lastRunningSeen: null,
    primaryUpSeen: false,
    fenced: null,
    staleUntil: now,
    quarantineUntil: now,
    releasePending: null,
    shuttingDown: false,
    removing: false,
    quiesced: false,
    roleSince: now,
    lastTransition: null,
    failover: null,
    guard: { state: "disarmed" },
    policy: state?.policy ?? emptyPolicy(),
    wallOffset,
    online: false,
    faulted: false,
    requests: new Map(),
    nextRequestId: 1,
    checking: null,
    note: "",
  };
  updatePeers(m, settings);
  const fx: Effect[] = [];
  if (persisted === "invalid" && !defects.damagedStateTrusted) {
    m.quarantineUntil = now + longestHold(m);
    log(
      fx,
      "warning",
      `state file unusable: granting and starting nothing for ${fmt(longestHold(m))}`,
    );
  }
  if (state?.quarantineMs) {
    m.quarantineUntil = now + state.quarantineMs;
    log(
      fx,
      "warning",
      `state written during a quarantine: granting and starting nothing for ${
        fmt(state.quarantineMs)
      }`,
    );
  }
  if (state?.grantHolder) {
    // We may have granted a lease just before a crash: keep honouring it,
    // as long as the claimant's granted numbers asked for if they were longer than ours.
    const h = Math.max(hold(m), state.grantHoldMs ?? 0);
    const holder = claimOf(m, state.grantHolder.node, state.grantHolder.epoch);
    m.grant = { holder, until: now + h, holdMs: h };
  }
  const target = state ? state.role : settings.roleOnStart;
  if (target !== "init") {
    changeRole(m, fx, target, state ? { kind: "restored" } : { kind: "role_on_start" });
  }
  afterEvent(m, fx);
  return { machine: m, effects: fx };
}

function newMember(settings: MemberSettings, now: Time): MemberRun {
  return {
    settings,
    state: "unknown",
    dirty: false,
    probe: null,
    nextProbeAt: now,
    confirmBy: null,
    probeSaidUnknown: false,
    probedAt: -Infinity,
    startFailed: false,
    monitorFailed: false,
    unmonitored: false,
    failures: [],
    actedAt: -Infinity,
    faults: 0,
    status: { value: "UNKNOWN", message: "" },
  };
}

/** Peers that appear start unheard; peers that went away are forgotten. */
function updatePeers(m: Machine, s: ResourceSettings) {
  for (const p of s.peers) {
    if (m.peers.has(p)) continue;
    m.peers.set(p, {
      lastHeard: null,
      down: false,
      role: null,
      epoch: 0,
      state: "unknown",
      linked: false,
    });
  }
  for (const p of [...m.peers.keys()]) if (!s.peers.includes(p)) m.peers.delete(p);
}

/** A reload: new settings, keeping what the machine knows (members by name). */
function onReconfigure(m: Machine, fx: Effect[], s: ResourceSettings) {
  const old = new Map(m.members.map((x) => [x.settings.name, x]));
  for (const x of m.members) {
    if (!s.members.some((y) => y.name === x.settings.name) && (x.dirty || x.state !== "stopped")) {
      log(fx, "warning", `member ${x.settings.name} left the configuration while it may run`);
    }
  }
  m.settings = s;
  m.members = s.members.map((y) => {
    const x = old.get(y.name);
    if (!x) return newMember(y, m.now);
    x.settings = y;
    return x;
  });
  updatePeers(m, s);
  // The stop bound may have changed: it shortens what the grants held are worth.
  if (m.role === "primary" && !m.forced) {
    m.leaseUntil = null;
    updateLease(m, fx);
  }
  log(fx, "info", "settings reloaded");
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
  // The clock first: a lease that ran out is out before the event is handled (a hook
  // that ended while the daemon was frozen must not start the next member).
  if (m.role === "primary") checkLease(m, fx);
  switch (ev.type) {
    case "tick":
      break;
    case "command":
      onCommand(m, fx, ev.command);
      break;
    case "message":
      onMessage(m, fx, ev.from, ev.msg);
      break;
    case "peer_down":
      onPeerDown(m, ev.peer);
      break;
    case "hook_done":
      onHookDone(m, fx, ev.id, ev.method, ev.outcome);
      break;
    case "request":
      onRequest(m, fx, ev.id, ev.request);
      break;
    case "setstatus":
      onSetStatus(m, fx, ev);
      break;
    case "reconfigure":
      onReconfigure(m, fx, ev.settings);
      break;
    case "remove":
      onRemove(m, fx);
      break;
    case "shutdown":
      onShutdown(m, fx);
      break;
  }
  afterEvent(m, fx);
  return fx;
}

/** The next instant at which the machine wants a tick. A query: it changes nothing. */
export function wakeAt(m: Machine): Time {
  let t = m.nextHeartbeatAt;
  if (m.role === "primary" && m.leaseUntil !== null && m.leaseUntil > m.now) {
    t = Math.min(t, m.leaseUntil);
  }
  if (m.role === "primary" && m.grant && m.grant.until > m.now) t = Math.min(t, m.grant.until);
  if (m.reconcileAt !== null) t = Math.min(t, m.reconcileAt);
  const r = requestWake(m);
  if (r !== null) t = Math.min(t, r);
  if (m.quarantineUntil > m.now) t = Math.min(t, m.quarantineUntil);
  if (m.role === "secondary" && complaintsReady(m)) t = Math.min(t, takeoverAllowedAt(m));
  // A watchdog looks again the moment the running primary would stop counting as live.
  const p = m.role === "watchdog" ? runningPrimary(m) : undefined;
  if (p) t = Math.min(t, p.lastHeard! + livenessMs(m.settings) + 1);
  return Math.max(t, m.now);
}

/** A connected secondary that a stepping-down primary may hand over to. */
export function liveSecondary(m: Machine, node: NodeId): boolean {
  const p = m.peers.get(node);
  return !!p && p.role === "secondary" && isLive(m, p) && !configured(m, node)?.watchdog;
}

/** The live secondary a departing primary hands over to: best priority, then name. */
export function bestSecondary(m: Machine): NodeId | null {
  let best: { node: NodeId; priority: number } | null = null;
  for (const node of m.peers.keys()) {
    if (!liveSecondary(m, node)) continue;
    const priority = configured(m, node)!.priority;
    if (!best || priority < best.priority || (priority === best.priority && node < best.node)) {
      best = { node, priority };
    }
  }
  return best?.node ?? null;
}

/**
 * What `role secondary` on this node would do: the node it hands over to,
 * or why it cannot (for the control handler, `--check` and the console).
 */
export function switchoverPlan(
  m: Machine,
  to?: NodeId,
): { successor: NodeId | null; blocked: string | null } {
  if (m.role !== "primary") return { successor: null, blocked: `this node is ${m.role}` };
  if (m.shuttingDown) return { successor: null, blocked: "shutting down" };
  if (to !== undefined) {
    if (!configured(m, to)) {
      return { successor: null, blocked: `${to} is not a node of this resource` };
    }
    if (!liveSecondary(m, to)) {
      return { successor: null, blocked: `${to} is not a connected secondary` };
    }
    return { successor: to, blocked: null };
  }
  const best = bestSecondary(m);
  return best
    ? { successor: best, blocked: null }
    : { successor: null, blocked: "no secondary is connected: the service would stop" };
}

function onCommand(m: Machine, fx: Effect[], cmd: RoleCommand) {
  if (m.shuttingDown || m.removing) {
    log(fx, "warning", `role ${cmd.role} ignored: ${m.shuttingDown ? "shutting down" : "removed"}`);
    return;
  }
  if (cmd.role === m.role && !(cmd.force && !m.forced && cmd.role === "primary")) {
    log(fx, "info", `role is already ${cmd.role}`);
    return;
  }
  if (m.role === "primary" && cmd.role === "secondary") {
    // A planned switchover: hand over to the best connected secondary (or the one named).
    if (cmd.to !== undefined && !liveSecondary(m, cmd.to)) {
      log(fx, "warning", `switchover refused: ${cmd.to} is not a connected secondary`);
      return;
    }
    const successor = cmd.to ?? bestSecondary(m);
    changeRole(m, fx, "secondary", { kind: "switchover", successor }, successor);
    return;
  }
  if (cmd.force && cmd.role === "primary") {
    log(fx, "warning", "forced to primary without a lease: the operator takes the risk");
  }
  changeRole(m, fx, cmd.role, { kind: "operator", force: !!cmd.force && cmd.role === "primary" });
}

function onMessage(m: Machine, fx: Effect[], from: NodeId, msg: Message) {
  const peer = m.peers.get(from);
  if (!peer) {
    log(fx, "debug", `message from ${from}, not a node of this resource: ignored`);
    return;
  }
  if (msg.epoch > MAX_EPOCH) {
    log(fx, "warning", `message from ${from} with epoch ${msg.epoch} above the maximum: ignored`);
    return;
  }
  if (msg.epoch > m.maxEpoch) m.maxEpoch = msg.epoch;
  switch (msg.type) {
    case "heartbeat":
      heard(m, peer, from, msg.role, msg.epoch, msg.state);
      onHeartbeat(m, fx, from, msg);
      break;
    case "ack":
      heard(m, peer, from, msg.role, msg.epoch, msg.state);
      onAck(m, fx, from, msg);
      break;
    case "complaint":
      onComplaint(m, fx, from, msg);
      break;
    case "release":
      onRelease(m, fx, from, msg);
      break;
    case "fenced":
      onFenced(m, fx, from, msg);
      break;
    case "check_request":
      onCheckRequest(m, fx, from, msg);
      break;
    case "check_result":
      onCheckResult(m, fx, from, msg);
      break;
  }
}

/**
 * A hook ended: a probe, a monitor_check of a giveover's candidate, or the
 * control hook in flight (start, stop, monitor_*, fence, panic). Anything
 * else is a notification, or from before a restart: nothing waits for it.
 */
function onHookDone(
  m: Machine,
  fx: Effect[],
  id: number,
  method: HookMethod,
  outcome: HookOutcome,
) {
  const probed = m.members.find((x) => x.probe?.id === id);
  if (probed) return onProbeDone(m, fx, probed, outcome, onMemberFailure);
  if (method === "monitor_check") {
    onMonitorCheckDone(m, fx, id, outcome);
    return;
  }
  onControlHookDone(m, fx, id, method, outcome);
}

/** scha_resource_setstatus: what a fault monitor says of a member, shown as it is. */
function onSetStatus(m: Machine, fx: Effect[], ev: Event & { type: "setstatus" }) {
  const x = m.members.find((y) => y.settings.name === ev.member);
  if (!x) {
    fx.push({
      type: "reply",
      id: ev.id,
      code: SCHA_ERR.RSRC,
      message: `${ev.member} is not a member of ${m.settings.name}`,
    });
    return;
  }
  x.status = { value: ev.status, message: ev.message };
  log(
    fx,
    "info",
    `member ${ev.member}: status ${ev.status}${ev.message ? ` (${ev.message})` : ""}`,
  );
  fx.push({ type: "reply", id: ev.id, code: 0, message: `status of ${ev.member}: ${ev.status}` });
}

/** Note what a peer says of itself; a configured watchdog is never taken for a primary. */
function heard(
  m: Machine,
  peer: PeerView,
  from: NodeId,
  said: PeerView["role"],
  epoch: number,
  state: PeerView["state"],
) {
  const role = said === "primary" && configured(m, from)?.watchdog ? "watchdog" : said;
  peer.lastHeard = m.now;
  peer.down = false;
  peer.role = role;
  peer.epoch = epoch;
  peer.state = state;
  if (role === "primary") {
    m.lastPrimaryHeard = m.now;
    m.lastPrimary = from;
    m.lastPrimaryEpoch = epoch;
    if (state === "running") m.lastRunningSeen = m.now;
    // Connected again: old complaints are void.
    if (m.complaints.length > 0 && !m.defects.countComplaintsWhileConnected) m.complaints = [];
    m.fenced = null;
  }
}

function onPeerDown(m: Machine, node: NodeId) {
  const p = m.peers.get(node);
  if (p) p.down = true;
}

/** A live primary whose service runs, as a watchdog sees it. */
function runningPrimary(m: Machine): PeerView | undefined {
  for (const p of m.peers.values()) {
    if (p.role === "primary" && p.state === "running" && isLive(m, p)) return p;
  }
  return undefined;
}

/**
 * A watchdog that stops seeing a running primary (gone, frozen, stopped)
 * complains at once rather than at its next beat: detection is the first
 * phase of every failover.
 */
function noticeLostPrimary(m: Machine) {
  const up = runningPrimary(m) !== undefined;
  if (m.primaryUpSeen && !up) m.nextHeartbeatAt = m.now;
  m.primaryUpSeen = up;
}

function onRemove(m: Machine, fx: Effect[]) {
  if (m.removing) return;
  m.removing = true;
  if (m.role !== "init") changeRole(m, fx, "init", { kind: "removed" });
}

function onShutdown(m: Machine, fx: Effect[]) {
  if (m.shuttingDown) return;
  m.shuttingDown = true;
  log(fx, "info", "shutting down");
  if (m.role !== "primary") return;
  const successor = bestSecondary(m);
  if (successor) {
    changeRole(m, fx, "secondary", { kind: "shutdown", successor }, successor);
    return;
  }
  // Keep the role for the next start; stop what runs here, then release.
  m.releasePending = { epoch: m.epoch, successor: null };
  m.leaseUntil = null;
  m.grantsFrom.clear();
  if (m.busy?.method === "start" && !m.defects.noStartCancel) {
    fx.push({ type: "cancel", id: m.busy.id });
  }
}

/** connect/disconnect hooks on the primary, once per change of a secondary's link. */
function notifyLinks(m: Machine, fx: Effect[]) {
  for (const [node, p] of m.peers) {
    const live = isLive(m, p);
    if (live === p.linked) continue;
    p.linked = live;
    if (m.role === "primary" && p.role === "secondary") {
      fx.push(hookEffect(m, live ? "connect" : "disconnect", [node]));
    }
  }
}

function afterEvent(m: Machine, fx: Effect[]) {
  pruneComplaints(m);
  if (m.role === "watchdog") noticeLostPrimary(m);
  if (m.role === "primary") checkLease(m, fx);
  if (m.role === "secondary") checkTakeover(m, fx);
  // After the role checks: a new primary asks for its lease in this very step.
  if (m.now >= m.nextHeartbeatAt) {
    sendHeartbeats(m, fx);
    if (m.role === "watchdog") watch(m, fx);
  }
  reconcile(m, fx);
  progressRequests(m, fx);
  prunePolicy(m);
  notifyLinks(m, fx);
  syncGuard(m, fx);
  if ((m.shuttingDown || m.removing) && !m.quiesced && !m.busy && !m.op && quiet(m)) {
    m.quiesced = true;
    stoppedAfterStepDown(m, fx);
    fx.push({ type: "quiesced" });
  }
}

/** Nothing left to stop: stopped, hopelessly failed, or never ours to stop. */
function quiet(m: Machine): boolean {
  const g = groupState(m);
  if (!mayBeActive(m) || g === "stop_failed") return true;
  return m.role !== "primary" && m.releasePending === null && g !== "running" && g !== "starting";
}

// The machine's public face, for the runtime, the simulator and the tests.
export type {
  ComplaintRecord,
  Defects,
  FailoverRecord,
  Machine,
  MemberRun,
  PeerView,
  TransitionRecord,
} from "./state.ts";
export { beats, groupState, isLive, mayBeActive, quorum } from "./state.ts";
export { primarySilenceMs, takeoverWaitMs } from "./takeover.ts";
export { probeResult } from "./group.ts";
