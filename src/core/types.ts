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
 * The local state of the service (the resource's processes) on this node.
 * `unknown` is what a probe that failed, hung or was killed yields: never `running`.
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

/** One node of a resource's cluster, as configured. */
export interface ClusterNode {
  name: NodeId;
  priority: number;
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
  /** Per method timeout; methods not listed use hookTimeoutMs. */
  hookTimeoutMs: number;
  methodTimeoutMs: Partial<Record<HookMethod, number>>;
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
  priority: number;
}

/** Messages between nodes, per resource. Every message carries the sender's epoch. */
export type Message =
  | {
    /** Sent by every node every interval. From a primary it also asks for a lease. */
    type: "heartbeat";
    resource: string;
    epoch: number;
    role: Role;
    priority: number;
    state: ServiceState;
    seq: number;
    /** A primary's lease length and stop bound, so granters need not trust their own config. */
    leaseMs: number;
    stopTimeoutMs: number;
  }
  | {
    /** Reply to a heartbeat. `granted` only answers a primary's lease request. */
    type: "ack";
    resource: string;
    epoch: number;
    role: Role;
    priority: number;
    state: ServiceState;
    seq: number;
    granted: boolean;
    /** When refused: the claimant this node holds a live lease for, or is itself. */
    holder?: Claim;
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
    /** Handover: the node invited to take over at once (graceful shutdown, giveover). */
    successor: NodeId | null;
  };

/** Commands from the operator (control socket). */
export interface RoleCommand {
  role: Role;
  /** Start without a lease: the operator takes the risk. */
  force?: boolean;
}

/** Inputs to the machine. Every event carries the local monotonic time. */
export type Event =
  | { type: "tick"; now: Time }
  | { type: "command"; now: Time; command: RoleCommand }
  | { type: "message"; now: Time; from: NodeId; msg: Message }
  | { type: "peer_down"; now: Time; peer: NodeId }
  | { type: "hook_done"; now: Time; id: number; method: HookMethod; outcome: HookOutcome }
  | { type: "shutdown"; now: Time };

export type LogLevel = "error" | "warning" | "info" | "debug";

/** Outputs of the machine, run by the runtime in the order given. */
export type Effect =
  | { type: "send"; to: NodeId; msg: Message }
  | {
    type: "hook";
    id: number;
    method: HookMethod;
    /** Extra arguments, e.g. old and new role for `role`. */
    args: string[];
    role: Role;
    epoch: number;
    timeoutMs: number;
  }
  /** Kill the hook `id` (its whole process group) now; its hook_done follows as usual. */
  | { type: "cancel"; id: number }
  /** Persist role and epochs. Always comes before anything that announces or starts them. */
  | { type: "persist"; state: PersistedState }
  | { type: "log"; level: LogLevel; message: string }
  | { type: "transition"; from: Role; to: Role; epoch: number; reason: string }
  /** The instant (local clock) by which this node's service must be stopped, or null. */
  | { type: "lease"; until: Time | null }
  /** The daemon may exit: nothing of this resource is active any more (after shutdown). */
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
  /** How long that grant is honoured after the claimant was last heard (its own numbers). */
  grantHoldMs?: number | null;
}
