/** What `hastmon config check` prints: diagnostics, a summary, and the timing rule's timelines. */

import { describePeerMode } from "./identity.ts";
import { fmt } from "../core/timing.ts";
import { formatPeerAddress } from "./address.ts";
import { describeSource } from "./checks.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { isWatchdog } from "./timing_check.ts";
import type { EffectiveConfig, LoadResult, ResourceConfig, TimelineReport } from "./types.ts";
import { commandLine } from "./values.ts";

/** Align rows of cells into columns separated by two spaces. */
export function table(rows: string[][], indent = ""): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    indent + r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}

/** The meaning of each timeline column, printed once under the tables. */
export const TIMELINE_LEGEND = table([
  ["lease", "complaint_count × heartbeat_interval: how long a primary runs on one acknowledgement"],
  [
    "self-fence",
    "(lease + stop_timeout) × (1 + clock_skew): a primary without a lease has stopped",
  ],
  [
    "takeover wait",
    "(lease + stop_timeout) × (1 + clock_skew) + timeout: silence a secondary waits out",
  ],
  ["complaints", "worst case until more than complaint_count complaints have arrived"],
  ["takeover", "worst case from the primary's death until the secondary may start the resource"],
]);

/** The timelines of one resource as a table, one row per (primary, secondary) pair. */
export function renderTimelines(res: ResourceConfig, indent = "  "): string {
  if (res.timelines.length === 0) return "";
  const wd = res.timelines[0].watchdog;
  const head = wd === null
    ? `${indent}timing (no watchdog):\n`
    : `${indent}timing (slowest watchdog ${wd.node}, every ${fmt(wd.intervalMs)}):\n`;
  const rows = [
    ["primary → secondary", "lease", "self-fence", "takeover wait", "complaints", "takeover", ""],
  ];
  for (const r of res.timelines) rows.push(timelineRow(r));
  return head + table(rows, indent + "  ");
}

function timelineRow(r: TimelineReport): string[] {
  const t = r.timeline;
  return [
    `${r.primary} → ${r.secondary ?? "(none)"}`,
    fmt(t.leaseMs),
    fmt(t.selfFenceDeadlineMs),
    fmt(t.takeoverWaitMs),
    fmt(t.complaintsReadyMs),
    fmt(t.worstTakeoverMs),
    // "ok" would claim a failover that cannot happen: the takeover column says never.
    t.errors.length > 0
      ? "REFUSED"
      : Number.isFinite(t.worstTakeoverMs)
      ? "ok"
      : "no automatic failover (no watchdog)",
  ];
}

/** A readable summary of a valid configuration as this node sees it. */
export function renderSummary(cfg: EffectiveConfig): string {
  const g = cfg.global;
  let out = `${cfg.file}: valid for node ${cfg.node} (${describeSource(cfg.nodeSource)})\n\n`;
  const key = cfg.peers.mode === "ed25519"
    ? `ed25519 key pair per node; this node's private key from ${cfg.peers.privateKeyFile}`
    : cfg.key === null
    ? "none"
    : `${cfg.key.algorithm}, secret ${
      cfg.key.secretFile === null ? "inline" : `from ${cfg.key.secretFile}`
    }`;
  const bound = Object.entries(cfg.peers.addresses).filter(([n]) => n !== cfg.node)
    .map(([n, hosts]) => `${n} from ${hosts.length > 0 ? hosts.join(", ") : "(unknown)"}`);
  out += `node ${cfg.node}\n` + table([
    ["control", g.control.path],
    ["listen", formatPeerAddress(g.listen)],
    ["state_dir", g.stateDir],
    ["metrics", g.metricsListen === null ? "off" : formatPeerAddress(g.metricsListen)],
    ["key", key],
    ["peers prove", describePeerMode(cfg.peers.mode)],
    ...(cfg.peers.mode === "ed25519" ? [] : [["names bound", bound.join("; ") || "-"]]),
  ], "  ");
  for (const res of cfg.resources) out += "\n" + renderResourceSummary(res, cfg.node);
  if (cfg.resources.some((r) => r.timelines.length > 0)) out += "\n" + TIMELINE_LEGEND;
  return out;
}

function renderResourceSummary(res: ResourceConfig, self: string): string {
  const nodes = res.nodes.map((n) => {
    const what = isWatchdog(n) ? "watchdog" : `priority ${n.priority}`;
    return `${n.node} (${what}${n.node === self ? ", this node" : ""})`;
  });
  let out = `resource ${res.name}\n  nodes: ${nodes.join(", ")}\n`;
  const me = res.self;
  if (me !== null) {
    out += `  role on start: ${me.roleOnStart}; remote: ${
      me.remote === "none" || me.remote === null
        ? "none"
        : me.remote.map(formatPeerAddress).join(", ")
    }\n`;
    for (const m of me.members) {
      const start = m.commands.start;
      const how = start === null ? "no start command" : commandLine(start.argv);
      out += `  member ${m.name}: ${how}; ${m.failoverMode}, ${m.retryCount} restarts per ${
        fmt(m.retryIntervalMs)
      }\n`;
    }
  }
  return out + renderTimelines(res);
}

/** Everything `config check` prints, split into standard output and standard error. */
export function renderCheck(result: LoadResult): { out: string; err: string } {
  let err = "";
  for (const e of result.errors) err += formatDiagnostic(e) + "\n";
  for (const w of result.warnings) err += formatDiagnostic(w, "warning") + "\n";
  if (result.errors.length === 0 && result.config !== null) {
    return { out: renderSummary(result.config), err };
  }
  // Refused: show the timelines that explain a timing refusal.
  let out = "";
  for (const res of result.config?.resources ?? []) {
    if (res.timelines.some((t) => t.timeline.errors.length > 0)) {
      out += `resource ${res.name}: timing refused\n${renderTimelines(res)}`;
    }
  }
  if (out !== "") out += "\n" + TIMELINE_LEGEND;
  const n = result.errors.length;
  err += `${n} error${n === 1 ? "" : "s"}\n`;
  return { out, err };
}
