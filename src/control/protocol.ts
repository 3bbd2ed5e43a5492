/**
 * The control protocol: requests from `hastmon ctl` and the console to the
 * daemon over its Unix socket, the responses, and the event stream. Every
 * message is one frame of src/wire/frame.ts (JSON body). Version 1.
 */
import type { LoadStatus, ResourceStatus } from "../core/status.ts";
import type { GiveoverPlan, Role } from "../core/types.ts";

export const CONTROL_VERSION = 1;

/** A request; `id` is echoed in the response. */
export type ControlRequest =
  | { v: 1; id: number; type: "status"; resources?: string[] }
  | {
    v: 1;
    id: number;
    type: "role";
    role: Role;
    resources: string[] | "all";
    force?: boolean;
    /** With `secondary` on a primary: the node to hand over to (default: the best connected). */
    to?: string;
  }
  /** The recent events (ring buffer), then, with follow, every new one as it happens. */
  | { v: 1; id: number; type: "events"; follow?: boolean; limit?: number }
  /**
   * scha_control for a group (a resource): answered once the request has been
   * carried out (a restart waits until the group is online again), so it may
   * take long; the connection's other requests wait, other connections do not.
   * The optag is the text as typed: the daemon refuses unknown ones with
   * SCHA_ERR_TAG in the result, not as a protocol error.
   */
  | {
    v: 1;
    id: number;
    type: "scha";
    group: string;
    optag: string;
    member?: string;
    /** GIVEOVER / CHECK_GIVEOVER: the only node it may go to. */
    to?: string;
  }
  /** scha_resource_setstatus: what a fault monitor says of a member. */
  | {
    v: 1;
    id: number;
    type: "setstatus";
    group: string;
    member: string;
    status: string;
    message?: string;
  };

/** Error codes in responses; the CLI maps them to exit codes. */
export type ControlErrorCode =
  | "bad_request"
  | "unknown_resource"
  /** The daemon understood and will not do it now (e.g. a switchover target not connected). */
  | "refused"
  | "unsupported"
  | "internal";

export type ControlResponse =
  | { v: 1; id: number; ok: true; result: unknown }
  | {
    v: 1;
    id: number;
    ok: false;
    error: { code: ControlErrorCode; message: string; unknown?: string[] };
    /** With `unknown_resource`: the answer for the resources that do exist. */
    result?: unknown;
  };

/** The answer to `status`. */
export interface StatusResult {
  node: string;
  version: string;
  pid: number;
  /** Daemon uptime in ms. */
  uptimeMs: number;
  /** The node's load: whether it sheds optional work, and what it dropped or postponed. */
  load: LoadStatus;
  /** What its log could not take (absent from older daemons' answers). */
  log?: LogLoss;
  resources: ResourceStatus[];
}

/** What a daemon's log could not take since it started. */
export interface LogLoss {
  /** Lines the log refused (a write that failed: EPIPE, ENOSPC, EIO...). */
  linesLost: number;
  /** Why the last one was refused; null while none was. */
  error: string | null;
  /** How long ago (ms) the last one was lost; null while none was. A duration: clocks differ. */
  lastLostAgoMs?: number | null;
}

/** The answer to `role`: what each resource was before. */
export interface RoleResult {
  changed: { resource: string; from: Role; to: Role }[];
}

/**
 * The answer to `scha` and `setstatus`: a SCHA_ERR number (0: done) that the
 * scha_* commands exit with, the sentence, and a giveover's plan.
 */
export interface SchaResult {
  code: number;
  message: string;
  plan?: GiveoverPlan;
}

/** The answer to `events`: the recent events, oldest first. */
export interface EventsResult {
  events: DaemonEvent[];
}

/** One event of the daemon, in order. `time` is wall-clock ISO 8601, for people. */
export interface DaemonEvent {
  seq: number;
  time: string;
  node: string;
  resource: string | null;
  /**
   * `transition`: a role change; `log`: what the failover core said; `hook`: a
   * hook that failed (non-zero exit, timeout, kill; `status` probes answer
   * through the status view instead); `reload`: a configuration reload, applied
   * (level info, what changed; warning when something needs a restart or was
   * skipped) or refused (level error, why, the old configuration kept).
   */
  kind: "transition" | "log" | "hook" | "reload";
  level: "error" | "warning" | "info" | "debug";
  message: string;
  /** For transitions. */
  from?: Role;
  to?: Role;
  epoch?: number;
  reason?: string;
}

/** A frame the daemon pushes on an `events` follow stream. */
export interface EventFrame {
  v: 1;
  id: number;
  event: DaemonEvent;
}

/** What the daemon offers the control server. */
export interface ControlHandler {
  status(resources?: string[]): { result: StatusResult; unknown: string[] };
  /** Throws a {@link ControlRefusal} when the command cannot be carried out now. */
  role(role: Role, resources: string[] | "all", force: boolean, to?: string): {
    result: RoleResult;
    unknown: string[];
  };
  /** scha_control; the promise settles when the machine answers (never rejects for a refusal). */
  scha(group: string, optag: string, member?: string, to?: string): Promise<SchaResult>;
  /** scha_resource_setstatus. */
  setStatus(group: string, member: string, status: string, message: string): Promise<SchaResult>;
  recentEvents(limit?: number): DaemonEvent[];
  /** Call `fn` for every new event until the returned function is called. */
  subscribe(fn: (e: DaemonEvent) => void): () => void;
}

/** Thrown by a handler to answer `refused` with its message. */
export class ControlRefusal extends Error {
  /** Construct with the reason, in words for the operator. */
  constructor(message: string) {
    super(message);
    this.name = "ControlRefusal";
  }
}
