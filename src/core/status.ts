/**
 * The one status view of a resource on a node: plain data built from the
 * machine, explained in words an operator can act on. `ctl status` (text and
 * JSON) and the console are renderings of it.
 */
import {
  groupState,
  isLive,
  type Machine,
  primarySilenceMs,
  quorum,
  takeoverWaitMs,
} from "./machine.ts";
import { configured, recentComplaints, wallNow } from "./state.ts";
import { wantUp } from "./group.ts";
import { groupRestarts, restartBudget } from "./policy.ts";
import { failureSum, recentFailures } from "./monitor.ts";
import { resourceState, rgState, utcClock } from "./scha.ts";
import { human, leaseMs } from "./timing.ts";
import type { FailoverMode, MemberStatusValue, NodeId, Role, ServiceState } from "./types.ts";

/**
 * The node's load (src/runtime/shedding.ts): whether it sheds optional work
 * (notification hooks, routine probes) because it runs late, and what it
 * dropped or postponed so far. One per node, beside its resources' views.
 */
export interface LoadStatus {
  /** Is the node shedding optional work now? */
  shedding: boolean;
  /** For how long it has been shedding, ms; null while it is not. */
  sheddingForMs: number | null;
  /** The worst lateness of its timer (its event loop busy or starved) within the last 10 s, ms. */
  lagMs: number;
  /** The longest a hook waited to be started (the spawn queue) within the last 10 s, ms. */
  hookWaitMs: number;
  /** The lateness that counts as a sign of overload, ms. */
  lagLimitMs: number;
  /** Notification hooks dropped since start: over the node's budget, or while shedding. */
  notificationsDropped: number;
  /** Routine probes postponed since start (while shedding). */
  probesDeferred: number;
  /** Routine probes postponed right now. */
  probesHeld: number;
  /** The node's budget of notification hooks per second. */
  notifyPerSecond: number;
}

/** What this node knows of one peer. */
export interface PeerStatus {
  node: NodeId;
  connected: boolean;
  /** Milliseconds since the peer was last heard, or null if never. */
  lastHeardAgoMs: number | null;
  role: Role | null;
  state: ServiceState;
  epoch: number;
  priority: number;
}

/** One member of the resource (a Solaris resource of the group) on this node. */
export interface MemberStatus {
  name: string;
  state: ServiceState;
  /** A start began and no stop completed since. */
  dirty: boolean;
  /** RESOURCE_STATE (scha-semantics.md §7.1): ONLINE, OFFLINE, START_FAILED, … */
  resourceState: string;
  /** STATUS: what a fault monitor (or the built-in one) says, and its message. */
  status: MemberStatusValue;
  statusMessage: string;
  failoverMode: FailoverMode;
  /** NUM_RESOURCE_RESTARTS within retry_interval, of retry_count; when the oldest leaves. */
  restarts: { used: number; max: number; windowMs: number; resetsInMs: number | null };
  /** NUM_RG_RESTARTS: RESTARTs of the group within this member's retry_interval. */
  groupRestarts: number;
  /** The built-in monitor's history: failed probes within retry_interval and their weight. */
  probeFailures: { count: number; sum: number };
  /** False once the monitor quit it (RESTART_ONLY or LOG_ONLY out of budget). */
  monitored: boolean;
  /** probe_interval (THOROUGH_PROBE_INTERVAL of scha_resource_get). */
  probeIntervalMs: number;
}

/** A giveover destination blocked by a pingpong mark, in wall-clock ms (it outlives restarts). */
export interface PingpongStatus {
  node: NodeId;
  /** The member whose giveover moved the group off `node` ("" for the whole group). */
  member: string;
  untilWallMs: number;
  remainingMs: number;
}

/** The last failover this node made as the new primary: offsets of each phase from detection. */
export interface FailoverStatus {
  kind: "takeover" | "handover";
  from: NodeId | null;
  /** Since detection. */
  agoMs: number;
  phases: {
    detectedMs: 0;
    decidedMs: number;
    /** A quorum granted a lease: the old primary's lease was out or released. */
    oldStoppedMs: number | null;
    startedMs: number | null;
  };
}

