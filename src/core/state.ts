/**
 * The state of one resource on one node, and the small queries and effect
 * builders every part of the machine shares. Pure: no I/O, no clock.
 */
import type {
  Claim,
  Effect,
  HookMethod,
  LogLevel,
  NodeId,
  ResourceSettings,
  Role,
  ServiceState,
  Time,
} from "./types.ts";
import { holdMs, leaseMs, livenessMs } from "./timing.ts";

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
  /** A start still running when the lease is gone is left to finish. */
  noStartCancel?: boolean;
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
  grant: { holder: Claim; until: Time; holdMs: number } | null;
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
  /**
   * A start began and no stop has completed since: the service may still hold
   * what it took (an address, a mount) even when its status says stopped.
   */
  dirty: boolean;
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
  return m.dirty || m.service !== "stopped" || m.busy?.method === "start";
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

/** Is some peer that says it is primary heard now? */
export function primaryConnected(m: Machine): boolean {
  for (const p of m.peers.values()) if (p.role === "primary" && isLive(m, p)) return true;
  return false;
}

/** The effect that runs `method`, with its timeout (stop_timeout for stop). */
export function hookEffect(
  m: Machine,
  method: HookMethod,
  args: string[],
  id = m.nextHookId++,
): Effect {
  const timeoutMs = method === "stop"
    ? m.settings.stopTimeoutMs
    : m.settings.methodTimeoutMs[method] ?? m.settings.hookTimeoutMs;
  return { type: "hook", id, method, args, role: m.role, epoch: m.epoch, timeoutMs };
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
      grantHoldMs: m.grant?.holdMs ?? null,
    },
  });
}

/** A log line as an effect. */
export function log(fx: Effect[], level: LogLevel, message: string) {
  fx.push({ type: "log", level, message });
}

/** How long this node honours a grant with its own settings (the takeover wait). */
export function hold(m: Machine): number {
  return holdMs(
    leaseMs(m.settings),
    m.settings.stopTimeoutMs,
    m.settings.clockSkew,
    m.settings.timeoutMs,
  );
}
