/**
 * The console's view model: pure functions from what the daemons answered
 * (their status views and events, and when each arrived) to what the screen
 * shows. No Ink, no I/O, no clock: `now` is passed in, on the same clock as
 * `receivedAt`, so that countdowns (lease left, takeover in N s) move between
 * two answers without asking the daemons again.
 *
 * Several daemons are merged into one matrix of resources × nodes. A cell
 * comes from the node's own daemon when it answers; otherwise from the
 * freshest other source: a peer's heartbeat-derived view of that node
 * ("via nodeB, 1.2s old") or the last answer of its own daemon before it
 * went away.
 */
import type { PeerStatus, ResourceStatus } from "../src/core/status.ts";
import type { Role, ServiceState } from "../src/core/types.ts";
import type { DaemonEvent, StatusResult } from "../src/control/protocol.ts";

/** The console's knowledge of one daemon. */
export interface DaemonSnapshot {
  /** Its control socket path: the key of the daemon. */
  id: string;
  phase: "connecting" | "connected" | "unreachable";
  /** The last status answer, kept while the daemon is unreachable. */
  status: StatusResult | null;
  /** When that answer arrived, on the console's clock (ms). */
  receivedAt: number | null;
  /** Why the daemon is unreachable. */
  error: string | null;
  /** Since when it is unreachable (console clock), or null. */
  downSince: number | null;
  /** Its recent events, oldest first (bounded by the link). */
  events: DaemonEvent[];
}

/** Where a cell's knowledge comes from. */
export type CellSource =
  /** The node's own daemon, answering now. */
  | { kind: "own"; ageMs: number }
  /** The node's own daemon's last answer; the daemon does not answer any more. */
  | { kind: "stale"; ageMs: number }
  /** A peer's heartbeats: `via` heard this node `ageMs` ago. */
  | { kind: "peer"; via: string; ageMs: number; connected: boolean }
  /** Nobody knows anything of this node for this resource. */
  | { kind: "none" };

/** One resource on one node, as the matrix shows it. */
export interface Cell {
  node: string;
  role: Role | null;
  state: ServiceState;
  epoch: number | null;
  source: CellSource;
}

/** A connection between two nodes for one resource, as the first one sees it. */
export interface Link {
  from: string;
  to: string;
  connected: boolean;
  /** Since when `to` is not heard (ms), when it is not connected; null if never heard. */
  silentMs: number | null;
}

/** One node's own view of a resource, with its durations moved to `now`. */
export interface NodeView {
  node: string;
  stale: boolean;
  status: ResourceStatus;
}

/** A resource across the cluster. */
export interface ResourceRow {
  name: string;
  /** One per node of {@link ClusterModel.nodes}, in the same order. */
  cells: Cell[];
  /** Each answering node's own view (durations interpolated to `now`). */
  views: NodeView[];
  /** The node every fresh source calls primary, or null when none or several. */
  primary: string | null;
  /** Nodes with a primary role in some view (two is worth a warning). */
  primaries: string[];
  /** The primary's lease; `stale` when from the last answer of a daemon that went away. */
  lease: {
    holder: string;
    held: boolean;
    remainingMs: number | null;
    lengthMs: number;
    stale: boolean;
  } | null;
  /** Complaints as each secondary counts them. */
  complaints: {
    node: string;
    count: number;
    threshold: number;
    windowMs: number;
    from: string[];
  }[];
  /** A secondary waiting to take over. */
  takeover: { node: string; silenceMs: number; waitMs: number; leftMs: number } | null;
  links: Link[];
  attempts: { node: string; used: number; max: number }[];
  /** Hooks running now; `member` is the group member a start, stop or probe runs for. */
  hooks: { node: string; method: string; member: string | null; runningMs: number }[];
  lastTransition: {
    node: string;
    from: Role;
    to: Role;
    epoch: number;
    reason: string;
    agoMs: number;
  } | null;
  explanations: { node: string; text: string }[];
}

/** A daemon in the header. */
export interface DaemonSummary {
  id: string;
  node: string | null;
  phase: DaemonSnapshot["phase"];
  error: string | null;
  /** How long it has been unreachable (ms), or null. */
  downForMs: number | null;
  pid: number | null;
  /** The daemon sheds optional work (it runs late: notifications dropped, probes slowed). */
  shedding: boolean;
}

/** The whole console. */
export interface ClusterModel {
  nodes: string[];
  resources: ResourceRow[];
  daemons: DaemonSummary[];
  /** Events of every daemon, oldest first. */
  events: DaemonEvent[];
}

/** How many merged events the model keeps. */
export const MODEL_EVENTS = 200;