/** The status of one resource on one node. Durations in ms, relative to `now`. */
export interface ResourceStatus {
  resource: string;
  node: NodeId;
  role: Role;
  epoch: number;
  maxEpoch: number;
  priority: number;
  state: ServiceState;
  forced: boolean;
  attempts: { used: number; max: number };
  /** Primary: the lease held, if any. */
  lease: { held: boolean; remainingMs: number | null; lengthMs: number; quorum: number } | null;
  /** The claimant this node honours a lease for. */
  grant: { holder: NodeId; epoch: number; remainingMs: number } | null;
  complaints: {
    count: number;
    threshold: number;
    windowMs: number;
    from: NodeId[];
  };
  /** Secondary: how long the primary has been silent and how long it must be. */
  takeover: { silenceMs: number; waitMs: number } | null;
  hook: { method: string; member: string | null; runningMs: number } | null;
  members: MemberStatus[];
  /** RG_STATE on this node (scha-semantics.md §7.3). */
  rgState: string;
  /** Pingpong marks in force: where a member's giveover may not go, until when. */
  pingpong: PingpongStatus[];
  /** The scha_control request under way, if any. */
  request: { optag: string; member: string | null; phase: string; target: NodeId | null } | null;
  failover: FailoverStatus | null;
  peers: PeerStatus[];
  lastTransition: {
    agoMs: number;
    from: Role;
    to: Role;
    epoch: number;
    reason: string;
  } | null;
  /** Sentences for people: what is going on and what blocks what. */
  explanations: string[];
}

/** Build the status view of one machine, as of `at` (default: its last event). A pure query. */
export function statusOf(
  machine: Machine,
  at: number = machine.now,
  clock: (wallMs: number) => string = utcClock,
): ResourceStatus {
  // Seen at `at` without stepping the machine: a shallow copy with the later time
  // answers every query as of then, and the machine itself is left as it was.
  const m: Machine = at > machine.now ? { ...machine, now: at } : machine;
  const now = m.now;
  const s = m.settings;
  const peers: PeerStatus[] = [...m.peers.entries()].map(([node, p]) => ({
    node,
    connected: isLive(m, p),
    lastHeardAgoMs: p.lastHeard === null ? null : now - p.lastHeard,
    role: p.role,
    state: p.state,
    epoch: p.epoch,
    priority: configured(m, node)?.priority ?? 0,
  }));
  const recent = recentComplaints(m);
  const liveRemaining = m.leaseUntil === null ? null : Math.max(0, m.leaseUntil - now);
  const status: ResourceStatus = {
    resource: s.name,
    node: s.self,
    role: m.role,
    epoch: m.epoch,
    maxEpoch: m.maxEpoch,
    priority: s.priority,
    state: groupState(m),
    forced: m.forced,
    attempts: { used: m.attempts, max: s.attempts },
    lease: m.role === "primary"
      ? {
        held: m.forced || (liveRemaining !== null && liveRemaining > 0),
        remainingMs: liveRemaining === null || !Number.isFinite(liveRemaining)
          ? null
          : liveRemaining,
        lengthMs: leaseMs(s),
        quorum: quorum(m),
      }
      : null,
    grant: m.grant && m.grant.until > now
      ? {
        holder: m.grant.holder.node,
        epoch: m.grant.holder.epoch,
        remainingMs: m.grant.until - now,
      }
      : null,
    complaints: {
      count: recent.length,
      threshold: s.complaintCount,
      windowMs: s.complaintIntervalMs,
      from: [...new Set(recent.map((c) => c.from))],
    },
    takeover: m.role === "secondary"
      ? { silenceMs: primarySilenceMs(m), waitMs: takeoverWaitMs(m) }
      : null,
    hook: m.busy
      ? { method: m.busy.method, member: m.busy.member, runningMs: now - m.busy.since }
      : null,
    members: m.members.map((x) => {
      return {
        name: x.settings.name,
        state: x.state,
        dirty: x.dirty,
        resourceState: resourceState(m, x),
        status: x.status.value,
        statusMessage: x.status.message,
        failoverMode: x.settings.failoverMode,
        restarts: restartBudget(m, x),
        groupRestarts: groupRestarts(m, x),
        probeFailures: { count: recentFailures(m, x), sum: failureSum(m, x) },
        monitored: !x.unmonitored,
        probeIntervalMs: x.settings.probeIntervalMs,
      };
    }),
    rgState: rgState(m),
    pingpong: m.policy.pingpong
      .map((p) => ({
        node: p.node,
        member: p.member,
        untilWallMs: p.at + s.pingpongIntervalMs,
        remainingMs: p.at + s.pingpongIntervalMs - wallNow(m),
      }))
      .filter((p) => p.remainingMs > 0),
    request: firstRequest(m),
    failover: m.failover
      ? {
        kind: m.failover.kind,
        from: m.failover.from,
        agoMs: now - m.failover.detectedAt,
        phases: {
          detectedMs: 0,
          decidedMs: m.failover.decidedAt - m.failover.detectedAt,
          oldStoppedMs: m.failover.oldStoppedAt === null
            ? null
            : m.failover.oldStoppedAt - m.failover.detectedAt,
          startedMs: m.failover.startedAt === null
            ? null
            : m.failover.startedAt - m.failover.detectedAt,
        },
      }
      : null,
    peers,
    lastTransition: m.lastTransition
      ? { ...m.lastTransition, agoMs: now - m.lastTransition.at }
      : null,
    explanations: [],
  };
  status.explanations = [
    ...explain(m, status),
    ...explainGroup(status, s.pingpongIntervalMs, clock),
  ];
  return status;
}

