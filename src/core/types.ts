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
 * Longest free-text reason a message carries (a refusal, a complaint, a
 * check's vetoes): the codec refuses longer ones, so the core cuts what it
 * sends to this.
 */
export const MAX_REASON_LENGTH = 1024;

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
  "monitor_start",
  "monitor_stop",
  "monitor_check",
  "role",
  "connect",
  "disconnect",
  "complain",
  "fence",
  "panic",
] as const;
export type HookMethod = typeof HOOK_METHODS[number];

/** Methods that only tell a script what happened: nothing waits for their outcome. */
export const NOTIFICATION_METHODS: readonly HookMethod[] = [
  "role",
  "connect",
  "disconnect",
  "complain",
];

/** Methods whose outcome the core waits for: all but the notifications. */
export const TRACKED_METHODS: readonly HookMethod[] = HOOK_METHODS.filter((m) =>
  !NOTIFICATION_METHODS.includes(m)
);

/** Methods that run a member's own command; the others run for the resource as a whole. */
export const MEMBER_HOOKS: readonly HookMethod[] = [
  "start",
  "stop",
  "status",
  "monitor_start",
  "monitor_stop",
  "monitor_check",
];

/** Solaris Failover_mode: what a member's failures escalate to. */
export const FAILOVER_MODES = ["NONE", "SOFT", "HARD", "RESTART_ONLY", "LOG_ONLY"] as const;
export type FailoverMode = typeof FAILOVER_MODES[number];

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
  failoverMode: FailoverMode;
  /** Restarts allowed within retryIntervalMs before the failure escalates. */
  retryCount: number;
  retryIntervalMs: number;
  /** Optional methods this member has (never through `exec`). */
  hasMonitorStart: boolean;
  hasMonitorStop: boolean;
  hasMonitorCheck: boolean;
  monitorStartTimeoutMs: number;
  monitorStopTimeoutMs: number;
  monitorCheckTimeoutMs: number;
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
  /** After a giveover off a node, that node is no destination of the same member's for this long. */
  pingpongIntervalMs: number;
  hasPanic: boolean;
  hasFence: boolean;
}

/**
 * Why a hook ended. Only `exit` carries a meaningful code. `output`: the last
 * line the hook printed (short), for the few outcomes shown to people
 * (a monitor_check veto).
 */
export type HookOutcome =
  & (
    | { kind: "exit"; code: number }
    | { kind: "timeout" }
    | { kind: "killed"; signal: string }
    | { kind: "error"; message: string }
  )
  & { output?: string };

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
    /** A giveover asked by this member: the sender is no destination of its for a pingpong. */
    pingpong?: string;
  }
  | {
    /** A giveover asks a candidate to run its members' monitor_check (its veto). */
    type: "check_request";
    resource: string;
    epoch: number;
    id: number;
  }
  | {
    /** The candidate's answer: ok, or why not. */
    type: "check_result";
    resource: string;
    epoch: number;
    id: number;
    ok: boolean;
    reason: string;
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

/** Optags of scha_control that hastmon carries out (see core/scha.ts). */
export const SCHA_OPTAGS = [
  "RESTART",
  "RESOURCE_RESTART",
  "RESOURCE_IS_RESTARTED",
  "GIVEOVER",
  "CHECK_GIVEOVER",
  "CHECK_RESTART",
] as const;
export type SchaOptag = typeof SCHA_OPTAGS[number];

/** A scha_control request for this resource (the group), from a person, a script or the monitor. */
export interface SchaRequest {
  optag: SchaOptag;
  /** The member (`-R`); null: the group as a whole. */
  member: string | null;
  /** GIVEOVER: the node it must go to (the friendly `ctl giveover --to`). */
  to?: NodeId;
}

/** What a fault monitor says of a member (`scha_resource_setstatus`). */
export const MEMBER_STATUSES = ["OK", "DEGRADED", "FAULTED", "UNKNOWN", "OFFLINE"] as const;
export type MemberStatusValue = typeof MEMBER_STATUSES[number];

/** Inputs to the machine. Every event carries the local monotonic time. */
export type Event =
  | { type: "tick"; now: Time }
  | { type: "command"; now: Time; command: RoleCommand }
  /** A scha_control request; answered by a `reply` effect with the same id. */
  | { type: "request"; now: Time; id: number; request: SchaRequest }
  /** scha_resource_setstatus; answered by a `reply` effect with the same id. */
  | {
    type: "setstatus";
    now: Time;
    id: number;
    member: string;
    status: MemberStatusValue;
    message: string;
  }
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
  /**
   * A probe that only confirms a state already known (a primary's online
   * member, a standby's stopped copy): a node shedding load may run it up to
   * this much later (one probe period), so that under overload probes come at
   * half their rate at worst. Absent for every other hook: a boot probe, the
   * probe that confirms a start, a probe a decision waits on.
   */
  deferrableMs?: number;
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
  /** The answer to a request: a SCHA_ERR number (0: done), in words, and the plan when one was made. */
  | { type: "reply"; id: number; code: number; message: string; plan?: GiveoverPlan }
  /** Nothing of this resource is active any more and it may go (after shutdown or removal). */
  | { type: "quiesced" };

/** Where a giveover would go, and what blocks every other node. */
export interface GiveoverPlan {
  target: NodeId | null;
  /** Each other node of the resource and why it cannot take the group (none: eligible). */
  nodes: { node: NodeId; blocked: string | null; untilWallMs?: number }[];
}

/** Restart windows and pingpong marks: wall-clock milliseconds, so they survive a restart. */
export interface PolicyState {
  /** Restarts of each member on this node (RESOURCE_RESTART, RESOURCE_IS_RESTARTED, the monitor's). */
  restarts: Record<string, number[]>;
  /** RESTART requests of the group on this node. */
  groupRestarts: number[];
  /** Giveovers off `node` asked by `member`: that node is no destination of its until the pingpong ends. */
  pingpong: { node: NodeId; member: string; at: number }[];
  /** Starts of the group that failed on this node. */
  failedStarts: number[];
}

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
  policy: PolicyState;
  /**
   * What was left of a quarantine (docs/SAFETY.md §3) when written: a restart
   * keeps it, in full. Absent when there was none.
   */
  quarantineMs?: number;
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
  /** A GIVEOVER request (scha_control or `ctl giveover`), asked for `member` (null: the group). */
  | { kind: "giveover"; member: string | null; to: NodeId; internal: boolean }
  | { kind: "shutdown"; successor: NodeId }
  | { kind: "removed" };