/** Build the console's model from the daemons' snapshots at time `now` (console clock). */
export function buildModel(daemons: readonly DaemonSnapshot[], now: number): ClusterModel {
  const answered = daemons.filter((d) => d.status !== null && d.receivedAt !== null);
  const nodeSet = new Set<string>();
  const resourceSet = new Set<string>();
  for (const d of answered) {
    nodeSet.add(d.status!.node);
    for (const r of d.status!.resources) {
      resourceSet.add(r.resource);
      for (const p of r.peers) nodeSet.add(p.node);
    }
  }
  const nodes = [...nodeSet].sort();
  const resources = [...resourceSet].sort().map((name) => resourceRow(name, nodes, answered, now));
  return {
    nodes,
    resources,
    daemons: daemons.map((d) => ({
      id: d.id,
      node: d.status?.node ?? null,
      phase: d.phase,
      error: d.error,
      downForMs: d.downSince === null ? null : Math.max(0, now - d.downSince),
      pid: d.status?.pid ?? null,
      // What an unreachable daemon said last is no news of its load now.
      shedding: d.phase === "connected" && (d.status?.load?.shedding ?? false),
    })),
    events: mergeEvents(daemons),
  };
}

/**
 * Every daemon's events in one list, oldest first, without repeats, and
 * without the log line that echoes each transition (the core logs a role
 * change and emits it as a transition: the console shows it once).
 */
export function mergeEvents(daemons: readonly DaemonSnapshot[]): DaemonEvent[] {
  const seen = new Set<string>();
  const all: DaemonEvent[] = [];
  for (const d of daemons) {
    const transitions = new Set(
      d.events.filter((e) => e.kind === "transition").map((e) =>
        `${e.node}\0${e.resource}\0${e.seq}`
      ),
    );
    const echoes = (e: DaemonEvent) =>
      e.kind === "log" && e.message.startsWith("role ") &&
      [e.seq - 1, e.seq + 1].some((n) => transitions.has(`${e.node}\0${e.resource}\0${n}`));
    for (const e of d.events) {
      if (echoes(e)) continue;
      const key = `${e.node}\0${e.seq}\0${e.time}`;
      if (seen.has(key)) continue;
      seen.add(key);
      all.push(e);
    }
  }
  all.sort((a, b) => a.time < b.time ? -1 : a.time > b.time ? 1 : a.node < b.node ? -1 : 1);
  return all.slice(-MODEL_EVENTS);
}

/**
 * A status view moved on by `elapsed` ms since it was answered. Only what
 * grows until an event changes it moves: a silence (a takeover countdown, a
 * disconnected peer), the time since a transition or a failover, a running
 * hook, a restart window or a pingpong mark running out. What heartbeats renew without any event (a held lease, a grant, a
 * connected peer) stays as last answered: counting it down would show a
 * healthy lease running out between two answers.
 */
export function advance(st: ResourceStatus, elapsed: number): ResourceStatus {
  const e = Math.max(0, elapsed);
  return {
    ...st,
    takeover: st.takeover && { ...st.takeover, silenceMs: st.takeover.silenceMs + e },
    hook: st.hook && { ...st.hook, runningMs: st.hook.runningMs + e },
    peers: st.peers.map((p) => ({
      ...p,
      lastHeardAgoMs: p.lastHeardAgoMs === null || p.connected
        ? p.lastHeardAgoMs
        : p.lastHeardAgoMs + e,
    })),
    lastTransition: st.lastTransition && {
      ...st.lastTransition,
      agoMs: st.lastTransition.agoMs + e,
    },
    failover: st.failover && { ...st.failover, agoMs: st.failover.agoMs + e },
    members: st.members.map((m) => ({
      ...m,
      restarts: {
        ...m.restarts,
        resetsInMs: m.restarts.resetsInMs === null ? null : Math.max(0, m.restarts.resetsInMs - e),
      },
    })),
    pingpong: st.pingpong.map((p) => ({ ...p, remainingMs: p.remainingMs - e }))
      .filter((p) => p.remainingMs > 0),
  };
}