function firstRequest(m: Machine): ResourceStatus["request"] {
  const r = [...m.requests.values()].find((q) => !q.internal) ?? [...m.requests.values()][0];
  if (!r) return null;
  return {
    optag: r.request.optag,
    member: r.request.member,
    phase: r.phase,
    target: r.target ?? r.check?.node ?? null,
  };
}

/** What the built-in monitor does at the next failure once a member's restarts are used up (monitor.ts). */
function budgetSpent(x: MemberStatus): string {
  if (x.restarts.used < x.restarts.max || !x.monitored) return "";
  if (x.failoverMode === "LOG_ONLY") return "";
  return x.failoverMode === "RESTART_ONLY"
    ? ": none left, the next failure ends its monitoring (RESTART_ONLY)"
    : ": none left, the next failure asks for a giveover";
}

/**
 * Sentences about the group: each member's state and budget when it is not
 * simply ONLINE and untouched, pingpong blocks with their end, a request
 * under way. `clock` renders a wall-clock time (the daemon's local time).
 */
function explainGroup(
  st: ResourceStatus,
  pingpongMs: number,
  clock: (wallMs: number) => string,
): string[] {
  const out: string[] = [];
  const many = st.members.length > 1;
  for (const x of st.members) {
    const who = many || x.name !== st.resource ? `member ${x.name}: ` : "";
    const online = x.resourceState.startsWith("ONLINE");
    const label = online && x.status === "FAULTED" ? "ONLINE_FAULTED" : x.resourceState;
    const failed = x.probeFailures.count;
    if ((label !== "ONLINE" && label !== "OFFLINE") || failed > 0) {
      out.push(
        `${who}${label}` +
          (failed > 0
            ? ` (probe failed ${failed} time${failed === 1 ? "" : "s"} in ${
              human(x.restarts.windowMs)
            })`
            : "") +
          (x.status !== "OK" && x.statusMessage ? `: ${x.statusMessage}` : ""),
      );
    } else if (x.status !== "OK" && x.status !== "UNKNOWN" && x.status !== "OFFLINE") {
      out.push(`${who}status ${x.status}${x.statusMessage ? `: ${x.statusMessage}` : ""}`);
    }
    if (x.restarts.used > 0) {
      out.push(
        `${who}restarts ${x.restarts.used}/${x.restarts.max} in ${human(x.restarts.windowMs)}` +
          (x.restarts.resetsInMs !== null
            ? `, window resets in ${human(x.restarts.resetsInMs)}`
            : "") +
          budgetSpent(x),
      );
    }
  }
  for (const p of st.pingpong) {
    // Kept on both nodes: on the one it protects, it reads as a giveover back here.
    const to = p.node === st.node ? `back to ${p.node} (this node)` : `to ${p.node}`;
    out.push(
      `giveover${p.member ? ` by ${p.member}` : ""} ${to} blocked by pingpong until ` +
        `${clock(p.untilWallMs)} (${human(p.remainingMs)}, pingpong_interval ${human(pingpongMs)})`,
    );
  }
  if (st.request) {
    const r = st.request;
    out.push(
      `scha_control ${r.optag}${r.member ? ` by ${r.member}` : ""} under way (${r.phase}` +
        `${r.target ? `: ${r.target}` : ""})`,
    );
  }
  return out;
}

/**
 * A stop that failed, and what happens next: a primary that keeps its lease
 * leaves the group ERROR_STOP_FAILED for the operator (group.ts reconcile);
 * a node that must give the resource up ran panic if it has one, and tries
 * the stop again every interval.
 */
function stopFailed(m: Machine): string {
  const s = m.settings;
  if (wantUp(m)) {
    return `stop failed: ERROR_STOP_FAILED, a member may still run here: fix what made its stop ` +
      `fail, then \`hastmon ctl restart ${s.name}\` (or \`ctl role secondary ${s.name}\`)`;
  }
  const again = `the stop is tried again every ${human(s.heartbeatIntervalMs)}`;
  return s.hasPanic
    ? `stop failed: panic ran; ${again}`
    : `stop failed: the service may still run here (no panic command): ${again}; if it keeps ` +
      `failing, stop the service by hand`;
}

