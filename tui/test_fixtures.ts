/**
 * Test data of the console: the status views of one resource `web` on three
 * nodes (alpha primary, beta secondary, wd watchdog) as their daemons answer
 * them, daemon snapshots around them, and a fixed {@link ClusterSource}.
 */
import type { ControlRequestInput } from "../src/control/client.ts";
import type { ControlResponse, DaemonEvent, StatusResult } from "../src/control/protocol.ts";
import type { MemberStatus, PeerStatus, ResourceStatus } from "../src/core/status.ts";
import { memberStatus, quietLoad } from "../src/control/test_helpers.ts";
import type { DaemonSnapshot } from "./model.ts";
import type { ClusterSource } from "./source.ts";

function peer(node: string, role: PeerStatus["role"], over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    node,
    connected: true,
    lastHeardAgoMs: 100,
    role,
    state: role === "primary" ? "running" : role === "secondary" ? "stopped" : "unknown",
    epoch: 4,
    priority: node === "alpha" ? 10 : node === "beta" ? 20 : 30,
    ...over,
  };
}

/** A member of a group as a daemon reports it: running, monitored, no restarts yet. */
export function member(name: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return memberStatus(name, {
    statusMessage: "",
    failoverMode: "NONE",
    probeIntervalMs: 1000,
    ...over,
  });
}

/** `web` on alpha: primary, lease held (2 s of 3 s left), everyone connected. */
export function alphaWeb(over: Partial<ResourceStatus> = {}): ResourceStatus {
  return {
    resource: "web",
    node: "alpha",
    role: "primary",
    epoch: 4,
    maxEpoch: 4,
    priority: 10,
    state: "running",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: { held: true, remainingMs: 2000, lengthMs: 3000, quorum: 2 },
    grant: null,
    complaints: { count: 0, threshold: 3, windowMs: 60_000, from: [] },
    takeover: null,
    hook: null,
    members: [member("web")],
    rgState: "ONLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [peer("beta", "secondary"), peer("wd", "watchdog")],
    lastTransition: {
      agoMs: 60_000,
      from: "secondary",
      to: "primary",
      epoch: 4,
      reason: "takeover: 4 complaints from wd",
    },
    explanations: ["lease valid for 2s"],
    ...over,
  };
}

/** `web` on beta: secondary following alpha. */
export function betaWeb(over: Partial<ResourceStatus> = {}): ResourceStatus {
  return {
    resource: "web",
    node: "beta",
    role: "secondary",
    epoch: 4,
    maxEpoch: 4,
    priority: 20,
    state: "stopped",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: null,
    grant: { holder: "alpha", epoch: 4, remainingMs: 2500 },
    complaints: { count: 0, threshold: 3, windowMs: 60_000, from: [] },
    takeover: { silenceMs: 100, waitMs: 4350 },
    hook: null,
    members: [member("web", { state: "stopped", dirty: false, resourceState: "OFFLINE" })],
    rgState: "OFFLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [peer("alpha", "primary"), peer("wd", "watchdog")],
    lastTransition: null,
    explanations: ["following primary alpha (epoch 4)"],
    ...over,
  };
}

/** `web` on wd: watchdog seeing alpha run. */
export function wdWeb(over: Partial<ResourceStatus> = {}): ResourceStatus {
  return {
    resource: "web",
    node: "wd",
    role: "watchdog",
    epoch: 4,
    maxEpoch: 4,
    priority: 30,
    state: "unknown",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: null,
    grant: { holder: "alpha", epoch: 4, remainingMs: 2400 },
    complaints: { count: 0, threshold: 3, windowMs: 60_000, from: [] },
    takeover: null,
    hook: null,
    members: [member("web", { state: "unknown", dirty: false, resourceState: "OFFLINE" })],
    rgState: "OFFLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [peer("alpha", "primary"), peer("beta", "secondary")],
    lastTransition: null,
    explanations: [],
    ...over,
  };
}

/** A status answer of `node` with these views. */
export function answer(node: string, ...resources: ResourceStatus[]): StatusResult {
  return { node, version: "test", pid: 100, uptimeMs: 1000, load: quietLoad(), resources };
}

/** A connected daemon that answered `status` at `receivedAt`. */
export function connected(
  status: StatusResult,
  receivedAt = 1000,
  events: DaemonEvent[] = [],
): DaemonSnapshot {
  return {
    id: `/run/${status.node}.sock`,
    phase: "connected",
    status,
    receivedAt,
    error: null,
    downSince: null,
    events,
  };
}

/** A daemon gone since `downSince`, with its last answer (if any). */
export function unreachable(
  id: string,
  status: StatusResult | null,
  downSince = 1000,
  receivedAt: number | null = status ? 500 : null,
): DaemonSnapshot {
  return {
    id,
    phase: "unreachable",
    status,
    receivedAt,
    error: "no daemon is listening",
    downSince,
    events: [],
  };
}

/** One event. */
export function event(
  node: string,
  seq: number,
  message: string,
  over: Partial<DaemonEvent> = {},
): DaemonEvent {
  return {
    seq,
    time: new Date(Date.UTC(2026, 10, 25, 10, 0, seq)).toISOString(),
    node,
    resource: "web",
    kind: "log",
    level: "info",
    message,
    ...over,
  };
}

/** The three daemons of the healthy cluster. */
export function healthy(): DaemonSnapshot[] {
  return [
    connected(answer("alpha", alphaWeb())),
    connected(answer("beta", betaWeb())),
    connected(answer("wd", wdWeb())),
  ];
}

/** A source with fixed snapshots that records what the console sends. */
export class FixedSource implements ClusterSource {
  #snapshot: readonly DaemonSnapshot[];
  #listeners = new Set<() => void>();
  readonly sent: { daemon: string; request: ControlRequestInput; timeoutMs?: number }[] = [];
  /** The answer to every send (default: ok, with the role change). */
  reply: (daemon: string, request: ControlRequestInput) => ControlResponse = (_d, request) => ({
    v: 1,
    id: 1,
    ok: true,
    result: {
      changed: request.type === "role"
        ? (request.resources as string[]).map((r) => ({
          resource: r,
          from: "primary",
          to: request.role,
        }))
        : [],
    },
  });

  /** A source showing `snapshot`. */
  constructor(snapshot: readonly DaemonSnapshot[]) {
    this.#snapshot = snapshot;
  }

  /** Show new snapshots (as a live source would after an answer). */
  set(snapshot: readonly DaemonSnapshot[]) {
    this.#snapshot = snapshot;
    for (const fn of this.#listeners) fn();
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  snapshot(): readonly DaemonSnapshot[] {
    return this.#snapshot;
  }

  send(daemon: string, request: ControlRequestInput, timeoutMs?: number): Promise<ControlResponse> {
    this.sent.push({ daemon, request, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    return this.answered.then(() => this.reply(daemon, request));
  }

  /** Answers wait for this (default: none): a test holds them back to see the console wait. */
  answered: Promise<void> = Promise.resolve();
}
