/**
 * The state of one resource on one node, and the small queries and effect
 * builders every part of the machine shares. Pure: no I/O, no clock. Queries
 * here never change the machine.
 */
import type {
  Claim,
  ClusterNode,
  Effect,
  GiveoverPlan,
  HookMethod,
  LogLevel,
  MemberSettings,
  MemberStatusValue,
  NodeId,
  PolicyState,
  ResourceSettings,
  Role,
  SchaRequest,
  ServiceState,
  Time,
} from "./types.ts";
import { holdMs, leaseMs, livenessMs } from "./timing.ts";

/**
 * Deliberate defects, one per safety mechanism, so tests can show that the
 * simulator's checker (or a unit test) catches a machine without it. The
 * daemon never sets them.
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
  /** A start still running when the lease is gone is left to finish. */
  noStartCancel?: boolean;
  /** A status probe that timed out reads as running (the original's hung-status bug). */
  timeoutIsRunning?: boolean;
  /** A peer that says its service is not stopped is not waited for: another node starts beside it. */
  stopFailedIgnored?: boolean;
  /** A state that cannot be read back is taken for no state (a new node): no quarantine. */
  damagedStateTrusted?: boolean;
  /** The granted hold is not written to the state file: a restarted granter forgets it. */
  grantHoldNotPersisted?: boolean;
  /** A granted ack is credited with the lease length of the current settings. */
  ackCreditedWithCurrentLease?: boolean;
  /** A granter believes the lease and stop bound a claimant announces, unbounded. */
  trustClaimedLease?: boolean;
}