function explain(m: Machine, st: ResourceStatus): string[] {
  const out: string[] = [];
  const s = m.settings;
  // Which peers are watchdogs is the configuration's word, heard or not.
  const watchdogs = st.peers.filter((p) => configured(m, p.node)?.watchdog);
  const liveWatchdogs = watchdogs.filter((p) => p.connected);
  if (m.shuttingDown) out.push("shutting down");
  if (m.forced) out.push("forced primary: running without a lease (operator's risk)");
  if (m.role !== "watchdog" && m.role !== "init" && liveWatchdogs.length === 0) {
    out.push(
      watchdogs.length === 0
        ? "no watchdog configured: no automatic failover"
        : `watchdog ${watchdogs.map((w) => w.node).join(", ")} unreachable: no automatic failover`,
    );
  }
  for (const p of st.peers) {
    if (!p.connected && p.lastHeardAgoMs !== null) {
      out.push(`${p.node} not heard for ${human(p.lastHeardAgoMs)}`);
    } else if (p.lastHeardAgoMs === null) {
      out.push(`${p.node} never heard`);
    }
  }
  // Peers whose copy of the file gives this node less than it asks: the lease shrinks.
  const short = [...m.grantsFrom.entries()].filter(([, g]) =>
    g.leaseMs < leaseMs(s) || g.stopMs < s.stopTimeoutMs
  );
  if (m.role === "primary" && short.length > 0) {
    const [node, g] = short[0];
    out.push(
      `${node} grants a lease of ${human(g.leaseMs)} with a stop bound of ${human(g.stopMs)} ` +
        `(this node asks ${human(leaseMs(s))} and ${human(s.stopTimeoutMs)}): its configuration ` +
        `differs; reload the same file on every node`,
    );
  }
  if (m.role === "primary" && st.lease && !st.lease.held) {
    out.push(
      `waiting for a lease from ${st.lease.quorum - 1} of ${s.peers.length} peers` +
        // The note of a refusal says who and why; roles.ts's own note would say it twice.
        (m.note && !m.note.startsWith("waiting for a lease") ? ` (${m.note})` : ""),
    );
  } else if (
    m.role === "primary" && st.lease?.remainingMs !== null && st.lease?.remainingMs !== undefined
  ) {
    out.push(`lease valid for ${human(st.lease.remainingMs)}`);
    // Say it before it happens: without enough peers the lease runs out and the service stops.
    const connected = st.peers.filter((p) => p.connected).length;
    const needed = st.lease.quorum - 1;
    if (!m.forced && connected < needed) {
      out.push(
        `only ${connected} of ${s.peers.length} peers connected, ${needed} needed to renew the ` +
          `lease: this node stops ${s.name} when it runs out (self-fencing), unless a peer ` +
          `comes back`,
      );
    }
  }
  if (m.role === "secondary" && st.takeover) {
    const primary = st.peers.find((p) => p.role === "primary" && p.connected);
    if (primary) {
      out.push(`following primary ${primary.node} (epoch ${primary.epoch})`);
    } else if (st.complaints.count > s.complaintCount) {
      const left = st.takeover.waitMs - st.takeover.silenceMs;
      out.push(`takeover in ${human(Math.max(0, left))}: waiting out the old primary's lease`);
    } else {
      out.push(
        `no primary heard; complaints ${st.complaints.count}/${s.complaintCount + 1} needed ` +
          `within ${human(s.complaintIntervalMs)}`,
      );
    }
  }
  if (m.role === "watchdog") {
    // A node that could take over but does not hear this watchdog gets no complaints.
    const deaf = st.peers.filter((p) =>
      !p.connected && p.role !== "primary" && !configured(m, p.node)?.watchdog
    ).map((p) => p.node);
    if (deaf.length > 0) {
      out.push(
        `${deaf.join(", ")} unreachable: complaints cannot reach ${
          deaf.length === 1 ? "it, so it" : "them, so they"
        } cannot take over`,
      );
    }
    if (m.note) out.push(m.note);
  }
  if (m.now < m.quarantineUntil) {
    out.push(
      `state file was unusable at start: granting and starting nothing for ` +
        `${human(m.quarantineUntil - m.now)}`,
    );
  }
  if (groupState(m) === "stop_failed") out.push(stopFailed(m));
  if (m.attempts > 0 && m.role === "primary") {
    out.push(`start attempts ${m.attempts}/${s.attempts}`);
  }
  if (st.grant && st.grant.holder !== s.self) {
    out.push(`lease granted to ${st.grant.holder} for ${human(st.grant.remainingMs)}`);
  }
  return out;
}