function resourceRow(
  name: string,
  nodes: string[],
  daemons: readonly DaemonSnapshot[],
  now: number,
): ResourceRow {
  // Each daemon's own view of this resource, moved to now.
  const views: NodeView[] = [];
  for (const d of daemons) {
    const st = d.status!.resources.find((r) => r.resource === name);
    if (!st) continue;
    // Two daemons claiming one node (a mistake in --socket): the answering one wins.
    const twin = views.findIndex((v) => v.node === st.node);
    const view = {
      node: st.node,
      stale: d.phase !== "connected",
      status: advance(st, now - d.receivedAt!),
    };
    if (twin < 0) views.push(view);
    else if (views[twin].stale && !view.stale) views[twin] = view;
  }
  const ageOf = (d: DaemonSnapshot) => Math.max(0, now - d.receivedAt!);
  const cells = nodes.map((node) => cellOf(node, name, daemons, ageOf));
  const fresh = views.filter((v) => !v.stale);
  // Primaries by live knowledge (own daemon answering, or a peer connected to it) first; the
  // last known ones only when nothing live says so.
  const claim = (live: boolean) =>
    cells.filter((c) => c.role === "primary" && isLive(c) === live).map((c) => c.node);
  const primaries = claim(true).length > 0 ? claim(true) : claim(false);
  const primary = primaries.length === 1 ? primaries[0] : null;
  const holderView = fresh.find((v) => v.status.role === "primary") ??
    views.find((v) => v.status.role === "primary");
  const lease = holderView?.status.lease
    ? {
      holder: holderView.node,
      held: holderView.status.lease.held,
      remainingMs: holderView.status.lease.remainingMs,
      lengthMs: holderView.status.lease.lengthMs,
      stale: holderView.stale,
    }
    : null;
  const waiting = views.filter((v) => v.status.takeover !== null);
  const takeover = waiting.length === 0 ? null : (() => {
    const v = waiting.find((w) => !w.stale) ?? waiting[0];
    const t = v.status.takeover!;
    return {
      node: v.node,
      silenceMs: t.silenceMs,
      waitMs: t.waitMs,
      leftMs: Math.max(0, t.waitMs - t.silenceMs),
    };
  })();
  let last: ResourceRow["lastTransition"] = null;
  for (const v of views) {
    const t = v.status.lastTransition;
    if (t && (last === null || t.agoMs < last.agoMs)) last = { node: v.node, ...t };
  }
  return {
    name,
    cells,
    views,
    primary,
    primaries,
    lease,
    complaints: views.filter((v) => v.status.role === "secondary").map((v) => ({
      node: v.node,
      ...v.status.complaints,
    })),
    takeover,
    links: views.flatMap((v) =>
      v.status.peers.map((p) => ({
        from: v.node,
        to: p.node,
        connected: p.connected,
        silentMs: p.connected ? null : p.lastHeardAgoMs,
      }))
    ),
    attempts: views.filter((v) => v.status.role === "primary").map((v) => ({
      node: v.node,
      ...v.status.attempts,
    })),
    hooks: views.filter((v) => v.status.hook !== null).map((v) => ({
      node: v.node,
      method: v.status.hook!.method,
      member: v.status.hook!.member,
      runningMs: v.status.hook!.runningMs,
    })),
    lastTransition: last,
    // A daemon that went away explains nothing any more.
    explanations: fresh.flatMap((v) =>
      v.status.explanations.map((text) => ({ node: v.node, text }))
    ),
  };
}

/** Whether a cell's knowledge is current: its own daemon answers, or a peer is connected to it. */
export function isLive(cell: Cell): boolean {
  return cell.source.kind === "own" || (cell.source.kind === "peer" && cell.source.connected);
}

/** The best knowledge of `node`'s role for `resource`. */
function cellOf(
  node: string,
  resource: string,
  daemons: readonly DaemonSnapshot[],
  ageOf: (d: DaemonSnapshot) => number,
): Cell {
  let best: Cell = { node, role: null, state: "unknown", epoch: null, source: { kind: "none" } };
  let bestAge = Infinity;
  for (const d of daemons) {
    const st = d.status!.resources.find((r) => r.resource === resource);
    if (!st) continue;
    if (st.node === node) {
      const ageMs = ageOf(d);
      if (d.phase === "connected") {
        // The node's own daemon, answering: nothing is better.
        return {
          node,
          role: st.role,
          state: st.state,
          epoch: st.epoch,
          source: { kind: "own", ageMs },
        };
      }
      if (ageMs < bestAge) {
        bestAge = ageMs;
        best = {
          node,
          role: st.role,
          state: st.state,
          epoch: st.epoch,
          source: { kind: "stale", ageMs },
        };
      }
      continue;
    }
    const p: PeerStatus | undefined = st.peers.find((q) => q.node === node);
    if (!p || p.lastHeardAgoMs === null) continue;
    const ageMs = p.lastHeardAgoMs + ageOf(d);
    if (ageMs < bestAge) {
      bestAge = ageMs;
      best = {
        node,
        role: p.role,
        state: p.state,
        epoch: p.epoch,
        source: {
          kind: "peer",
          via: st.node,
          ageMs,
          connected: p.connected && d.phase === "connected",
        },
      };
    }
  }
  return best;
}
