/**
 * The effective configuration: what every node runs with after inheritance,
 * and where each value came from. Durations are in ms, paths are absolute.
 */

import type { NodeId, Role } from "../core/types.ts";
import type { Timeline } from "../core/timing.ts";
import type { ControlAddress, PeerAddress } from "./address.ts";
import type { ConfigError, ConfigWarning, Pos } from "./diagnostics.ts";
import type { Command, FailoverMode, MemberMethod, TimedMethod, Value } from "./schema.ts";

/** The kinds of place a value can come from, from least to most specific. */
export type SourceKind =
  | "default"
  | "global"
  | "on.N"
  | "resource.R"
  | "resource.R.on.N"
  | "resource.R.member.M";

/** Where an effective value was written. */
export interface Provenance {
  kind: SourceKind;
  /** The section as written in the file, e.g. `resource.web.on.alpha`; "default" for defaults. */
  section: string;
  /** Position of the key (absent for defaults). */
  line?: number;
  col?: number;
}

/** One effective value: as written (file units), converted (internal units), and its origin. */
export interface Setting {
  raw: unknown;
  value: Value;
  from: Provenance;
}

/** Settings by key name, in the order of the schema. */
export type Settings = Record<string, Setting>;

/** Node-wide settings of one node. */
export interface NodeConfig {
  node: NodeId;
  control: ControlAddress;
  listen: PeerAddress;
  metricsListen: PeerAddress | null;
  stateDir: string;
  settings: Settings;
}

/** Node authentication (`[key]`). The secret is resolved from `secret_file` when given. */
export interface KeyConfig {
  algorithm: "hmac-sha256";
  /** The secret's bytes (a file's exact bytes, less a text file's line end). */
  secret: Uint8Array;
  /** The file the secret was read from, or null when it is written inline. */
  secretFile: string | null;
  pos: Pos;
}

/** What a peer's name is bound to (see identity.ts). */
export type PeerAuthMode = "ed25519" | "hmac-sha256" | "none";

/** How nodes prove who they are. */
export interface PeerIdentityConfig {
  mode: PeerAuthMode;
  /** ed25519: every node's public keys as configured (`ed25519:BASE64`), by node name. */
  publicKeys: Record<NodeId, string[]>;
  /** ed25519: this node's key file and its 64 bytes (seed, then public key); null if unusable. */
  privateKeyFile: string | null;
  privateKey: Uint8Array | null;
  /** The hosts each node connects from: the name is refused from any other without node keys. */
  addresses: Record<NodeId, string[]>;
  /** Hosts the listener admits at all: this node's remote and friends, and every node's addresses. */
  allowedHosts: string[];
}

/** How a member method is run. */
export interface MethodCommand {
  /** Program and arguments; through `exec` this is `[exec, METHOD, RESOURCE]`. */
  argv: string[];
  viaExec: boolean;
  from: Provenance;
}

/** One member (Solaris "resource") of a resource group, in start order. */
export interface MemberConfig {
  name: string;
  /** True for the member a resource without `[resource.R.member.*]` has: same name, `exec`. */
  implicit: boolean;
  pos: Pos;
  commands: Record<MemberMethod, MethodCommand | null>;
  failoverMode: FailoverMode;
  retryCount: number;
  retryIntervalMs: number;
  /** How often `status` runs while the member should run (Solaris Thorough_probe_interval). */
  probeIntervalMs: number;
  /** Per method, after falling back to hook_timeout (stop: the resource's stop_timeout). */
  timeoutMs: Record<MemberMethod, number>;
  settings: Settings;
}

/** One resource as configured for one node, after inheritance. */
export interface ResourceNodeConfig {
  resource: string;
  node: NodeId;
  /** Position of the `[resource.R.on.NODE]` header (or first key). */
  pos: Pos;
  roleOnStart: Role;
  priority: number;
  timeoutMs: number;
  heartbeatIntervalMs: number;
  complaintCount: number;
  complaintIntervalMs: number;
  attempts: number;
  stopTimeoutMs: number;
  clockSkew: number;
  hookTimeoutMs: number;
  /** Every method's timeout, after falling back to hook_timeout. */
  methodTimeoutMs: Record<TimedMethod, number>;
  /** The hastmon-style script for events (role, connect, …), or null. */
  exec: string | null;
  /** Peer addresses; "none" when explicitly none; null when missing (which is an error). */
  remote: PeerAddress[] | "none" | null;
  friends: PeerAddress[];
  panic: Command | null;
  fence: Command | null;
  pingpongIntervalMs: number;
  members: MemberConfig[];
  settings: Settings;
}

/** The timing rule for one primary/secondary pair of a resource. */
export interface TimelineReport {
  primary: NodeId;
  /** Null when no other node can be primary: only the primary's own bounds are checked. */
  secondary: NodeId | null;
  /** The slowest watchdog, whose interval bounds when complaints are ready. */
  watchdog: { node: NodeId; intervalMs: number } | null;
  timeline: Timeline;
}

/** One resource: every node's view, this node's view, the timing rule, its own problems. */
export interface ResourceConfig {
  name: string;
  pos: Pos;
  /** Every node with a `[resource.R.on.NODE]` section, in file order. */
  nodes: ResourceNodeConfig[];
  /** This node's view, or null when the resource has no section for this node. */
  self: ResourceNodeConfig | null;
  timelines: TimelineReport[];
  /** Errors that make this resource (and only it) unusable. Also in LoadResult.errors. */
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** How this node's name was chosen. */
export type NodeSource = "flag" | "env" | "hostname" | "short hostname" | "given";

/** The whole file as one node sees it. */
export interface EffectiveConfig {
  file: string;
  node: NodeId;
  nodeSource: NodeSource;
  /** This node's node-wide settings. */
  global: NodeConfig;
  /** Node-wide settings of every node the file names, in file order. */
  nodes: NodeConfig[];
  key: KeyConfig | null;
  /** How nodes prove who they are, and which addresses each name may connect from. */
  peers: PeerIdentityConfig;
  /** Every resource in file order, usable or not (see `errors`). */
  resources: ResourceConfig[];
}

/** The outcome of reading a configuration. */
export interface LoadResult {
  /** Every error, in file order. Errors without `resource` concern the whole file. */
  errors: ConfigError[];
  warnings: ConfigWarning[];
  /** Null only when the file could not be read or is not valid TOML. */
  config: EffectiveConfig | null;
}
