/**
 * The vocabulary of the failover core: roles, settings, events, effects and
 * the messages nodes exchange. Pure data; no I/O anywhere in src/core/.
 *
 * Time is a number of milliseconds on the local node's monotonic clock. Clocks
 * of different nodes are never compared: durations cross the wire, timestamps
 * do not.
 */
/** A node's name, as in `[on.NAME]` and `[resource.R.on.NAME]`. */
export type NodeId = string;

/** Milliseconds on this node's monotonic clock. */
export type Time = number;

/** The role of one resource on one node. */
export type Role = "init" | "primary" | "secondary" | "watchdog";
export const ROLES: readonly Role[] = ["init", "primary", "secondary", "watchdog"];

/**
 * The highest epoch a node accepts or takes. Far beyond any real count of
 * promotions, and low enough that every epoch is an exact integer in JSON and
 * in a double: a peer announcing more is refused, never followed.
 */
export const MAX_EPOCH = 2 ** 52;

/**
 * The local state of a member's service (and, derived, of a whole resource)
 * on this node. `unknown` is what a probe that failed, hung or was killed
 * yields: never `running`.
 */
export type ServiceState =
  | "unknown"
  | "starting"
  | "running"
  | "stopping"
  | "stopped"
  | "stop_failed";

/** Hook methods the core can ask the runtime to run. */
export const HOOK_METHODS = [
  "start",
  "stop",
  "status",
  "role",
  "connect",
  "disconnect",
  "complain",
  "fence",
  "panic",
] as const;
export type HookMethod = typeof HOOK_METHODS[number];

/** Methods whose outcome the core waits for. The others are notifications. */
export const TRACKED_METHODS: readonly HookMethod[] = ["start", "stop", "status", "fence", "panic"];

/** Methods that run a member's own command; the others run for the resource as a whole. */
export const MEMBER_HOOKS: readonly HookMethod[] = ["start", "stop", "status"];

/**
 * One node of a resource's cluster as the shared configuration describes it.
 * What a peer may claim about itself is bounded by this entry for its name.
 */
export interface ClusterNode {
  name: NodeId;
  /** Lower wins between two claimants of the same epoch. */
  priority: number;
  /** Configured as a watchdog of this resource: may complain, never holds a lease. */
  watchdog: boolean;
  /** The longest lease this node may ask for (complaint_count × heartbeat_interval there). */
  leaseMs: number;
  /** The longest stop this node may announce (its stop_timeout). */
  stopTimeoutMs: number;
}

/** One member of a resource (a Solaris "resource" in a resource group), in start order. */
export interface MemberSettings {
  name: string;
  /** How often `status` runs while the member should be online. */
  probeIntervalMs: number;
  startTimeoutMs: number;
  statusTimeoutMs: number;
}

/**
 * The effective settings of one resource as seen by one node, after
 * inheritance. Produced by src/config, consumed by the core. All durations in ms.
 */
export interface ResourceSettings {
  name: string;
  /** This node. */
  self: NodeId;
  /** Every node configured for this resource (including self), in configuration order. */
  nodes: ClusterNode[];
  /** Nodes this node exchanges messages with for this resource (usually all others). */
  peers: NodeId[];
  priority: number;
  roleOnStart: Role;
  heartbeatIntervalMs: number;
  complaintCount: number;
  complaintIntervalMs: number;
  timeoutMs: number;
  attempts: number;
  stopTimeoutMs: number;
  clockSkew: number;
  /** Timeout of hooks that have no timeout of their own (role, complain, fence, panic, …). */
  hookTimeoutMs: number;
  /** Per method timeouts of the resource-wide hooks; methods not listed use hookTimeoutMs. */
  methodTimeoutMs: Partial<Record<HookMethod, number>>;
  /** Ordered members; a resource with only `exec` has one, named as the resource. */
  members: MemberSettings[];
  hasPanic: boolean;
  hasFence: boolean;
}

/** Why a hook ended. Only `exit` carries a meaningful code. */
export type HookOutcome =
  | { kind: "exit"; code: number }
  | { kind: "timeout" }
  | { kind: "killed"; signal: string }
  | { kind: "error"; message: string };

/** An outcome in a few words, for logs: "exit 3", "timed out", "killed by SIGKILL". */
export function describeOutcome(o: HookOutcome): string {
  switch (o.kind) {
    case "exit":
      return `exit ${o.code}`;
    case "timeout":
      return "timed out";
    case "killed":
      return `killed by ${o.signal}`;
    case "error":
      return o.message;
  }
}

/** A claimant for the primary role, ordered by epoch, then priority, then name. */
export interface Claim {
  node: NodeId;
  epoch: number;
  /** Always from the shared configuration, never from the claimant's word. */
  priority: number;
}

/** A claimant as it crosses the wire: its priority is looked up, not told. */
export interface ClaimRef {
  node: NodeId;
  epoch: number;
}

