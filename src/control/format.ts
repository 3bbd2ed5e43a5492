/**
 * Renderings of the control answers for `hastmon ctl`: the status view as
 * text (the original hastmonctl layout, extended) and as versioned JSON
 * (docs/STATUS_JSON.md), role changes, and one line per event.
 */
import type { LoadStatus, PeerStatus, ResourceStatus } from "../core/status.ts";
import { human } from "../core/timing.ts";
import type { DaemonEvent, LogLoss, RoleResult, StatusResult } from "./protocol.ts";

/** A duration for people: the core's one rendering (src/core/timing.ts `human`). */
export const formatDuration = human;

/** Milliseconds as seconds, to the millisecond: 1350 → 1.35. */
function seconds(ms: number): number {
  return Number((ms / 1000).toFixed(3));
}

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/g;

/** Escape control characters (`\x0a`), so that one record stays one line. */
export function oneLine(text: string): string {
  return text.replace(CONTROL_CHARS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * `ctl status` as text: per resource, the original hastmonctl layout
 * (`<resource>:`, two-space fields, four-space remote lines) with the node in
 * place of `exec:`, extended with epoch, lease, takeover, the last transition
 * and the explanations; a blank line between resources.
 */
export function formatStatusText(result: StatusResult): string {
  const node = [loadText(result.node, result.load), logText(result.node, result.log)]
    .filter((p): p is string => p !== null);
  return [...result.resources.map(formatResourceText), ...node].join("\n");
}

/** The node's log, as a last paragraph: only when it could not write some of it. */
export function logText(node: string, log: LogLoss | undefined): string | null {
  if (!log || log.linesLost === 0) return null;
  const ago = typeof log.lastLostAgoMs === "number"
    ? `, the last ${formatDuration(log.lastLostAgoMs)} ago`
    : "";
  return `node ${oneLine(node)}: ${log.linesLost} log line(s) could not be written since ` +
    `start${ago} (${oneLine(log.error ?? "unknown error")}); the daemon goes on without them: ` +
    `make room on the log's disk, or drain or restart what reads its standard error\n`;
}

/**
 * The node's load, as a last paragraph: only when it sheds load now, or
 * dropped or postponed something since it started (else nothing, and the
 * classic layout is unchanged).
 */
export function loadText(node: string, load: LoadStatus): string | null {
  const counts = `${load.notificationsDropped} notification hook(s) dropped (budget ` +
    `${load.notifyPerSecond} a second), ${load.probesDeferred} probe(s) postponed since start`;
  if (load.shedding) {
    return `node ${oneLine(node)}: shedding load for ${formatDuration(load.sheddingForMs ?? 0)}: ` +
      `ran up to ${formatDuration(load.lagMs)} late, hooks waited up to ` +
      `${formatDuration(load.hookWaitMs)} to start (limit ${formatDuration(load.lagLimitMs)}); ` +
      `notification hooks are dropped, routine probes come up to one interval late ` +
      `(${load.probesHeld} waiting now); ${counts}\n`;
  }
  if (load.notificationsDropped === 0 && load.probesDeferred === 0) return null;
  return `node ${oneLine(node)}: not shedding load now; ${counts}\n`;
}

/** One resource's block of {@linkcode formatStatusText}, ending with a newline. */
export function formatResourceText(st: ResourceStatus): string {
  const lines = [`${oneLine(st.resource)}:`, `  role: ${st.role}`, `  node: ${oneLine(st.node)}`];
  if (st.peers.length === 0) lines.push("  remote: none");
  else {
    lines.push("  remote:");
    for (const p of st.peers) lines.push(`    ${oneLine(p.node)} (${peerState(st, p)})`);
  }
  lines.push(
    `  state: ${st.state}`,
    `  attempts: ${st.attempts.used} from ${st.attempts.max}`,
    `  complaints: ${st.complaints.count} for last ${seconds(st.complaints.windowMs)} sec ` +
      `(threshold ${st.complaints.threshold})`,
    `  epoch: ${st.epoch}${st.maxEpoch > st.epoch ? ` (highest seen ${st.maxEpoch})` : ""}`,
    `  priority: ${st.priority}`,
    `  lease: ${leaseText(st)}`,
  );
  if (st.takeover) {
    lines.push(
      `  takeover: primary silent for ${formatDuration(st.takeover.silenceMs)}, ` +
        `needs more than ${formatDuration(st.takeover.waitMs)}`,
    );
  }
  lines.push(`  group: ${st.rgState}`);
  if (st.members.length > 1) {
    lines.push(
      `  members: ${st.members.map((m) => `${oneLine(m.name)} ${m.resourceState}`).join(", ")}`,
    );
  }
  if (st.failover) lines.push(`  failover: ${failoverText(st.failover)}`);
  if (st.hook) {
    lines.push(
      `  hook: ${st.hook.method}${st.hook.member ? ` of ${oneLine(st.hook.member)}` : ""}, ` +
        `running for ${formatDuration(st.hook.runningMs)}`,
    );
  }
  const t = st.lastTransition;
  lines.push(
    t
      ? `  last transition: ${t.from} -> ${t.to} ${formatDuration(t.agoMs)} ago: ${
        oneLine(t.reason)
      }`
      : "  last transition: none",
  );
  if (st.explanations.length > 0) {
    lines.push("  notes:", ...st.explanations.map((e) => `    ${oneLine(e)}`));
  }
  return lines.join("\n") + "\n";
}

/** A failover's phases, as offsets from when it was detected. */
export function failoverText(f: NonNullable<ResourceStatus["failover"]>): string {
  const at = (ms: number | null) => ms === null ? "not yet" : `+${formatDuration(ms)}`;
  return `${f.kind} from ${oneLine(f.from ?? "(none seen)")} ${formatDuration(f.agoMs)} ago: ` +
    `detected, decided ${at(f.phases.decidedMs)}, old primary out ${
      at(f.phases.oldStoppedMs)
    }, started ${at(f.phases.startedMs)}`;
}

/**
 * hastmonctl's remote state: connectivity, or role/state as a watchdog sees
 * it; a peer no longer heard keeps its last word, marked as old.
 */
function peerState(st: ResourceStatus, p: PeerStatus): string {
  if (st.role === "watchdog") {
    return `${p.role ?? "unknown"}/${p.state}${p.connected ? "" : ", disconnected"}`;
  }
  return p.connected ? "connected" : "disconnected";
}

function leaseText(st: ResourceStatus): string {
  const lease = st.lease;
  if (lease) {
    if (st.forced) return "none, forced by the operator (no lease protects this node)";
    if (!lease.held) return `not held (length ${formatDuration(lease.lengthMs)})`;
    return lease.remainingMs === null
      ? `held (length ${formatDuration(lease.lengthMs)})`
      : `held, ${formatDuration(lease.remainingMs)} left of ${formatDuration(lease.lengthMs)}`;
  }
  if (st.grant) {
    return `granted to ${oneLine(st.grant.holder)} (epoch ${st.grant.epoch}), ` +
      `${formatDuration(st.grant.remainingMs)} left`;
  }
  return "none";
}

/** `ctl role` as text: one line per resource, `name: from -> to`. */
export function formatRoleText(result: RoleResult): string {
  return result.changed.map((c) =>
    `${oneLine(c.resource)}: ${c.from === c.to ? `${c.to} (unchanged)` : `${c.from} -> ${c.to}`}\n`
  ).join("");
}

/**
 * The version of {@linkcode StatusJson}; raised on any incompatible change.
 * 2: resource groups (rgState, members with their Solaris states and budgets,
 * pingpong marks, the request under way, the last failover's phases).
 */
export const STATUS_JSON_VERSION = 2;

/** `ctl status --json`, version 2 (docs/STATUS_JSON.md). Durations are in seconds. */
export interface StatusJson {
  version: 2;
  node: string;
  daemon: {
    version: string;
    pid: number;
    uptimeSeconds: number;
    /** The node's load (src/runtime/shedding.ts). */
    load: {
      shedding: boolean;
      sheddingSeconds: number | null;
      lagSeconds: number;
      hookWaitSeconds: number;
      lagLimitSeconds: number;
      notificationsDropped: number;
      probesDeferred: number;
      probesHeld: number;
      notifyPerSecond: number;
    };
    /** What its log could not take since start (absent from older daemons' answers: 0, null). */
    log: { linesLost: number; error: string | null; lastLostSecondsAgo: number | null };
  };
  resources: ResourceJson[];
}

/** One resource in {@linkcode StatusJson}. */
export interface ResourceJson {
  name: string;
  node: string;
  role: ResourceStatus["role"];
  state: ResourceStatus["state"];
  epoch: number;
  maxEpoch: number;
  priority: number;
  forced: boolean;
  attempts: { used: number; max: number };
  lease:
    | { held: boolean; remainingSeconds: number | null; lengthSeconds: number; quorum: number }
    | null;
  grant: { holder: string; epoch: number; remainingSeconds: number } | null;
  complaints: { count: number; threshold: number; windowSeconds: number; from: string[] };
  takeover: { silenceSeconds: number; waitSeconds: number | null } | null;
  hook: { method: string; member: string | null; runningSeconds: number } | null;
  /** RG_STATE on this node. */
  rgState: string;
  members: {
    name: string;
    state: ResourceStatus["state"];
    resourceState: string;
    status: string;
    statusMessage: string;
    failoverMode: string;
    restarts: { used: number; max: number; windowSeconds: number; resetsInSeconds: number | null };
    groupRestarts: number;
    probeFailures: { count: number; sum: number };
    monitored: boolean;
  }[];
  /** Pingpong marks in force; `until` is ISO 8601 (wall clock). */
  pingpong: { node: string; member: string; until: string; remainingSeconds: number }[];
  request: ResourceStatus["request"];
  failover: {
    kind: "takeover" | "handover";
    from: string | null;
    secondsAgo: number;
    decidedSeconds: number;
    oldStoppedSeconds: number | null;
    startedSeconds: number | null;
  } | null;
  peers: {
    node: string;
    connected: boolean;
    lastHeardSecondsAgo: number | null;
    role: ResourceStatus["role"] | null;
    state: ResourceStatus["state"];
    epoch: number;
    priority: number;
  }[];
  lastTransition: {
    from: ResourceStatus["role"];
    to: ResourceStatus["role"];
    epoch: number;
    reason: string;
    secondsAgo: number;
  } | null;
  explanations: string[];
}

/** The status answer as the documented, versioned JSON document. */
export function statusJson(result: StatusResult): StatusJson {
  return {
    version: STATUS_JSON_VERSION,
    node: result.node,
    daemon: {
      version: result.version,
      pid: result.pid,
      uptimeSeconds: seconds(result.uptimeMs),
      load: {
        shedding: result.load.shedding,
        sheddingSeconds: result.load.sheddingForMs === null
          ? null
          : seconds(result.load.sheddingForMs),
        lagSeconds: seconds(result.load.lagMs),
        hookWaitSeconds: seconds(result.load.hookWaitMs),
        lagLimitSeconds: seconds(result.load.lagLimitMs),
        notificationsDropped: result.load.notificationsDropped,
        probesDeferred: result.load.probesDeferred,
        probesHeld: result.load.probesHeld,
        notifyPerSecond: result.load.notifyPerSecond,
      },
      log: {
        linesLost: result.log?.linesLost ?? 0,
        error: result.log?.error ?? null,
        lastLostSecondsAgo: typeof result.log?.lastLostAgoMs === "number"
          ? seconds(result.log.lastLostAgoMs)
          : null,
      },
    },
    resources: result.resources.map(resourceJson),
  };
}

function resourceJson(st: ResourceStatus): ResourceJson {
  return {
    name: st.resource,
    node: st.node,
    role: st.role,
    state: st.state,
    epoch: st.epoch,
    maxEpoch: st.maxEpoch,
    priority: st.priority,
    forced: st.forced,
    attempts: { used: st.attempts.used, max: st.attempts.max },
    lease: st.lease && {
      held: st.lease.held,
      remainingSeconds: st.lease.remainingMs === null ? null : seconds(st.lease.remainingMs),
      lengthSeconds: seconds(st.lease.lengthMs),
      quorum: st.lease.quorum,
    },
    grant: st.grant && {
      holder: st.grant.holder,
      epoch: st.grant.epoch,
      remainingSeconds: seconds(st.grant.remainingMs),
    },
    complaints: {
      count: st.complaints.count,
      threshold: st.complaints.threshold,
      windowSeconds: seconds(st.complaints.windowMs),
      from: [...st.complaints.from],
    },
    takeover: st.takeover && {
      silenceSeconds: seconds(st.takeover.silenceMs),
      // JSON has no Infinity: a wait that can never end is null.
      waitSeconds: Number.isFinite(st.takeover.waitMs) ? seconds(st.takeover.waitMs) : null,
    },
    hook: st.hook && {
      method: st.hook.method,
      member: st.hook.member,
      runningSeconds: seconds(st.hook.runningMs),
    },
    rgState: st.rgState,
    members: st.members.map((x) => ({
      name: x.name,
      state: x.state,
      resourceState: x.resourceState,
      status: x.status,
      statusMessage: x.statusMessage,
      failoverMode: x.failoverMode,
      restarts: {
        used: x.restarts.used,
        max: x.restarts.max,
        windowSeconds: seconds(x.restarts.windowMs),
        resetsInSeconds: x.restarts.resetsInMs === null ? null : seconds(x.restarts.resetsInMs),
      },
      groupRestarts: x.groupRestarts,
      probeFailures: { ...x.probeFailures },
      monitored: x.monitored,
    })),
    pingpong: st.pingpong.map((p) => ({
      node: p.node,
      member: p.member,
      until: new Date(p.untilWallMs).toISOString(),
      remainingSeconds: seconds(p.remainingMs),
    })),
    request: st.request && { ...st.request },
    failover: st.failover && {
      kind: st.failover.kind,
      from: st.failover.from,
      secondsAgo: seconds(st.failover.agoMs),
      decidedSeconds: seconds(st.failover.phases.decidedMs),
      oldStoppedSeconds: st.failover.phases.oldStoppedMs === null
        ? null
        : seconds(st.failover.phases.oldStoppedMs),
      startedSeconds: st.failover.phases.startedMs === null
        ? null
        : seconds(st.failover.phases.startedMs),
    },
    peers: st.peers.map((p) => ({
      node: p.node,
      connected: p.connected,
      lastHeardSecondsAgo: p.lastHeardAgoMs === null ? null : seconds(p.lastHeardAgoMs),
      role: p.role,
      state: p.state,
      epoch: p.epoch,
      priority: p.priority,
    })),
    lastTransition: st.lastTransition && {
      from: st.lastTransition.from,
      to: st.lastTransition.to,
      epoch: st.lastTransition.epoch,
      reason: st.lastTransition.reason,
      secondsAgo: seconds(st.lastTransition.agoMs),
    },
    explanations: [...st.explanations],
  };
}

/**
 * One event as one line: `TIME NODE RESOURCE LEVEL KIND: TEXT`, with `-` for
 * a node-wide event; a transition reads `from -> to, epoch N: reason`.
 */
export function formatEvent(e: DaemonEvent): string {
  const text = e.kind === "transition" && e.from !== undefined && e.to !== undefined
    ? `${e.from} -> ${e.to}${e.epoch === undefined ? "" : `, epoch ${e.epoch}`}: ${
      e.reason ?? e.message
    }`
    : e.message;
  return `${e.time} ${oneLine(e.node)} ${oneLine(e.resource ?? "-")} ${e.level} ${e.kind}: ${
    oneLine(text)
  }`;
}

/** One event for `ctl events --json`: the event with the schema version, one line of JSON. */
export function eventJson(e: DaemonEvent): string {
  return JSON.stringify({ version: STATUS_JSON_VERSION, ...e });
}
