/**
 * The daemon's status view (`ctl status`'s, src/core/status.ts) and its hook
 * histograms in the Prometheus text exposition format, version 0.0.4: one
 * more rendering of the one status view. Pure: no I/O, no clock.
 *
 * Every sample carries `node` and, per resource, `resource`. A role or a
 * service state is a gauge with a label, 1 for the current one and 0 for the
 * others, so that `hastmon_role{role="primary"} == 1` selects primaries.
 * Counters end in `_total`; durations are in seconds. Failover phase timings
 * appear once this node has made a failover (the status view's `failover`).
 */
import type { StatusResult } from "../control/protocol.ts";
import type { FailoverStatus, ResourceStatus } from "../core/status.ts";
import { MEMBER_STATUSES, ROLES } from "../core/types.ts";
import { type HistogramSnapshot, HOOK_BUCKETS_S } from "./histogram.ts";

/** The Content-Type of {@link renderMetrics}' output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Service states, in the order samples are written. */
const SERVICE_STATES = [
  "unknown",
  "starting",
  "running",
  "stopping",
  "stopped",
  "stop_failed",
] as const;

/** Phase label values, in order, and the status view's field for each. */
const PHASES: readonly [string, keyof FailoverStatus["phases"]][] = [
  ["detected", "detectedMs"],
  ["decided", "decidedMs"],
  ["old_stopped", "oldStoppedMs"],
  ["started", "startedMs"],
];

type Labels = Record<string, string>;

/** A metric family being written. */
class Family {
  readonly lines: string[];

  constructor(readonly name: string, type: "gauge" | "counter" | "histogram", help: string) {
    this.lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
  }