/** What this node knows of a peer, from its last heartbeat or ack. */
export interface PeerView {
  lastHeard: Time | null;
  /** The transport reported the peer gone since it was last heard. */
  down: boolean;
  role: Role | null;
  epoch: number;
  state: ServiceState;
  /** Liveness as last noticed, so that connect and disconnect fire once per change. */
  linked: boolean;
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

/** One member of the resource as this node runs it. */
export interface MemberRun {
  settings: MemberSettings;
  state: ServiceState;
  /**
   * A start began and no stop has completed since: the member may still hold
   * what it took (an address, a mount) even when its status says stopped.
   */
  dirty: boolean;
  /** The status probe in flight; `stale` once a start or stop began after it. */
  probe: { id: number; since: Time; stale: boolean } | null;
  nextProbeAt: Time;
  /**
   * Its start returned successfully and it has not been confirmed yet: until
   * then a probe only confirms it; one that finds it not running is asked
   * again then (a start script may return a moment before its service
   * answers). Null otherwise.
   */
  confirmBy: Time | null;
  /** The last probe answered unknown (hung, killed, odd exit): act without knowing. */
  probeSaidUnknown: boolean;
  /** When a probe last answered (and counted). */
  probedAt: Time;
  /** Its start failed and the group stayed here (Solaris START_FAILED). */
  startFailed: boolean;
  /** Its monitor_start failed (Solaris MONITOR_FAILED). */
  monitorFailed: boolean;
  /** The monitor gave up on it (RESTART_ONLY or LOG_ONLY out of budget): no more probes. */
  unmonitored: boolean;
  /** Failed probes within retry_interval: when, and how much (stopped 100, unknown 50). */
  failures: { at: Time; weight: number }[];
  /** The monitor acted (restart, giveover, log) then: only later failures add up to the next. */
  actedAt: Time;
  /** LOG_ONLY: faults logged since the start; at retry_count the monitor quits. */
  faults: number;
  /** What a fault monitor said with scha_resource_setstatus, or the built-in monitor. */
  status: { value: MemberStatusValue; message: string };
}

/** One step of a group operation: one member's method. */
export interface GroupStep {
  member: number;
  method: "start" | "stop" | "monitor_start" | "monitor_stop";
}

/** A start or stop of members, one hook at a time. */
export interface GroupOp {
  kind: "start" | "stop";
  /** Why: a plain start or stop, the undoing of a failed start, or a restart's stop half. */
  purpose: "start" | "stop" | "rollback" | "restart" | "member_restart";
  steps: GroupStep[];
  /** The step whose hook runs now (-1 before the first). */
  index: number;
  since: Time;
  /** A stop must be over by then (since + stop_timeout), whatever the number of members. */
  deadline: Time;
  /** A member's stop failed: the group ends stop_failed. */
  failed: boolean;
  /** After this stop: start these members (a restart), unless the stop failed. */
  then: number[] | null;
  /** The request that waits for this operation, if any. */
  request: number | null;
}

/** A scha_control request being carried out. */
export interface PendingRequest {
  id: number;
  request: SchaRequest;
  /** Asked by the built-in monitor: nobody waits for the reply. */
  internal: boolean;
  phase: "checking" | "operating" | "handing_over";
  /** GIVEOVER: the nodes still to ask, in order, and the plan so far. */
  candidates: NodeId[];
  plan: GiveoverPlan;
  /** The check_request out (its id), to whom, and until when an answer counts. */
  check: { id: number; node: NodeId; deadline: Time } | null;
  /** Answered as failed if not settled by then. */
  deadline: Time;
  /** GIVEOVER handing over: the node that should end up running the group (null: any). */
  target: NodeId | null;
  /** A restart's start finished (every start and monitor_start exited 0): ONLINE again. */
  startedAt: Time | null;
}

/** A failover as the node that took over saw it: when each phase was reached. */
export interface FailoverRecord {
  kind: "takeover" | "handover";
  from: NodeId | null;
  detectedAt: Time;
  decidedAt: Time;
  /** A quorum granted a lease: the old primary's lease was out (or released). */
  oldStoppedAt: Time | null;
  startedAt: Time | null;
}

/** The guard as the machine last told it. */
export type GuardView =
  | { state: "disarmed" }
  | { state: "armed"; until: Time | null; epoch: number }
  | { state: "stopping" };

/** The whole state of one resource on one node. */
export interface Machine {
  settings: ResourceSettings;
  defects: Defects;
  now: Time;
  role: Role;
  /** Claimed epoch while primary; otherwise the epoch last followed. */
  epoch: number;
  maxEpoch: number;
  forced: boolean;
  members: MemberRun[];
  attempts: number;
  /** No start before this (a failed start waits a probe interval before the next). */
  nextStartAt: Time;
  nextHookId: number;
  /** The start, stop, fence or panic hook in flight (they never overlap). */
  busy: {
    id: number;
    method: HookMethod;
    member: string | null;
    since: Time;
    /** A fence: the primary it was run against, as known when it began. */
    target?: { node: NodeId; epoch: number };
  } | null;
  op: GroupOp | null;
  /** When reconcile wants to run again (a probe slot, a back-off's end), or null. */
  reconcileAt: Time | null;
  nextHeartbeatAt: Time;
  seq: number;
  /** Send times and asked lengths of recent lease requests, by sequence number. */
  sent: Map<number, { at: Time; leaseMs: number }>;
  /** Primary: the last grant of each peer, as the peer granted it. */
  grantsFrom: Map<NodeId, { sentAt: Time; leaseMs: number; stopMs: number }>;
  /** Primary: the lease end last computed; null when none is held. */
  leaseUntil: Time | null;
  /** Granter: the claimant this node honours, and until when (local clock). */
  grant: { holder: Claim; until: Time; holdMs: number } | null;
  peers: Map<NodeId, PeerView>;
  complaints: ComplaintRecord[];
  /** Last time any primary was heard from (or boot: one might have been active). */
  lastPrimaryHeard: Time;
  lastPrimary: NodeId | null;
  lastPrimaryEpoch: number;
  /** Watchdog: last time a primary was seen running. */
  lastRunningSeen: Time | null;
  /** Watchdog: a live, running primary was seen at the last event. */
  primaryUpSeen: boolean;
  /** The primary (and its epoch) a fence run by this node has put down, or null. */
  fenced: { node: NodeId; epoch: number } | null;
  /** Complaints processed before this time may be stale (after a freeze). */
  staleUntil: Time;
  /** The state file could not be trusted at start: grant nothing and start nothing until then. */
  quarantineUntil: Time;
  /** After stepping down with the service still up: where to hand over once stopped. */
  releasePending: {
    epoch: number;
    successor: NodeId | null;
    pingpong?: string;
    /**
     * Everything must be stopped by then (local clock): the lease's end (or the
     * step-down) plus stop_timeout, plus half a timeout for a start being killed.
     * Every stop begun before the release is bounded by it.
     */
    stopBy?: Time;
  } | null;
  shuttingDown: boolean;
  removing: boolean;
  quiesced: boolean;
  roleSince: Time;
  lastTransition: TransitionRecord | null;
  failover: FailoverRecord | null;
  guard: GuardView;
  /** Restart windows, pingpong marks, failed starts (wall-clock ms; persisted). */
  policy: PolicyState;
  /** Wall-clock ms minus monotonic ms, as the node saw them at start. */
  wallOffset: number;
  /** The group reached ONLINE since its last start: a member that fails is the monitor's. */
  online: boolean;
  /** A start failed and the member's failover_mode keeps the group here (ONLINE_FAULTED). */
  faulted: boolean;
  requests: Map<number, PendingRequest>;
  nextRequestId: number;
  /** check_requests of a giveover this node is answering, by their sender's id. */
  checking: {
    from: NodeId;
    id: number;
    /** The monitor_check runs still going: hook id to member name. */
    hooks: Map<number, string>;
    vetoes: string[];
    started: Time;
  } | null;
  /** Why the machine does not do what one might expect, for status. */
  note: string;
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

/** The shared configuration's entry for `node`, if it is a node of this resource. */
export function configured(m: Machine, node: NodeId): ClusterNode | undefined {
  return m.settings.nodes.find((n) => n.name === node);
}

/** `node` as a claimant with `epoch`, its priority from the configuration. */
export function claimOf(m: Machine, node: NodeId, epoch: number): Claim {
  return { node, epoch, priority: configured(m, node)?.priority ?? Number.MAX_SAFE_INTEGER };
}

/** Is the peer heard recently and not reported down? */
export function isLive(m: Machine, p: PeerView): boolean {
  return !p.down && p.lastHeard !== null && m.now - p.lastHeard <= livenessMs(m.settings);
}

/**
 * A live peer (other than `except`) that says its service is not stopped: it
 * may run there. A primary renewing its lease runs it; any other such peer is
 * one that stepped down and whose stop is still under way or failed
 * (ERROR_STOP_FAILED, scha-semantics.md §7.3): no other node may bring the
 * service online until that stop succeeds (a failed one is retried every
 * heartbeat), or the node is fenced or gone. A peer that is not heard is left
 * to the lease and hold rules (its guard, its self-fencing). `unknown` is what
 * a node says before its first probe and while a probe hangs, not after a stop.
 */
export function activePeer(
  m: Machine,
  except: NodeId | null = null,
): { node: NodeId; state: ServiceState } | null {
  if (m.defects.stopFailedIgnored) return null;
  for (const [node, p] of m.peers) {
    if (node === except || p.state === "stopped" || p.state === "unknown" || !isLive(m, p)) {
      continue;
    }
    // A watchdog runs no service, whatever it says.
    if (!configured(m, node)?.watchdog) return { node, state: p.state };
  }
  return null;
}

/** Is some member of this node's service possibly running (from start begin to stop completion)? */
export function mayBeActive(m: Machine): boolean {
  return m.op?.kind === "start" || m.busy?.method === "start" ||
    m.members.some((x) => x.dirty || x.state !== "stopped");
}

/**
 * The state of the resource as a whole, from its members: running only when
 * every member runs, stopped only when every member is stopped; a mix (one
 * running, one stopped) is unknown, never stopped.
 */
export function groupState(m: Machine): ServiceState {
  if (m.op) return m.op.kind === "start" ? "starting" : "stopping";
  const states = m.members.map((x) => x.state);
  if (states.includes("stop_failed")) return "stop_failed";
  if (states.every((s) => s === "running")) return "running";
  if (states.every((s) => s === "stopped")) return "stopped";
  if (states.every((s) => s === "running" || s === "starting")) return "starting";
  return "unknown";
}

/** This node as a claimant for the primary role. */
export function myClaim(m: Machine): Claim {
  return { node: m.settings.self, epoch: m.epoch, priority: m.settings.priority };
}

/** Does this primary hold a lease now (or run forced without one)? */
export function hasLease(m: Machine): boolean {
  if (m.defects.noSelfFencing && m.leaseUntil !== null) return true;
  return m.forced || (m.leaseUntil !== null && m.leaseUntil > m.now);
}

/** Is some peer that says it is primary (and may be one) heard now? */
export function primaryConnected(m: Machine): boolean {
  for (const [node, p] of m.peers) {
    if (p.role === "primary" && isLive(m, p) && !configured(m, node)?.watchdog) return true;
  }
  return false;
}

/** Is the state file's distrust still in force? */
export function quarantined(m: Machine): boolean {
  return m.now < m.quarantineUntil;
}

/** Complaints within complaint_interval (without pruning: a query changes nothing). */
export function recentComplaints(m: Machine): ComplaintRecord[] {
  const from = m.now - m.settings.complaintIntervalMs;
  return m.complaints.filter((c) => c.at >= from);
}

/** The effect that runs `method` (of `member`, for member methods), with its timeout. */
export function hookEffect(
  m: Machine,
  method: HookMethod,
  args: string[],
  opts: { id?: number; member?: MemberRun | null; timeoutMs?: number } = {},
): Effect {
  const member = opts.member ?? null;
  const timeoutMs = opts.timeoutMs ??
    (method === "start" && member
      ? member.settings.startTimeoutMs
      : method === "status" && member
      ? member.settings.statusTimeoutMs
      : method === "stop"
      ? m.settings.stopTimeoutMs
      : m.settings.methodTimeoutMs[method] ?? m.settings.hookTimeoutMs);
  return {
    type: "hook",
    id: opts.id ?? m.nextHookId++,
    method,
    member: member?.settings.name ?? null,
    args,
    role: m.role,
    epoch: m.epoch,
    timeoutMs,
  };
}

/** The effect that persists role, epochs and the grant holder. */
export function persist(m: Machine, fx: Effect[]) {
  fx.push({
    type: "persist",
    state: {
      role: m.role,
      epoch: m.epoch,
      maxEpoch: m.maxEpoch,
      grantHolder: m.grant?.holder ?? null,
      grantHoldMs: m.defects.grantHoldNotPersisted ? null : m.grant?.holdMs ?? null,
      policy: copyPolicy(m.policy),
      // A state written during a quarantine must not end it at a restart: it carries it.
      ...(quarantined(m) ? { quarantineMs: m.quarantineUntil - m.now } : {}),
    },
  });
}

/** A copy of the policy record (the effect must not change when the machine does). */
function copyPolicy(p: PolicyState): PolicyState {
  const restarts: Record<string, number[]> = Object.create(null);
  for (const [k, v] of Object.entries(p.restarts)) restarts[k] = [...v];
  return {
    restarts,
    groupRestarts: [...p.groupRestarts],
    pingpong: p.pingpong.map((x) => ({ ...x })),
    failedStarts: [...p.failedStarts],
  };
}

/** Wall-clock ms of this node now (for windows that must survive a restart). */
export function wallNow(m: Machine): number {
  return m.now + m.wallOffset;
}

/** A log line as an effect. */
export function log(fx: Effect[], level: LogLevel, message: string) {
  fx.push({ type: "log", level, message });
}

/** The longest hold this node may owe any claimant of this resource (quarantine length). */
export function longestHold(m: Machine): number {
  let h = hold(m);
  for (const n of m.settings.nodes) {
    h = Math.max(
      h,
      holdMs(n.leaseMs, n.stopTimeoutMs, m.settings.clockSkew, m.settings.timeoutMs),
    );
  }
  return h;
}

/** How long this node honours a grant with its own settings. */
export function hold(m: Machine): number {
  return holdMs(
    leaseMs(m.settings),
    m.settings.stopTimeoutMs,
    m.settings.clockSkew,
    m.settings.timeoutMs,
  );
}