/** Messages between nodes, per resource. Every message carries the sender's epoch. */
export type Message =
  | {
    /** Sent by every node every interval. From a primary it also asks for a lease. */
    type: "heartbeat";
    resource: string;
    epoch: number;
    role: Role;
    state: ServiceState;
    seq: number;
    /** A primary's requested lease and its stop bound (granters cap both by the configuration). */
    leaseMs: number;
    stopTimeoutMs: number;
  }
  | {
    /** Reply to a heartbeat. `granted` only answers a primary's lease request. */
    type: "ack";
    resource: string;
    epoch: number;
    role: Role;
    state: ServiceState;
    seq: number;
    granted: boolean;
    /** With a grant: the lease and stop bound the granter honours (at most what was asked). */
    leaseMs?: number;
    stopTimeoutMs?: number;
    /** When refused: the claimant this node holds a live lease for, or is itself. */
    holder?: ClaimRef;
    reason?: string;
  }
  | {
    /** A watchdog's complaint that no primary is seen running. */
    type: "complaint";
    resource: string;
    epoch: number;
    reason: string;
    /** The primary the watchdog last saw, if any. */
    primary: NodeId | null;
    /** How long the watchdog has not seen a primary running (a duration, not a timestamp). */
    silenceMs: number;
  }
  | {
    /** A primary that stepped down and whose service has stopped releases its lease. */
    type: "release";
    resource: string;
    epoch: number;
    /** Handover: the node invited to take over at once (graceful shutdown, switchover). */
    successor: NodeId | null;
  }
  | {
    /** The sender fenced `node` (its `fence` command succeeded): its lease is void. */
    type: "fenced";
    resource: string;
    epoch: number;
    node: NodeId;
    /** The fenced node's epoch as the sender last knew it. */
    nodeEpoch: number;
  };

/** Commands from the operator (control socket). */
export interface RoleCommand {
  role: Role;
  /** Start without a lease: the operator takes the risk. */
  force?: boolean;
  /** Switchover: the secondary a stepping-down primary hands over to (default: the best). */
  to?: NodeId;
}

/** Inputs to the machine. Every event carries the local monotonic time. */
export type Event =
  | { type: "tick"; now: Time }
  | { type: "command"; now: Time; command: RoleCommand }
  | { type: "message"; now: Time; from: NodeId; msg: Message }
  | { type: "peer_down"; now: Time; peer: NodeId }
  | { type: "hook_done"; now: Time; id: number; method: HookMethod; outcome: HookOutcome }
  /** New settings from a reload (SIGHUP); nothing else changes a machine's settings. */
  | { type: "reconfigure"; now: Time; settings: ResourceSettings }
  /** The resource left the configuration: stop it and let it go. */
  | { type: "remove"; now: Time }
  | { type: "shutdown"; now: Time };

export type LogLevel = "error" | "warning" | "info" | "debug";

/** Run a hook. */
export interface HookEffect {
  type: "hook";
  id: number;
  method: HookMethod;
  /** The member whose command runs (start, stop, status); null for resource-wide hooks. */
  member: string | null;
  /** Extra arguments, e.g. old and new role for `role`. */
  args: string[];
  role: Role;
  epoch: number;
  timeoutMs: number;
}

/**
 * What the guard process must know (see src/daemon/guard.ts). Driven by the
 * machine, so that the runtime never reads machine fields to decide it.
 */
export type GuardCommand =
  /** The service may be active here until `until` (local clock); null: forced, no deadline. */
  | { action: "arm"; until: Time | null; epoch: number }
  /** The machine is stopping it itself; the stop must be over within `timeoutMs`. */
  | { action: "stopping"; timeoutMs: number }
  /** The machine runs `panic` itself: the guard must not run it a second time. */
  | { action: "panicking" }
  /** Nothing of this resource is active here any more. */
  | { action: "disarm" };

/** Outputs of the machine, run by the runtime in the order given. */
export type Effect =
  | { type: "send"; to: NodeId; msg: Message }
  | HookEffect
  /** Kill the hook `id` (its whole process group) now; its hook_done follows as usual. */
  | { type: "cancel"; id: number }
  /** Persist role and epochs. Always comes before anything that announces or starts them. */
  | { type: "persist"; state: PersistedState }
  | { type: "log"; level: LogLevel; message: string }
  | { type: "transition"; from: Role; to: Role; epoch: number; cause: Cause; reason: string }
  | { type: "guard"; command: GuardCommand }
  /** Nothing of this resource is active any more and it may go (after shutdown or removal). */
  | { type: "quiesced" };

/** What survives a restart of the daemon. */
export interface PersistedState {
  role: Role;
  /** The epoch this node claims (as primary) or last followed. */
  epoch: number;
  /** The highest epoch ever seen; a promotion takes the next one. */
  maxEpoch: number;
  /** The claimant this node last granted a lease to: honoured again after a restart. */
  grantHolder: Claim | null;
  /** How long that grant is honoured after the claimant was last heard (its granted numbers). */
  grantHoldMs: number | null;
}

/**
 * Why a role changed, as data: the transition table (roles.ts) is keyed by
 * `kind`, checks and tests read the fields, and `describeCause` renders the
 * one sentence for logs and status.
 */
export type Cause =
  | { kind: "role_on_start" }
  | { kind: "restored" }
  | { kind: "operator"; force: boolean }
  /** A primary told to step down hands over to `successor` (null: nobody connected). */
  | { kind: "switchover"; successor: NodeId | null }
  | {
    kind: "takeover";
    complaints: number;
    watchdogs: NodeId[];
    primary: NodeId | null;
    silenceMs: number;
    waitMs: number;
    fenced: boolean;
  }
  /** The old primary released its lease naming this node its successor. */
  | { kind: "handover"; from: NodeId }
  | { kind: "self_fence"; leaseMs: number }
  /** A peer reports that it fenced this node. */
  | { kind: "fenced_by"; node: NodeId }
  | { kind: "yield"; to: NodeId; epoch: number; reportedBy: NodeId | null }
  | { kind: "give_up"; attempts: number }
  | { kind: "shutdown"; successor: NodeId }
  | { kind: "removed" };