  sample(labels: Labels, value: number, suffix = ""): void {
    this.lines.push(`${this.name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

/** `status` and `hooks` as one exposition, ending with a newline. */
export function renderMetrics(status: StatusResult, hooks: readonly HistogramSnapshot[]): string {
  const node = status.node;
  const fam = {
    info: new Family("hastmon_build_info", "gauge", "hastmon's version on this node; always 1."),
    uptime: new Family("hastmon_uptime_seconds", "gauge", "Seconds since this daemon started."),
    shedding: new Family(
      "hastmon_shedding",
      "gauge",
      "1 while this node sheds optional work (it runs late): notifications dropped, probes slowed.",
    ),
    lag: new Family(
      "hastmon_lag_seconds",
      "gauge",
      "The worst lateness of this node's timer (a busy or starved event loop) in the last 10 s.",
    ),
    hookWait: new Family(
      "hastmon_hook_wait_seconds",
      "gauge",
      "The longest a hook waited to be started (the spawn queue) within the last 10 seconds.",
    ),
    dropped: new Family(
      "hastmon_notifications_dropped_total",
      "counter",
      "Notification hooks (role, connect, disconnect, complain) dropped: over the budget, or shedding.",
    ),
    deferred: new Family(
      "hastmon_probes_deferred_total",
      "counter",
      "Routine status probes postponed (up to one probe interval) while this node shed load.",
    ),
    logLost: new Family(
      "hastmon_log_lines_lost_total",
      "counter",
      "Log lines this daemon could not write (its log's disk full, its stderr closed...).",
    ),
    role: new Family(
      "hastmon_role",
      "gauge",
      "The resource's role on this node: 1 for the current role, 0 for the others.",
    ),
    state: new Family(
      "hastmon_service_state",
      "gauge",
      "The service's state on this node: 1 for the current state, 0 for the others.",
    ),
    epoch: new Family(
      "hastmon_epoch",
      "gauge",
      "The resource's epoch on this node (raised by every promotion; the fencing token).",
    ),
    leaseHeld: new Family(
      "hastmon_lease_held",
      "gauge",
      "1 when this node is primary and holds a lease (or was forced), else 0.",
    ),
    leaseLeft: new Family(
      "hastmon_lease_remaining_seconds",
      "gauge",
      "Seconds left on this node's lease (0 without one, +Inf when forced primary).",
    ),
    peers: new Family(
      "hastmon_peers",
      "gauge",
      "Other nodes of the resource this node exchanges messages with.",
    ),
    connected: new Family(
      "hastmon_peers_connected",
      "gauge",
      "Peers heard from within the liveness window.",
    ),
    peerUp: new Family(
      "hastmon_peer_connected",
      "gauge",
      "1 when the peer has been heard from within the liveness window, else 0.",
    ),
    complaints: new Family(
      "hastmon_complaints",
      "gauge",
      "Watchdog complaints received within complaint_interval.",
    ),
    threshold: new Family(
      "hastmon_complaint_threshold",
      "gauge",
      "complaint_count: a secondary takes over after more complaints than this.",
    ),
    attempts: new Family(
      "hastmon_start_attempts",
      "gauge",
      "Start attempts used on this node since the service last ran.",
    ),
    attemptsMax: new Family(
      "hastmon_start_attempts_limit",
      "gauge",
      "attempts: start attempts before the primary gives up on this node.",
    ),
    groupState: new Family(
      "hastmon_group_state",
      "gauge",
      "The group's RG_STATE on this node: 1 for the current state (a label), 0 for none.",
    ),
    restarts: new Family(
      "hastmon_member_restarts",
      "gauge",
      "Restarts of a member on this node within its retry_interval (NUM_RESOURCE_RESTARTS).",
    ),
    restartsMax: new Family(
      "hastmon_member_restarts_limit",
      "gauge",
      "retry_count: restarts of a member within retry_interval before the group is given over.",
    ),
    groupRestarts: new Family(
      "hastmon_group_restarts",
      "gauge",
      "scha_control RESTARTs of the group on this node within the member's retry_interval.",
    ),
    memberStatus: new Family(
      "hastmon_member_status",
      "gauge",
      "A member's STATUS (scha_resource_setstatus or the built-in monitor): 1 for the current one.",
    ),
    monitored: new Family(
      "hastmon_member_monitored",
      "gauge",
      "1 while the built-in monitor probes the member, 0 once it quit (RESTART_ONLY, LOG_ONLY).",
    ),
    hooks: new Family(
      "hastmon_hook_duration_seconds",
      "histogram",
      "Duration of each hook command run, by method (start, stop, status, role, ...).",
    ),
    phase: new Family(
      "hastmon_last_failover_phase_seconds",
      "gauge",
      "Seconds from the start of the last failover to each phase (detected, decided, " +
        "old_stopped, started), as measured by this node.",
    ),
    failoverAge: new Family(
      "hastmon_last_failover_age_seconds",
      "gauge",
      "Seconds since the last failover this node took part in began.",
    ),
  };
  fam.info.sample({ node, version: status.version }, 1);
  fam.uptime.sample({ node }, status.uptimeMs / 1000);
  fam.shedding.sample({ node }, status.load.shedding ? 1 : 0);
  fam.lag.sample({ node }, status.load.lagMs / 1000);
  fam.hookWait.sample({ node }, status.load.hookWaitMs / 1000);
  fam.dropped.sample({ node }, status.load.notificationsDropped);
  fam.deferred.sample({ node }, status.load.probesDeferred);
  fam.logLost.sample({ node }, status.log?.linesLost ?? 0);
  for (const st of status.resources) renderResource(fam, st);
  for (const h of hooks) {
    const labels = { node, resource: h.resource, method: h.method };
    let cumulative = 0;
    HOOK_BUCKETS_S.forEach((bound, i) => {
      cumulative += h.counts[i];
      fam.hooks.sample({ ...labels, le: String(bound) }, cumulative, "_bucket");
    });
    fam.hooks.sample({ ...labels, le: "+Inf" }, h.count, "_bucket");
    fam.hooks.sample(labels, h.sumSeconds, "_sum");
    fam.hooks.sample(labels, h.count, "_count");
  }
  return Object.values(fam).map((f) => f.lines.join("\n")).join("\n") + "\n";
}

function renderResource(fam: Record<string, Family>, st: ResourceStatus): void {
  const labels = { node: st.node, resource: st.resource };
  for (const role of ROLES) fam.role.sample({ ...labels, role }, st.role === role ? 1 : 0);
  for (const state of SERVICE_STATES) {
    fam.state.sample({ ...labels, state }, st.state === state ? 1 : 0);
  }
  fam.epoch.sample(labels, st.epoch);
  const lease = st.lease;
  fam.leaseHeld.sample(labels, lease?.held ? 1 : 0);
  fam.leaseLeft.sample(
    labels,
    !lease?.held ? 0 : lease.remainingMs === null ? Infinity : lease.remainingMs / 1000,
  );
  fam.peers.sample(labels, st.peers.length);
  fam.connected.sample(labels, st.peers.filter((p) => p.connected).length);
  for (const p of st.peers) fam.peerUp.sample({ ...labels, peer: p.node }, p.connected ? 1 : 0);
  fam.complaints.sample(labels, st.complaints.count);
  fam.threshold.sample(labels, st.complaints.threshold);
  fam.attempts.sample(labels, st.attempts.used);
  fam.attemptsMax.sample(labels, st.attempts.max);
  fam.groupState.sample({ ...labels, state: st.rgState }, 1);
  for (const x of st.members) {
    const m = { ...labels, member: x.name };
    fam.restarts.sample(m, x.restarts.used);
    fam.restartsMax.sample(m, x.restarts.max);
    fam.groupRestarts.sample(m, x.groupRestarts);
    for (const value of MEMBER_STATUSES) {
      fam.memberStatus.sample({ ...m, status: value }, x.status === value ? 1 : 0);
    }
    fam.monitored.sample(m, x.monitored ? 1 : 0);
  }
  const failover = st.failover;
  if (failover) {
    const f = { ...labels, kind: failover.kind, from: failover.from ?? "" };
    fam.failoverAge.sample(f, failover.agoMs / 1000);
    for (const [phase, field] of PHASES) {
      const ms = failover.phases[field];
      if (typeof ms === "number") fam.phase.sample({ ...f, phase }, ms / 1000);
    }
  }
}

/** `{a="x",b="y"}`, values escaped as the format asks (backslash, quote, newline). */
function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A sample value: integers as such, others to the millisecond, and ±Inf, NaN by name. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}
