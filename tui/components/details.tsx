/**
 * The selected resource in detail: the lease (as a bar), complaints against
 * their threshold, the takeover countdown, links that are down, start
 * attempts and running hooks, the last transition, the last failover's
 * phases, a group's state, members, restart budgets, request under way and
 * pingpong marks, and every status explanation. Compact under the matrix; `full` (enter) adds each node's own
 * view with all its peers.
 */
import type { ReactNode } from "react";
import { Box, Text } from "ink";
import { ProgressBar } from "@inkjs/ui";
import type { FailoverStatus, MemberStatus, PingpongStatus } from "../../src/core/status.ts";
import type { NodeView, ResourceRow } from "../model.ts";
import { formatDuration, meter, roleColor } from "../format.ts";

/** Props of {@link Details}. */
export interface DetailsProps {
  row: ResourceRow | null;
  width: number;
  height: number;
  full: boolean;
}

/** The details pane; lines beyond `height` are cut, the most important come first. */
export function Details({ row, width, height, full }: DetailsProps) {
  if (!row) {
    return (
      <Box width={width} height={height}>
        <Text dimColor>no resource selected</Text>
      </Box>
    );
  }
  const lines: ReactNode[] = [
    <LeaseLine key="lease" row={row} width={width} />,
    ...complaintLines(row),
    <LinksLine key="links" row={row} />,
    ...activityLines(row),
    ...(row.lastTransition ? [<TransitionLine key="last" row={row} />] : []),
    ...failoverLines(row),
    ...groupLines(row),
    ...(full ? row.views.flatMap((v) => nodeLines(v)) : []),
    ...row.explanations.map((e, i) => (
      <Text key={`note${i}`} wrap="truncate">
        <Text dimColor>{`${e.node}: `}</Text>
        {e.text}
      </Text>
    )),
  ];
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {lines.slice(0, height)}
    </Box>
  );
}

function LeaseLine({ row, width }: { row: ResourceRow; width: number }) {
  const lease = row.lease;
  const head = (
    <Text bold>
      {`${row.name} `}
    </Text>
  );
  if (!lease) {
    return (
      <Text wrap="truncate">
        {head}
        {row.primaries.length === 0
          ? "no primary: no lease held"
          : `${row.primaries.join(", ")} primary: its lease is known to its own daemon only`}
      </Text>
    );
  }
  if (!lease.held) {
    return (
      <Text wrap="truncate">
        {head}
        <Text color="green">{lease.holder}</Text>
        {` is primary, waiting for a lease (length ${formatDuration(lease.lengthMs)})`}
      </Text>
    );
  }
  const left = lease.remainingMs;
  const barWidth = Math.max(6, Math.min(20, width - 50));
  return (
    <Box gap={1}>
      <Text wrap="truncate">
        {head}
        <Text color="green">{lease.holder}</Text>
        {lease.stale ? " lease (last known)" : " lease"}
      </Text>
      {left !== null && (
        <Box width={barWidth}>
          <ProgressBar value={(left / lease.lengthMs) * 100} />
        </Box>
      )}
      <Text wrap="truncate">
        {left === null
          ? "held (forced: no lease protects it)"
          : `${formatDuration(left)} of ${formatDuration(lease.lengthMs)}`}
      </Text>
    </Box>
  );
}

function complaintLines(row: ResourceRow): ReactNode[] {
  return row.complaints.map((c) => {
    const needed = c.threshold + 1;
    const waiting = row.takeover?.node === c.node ? row.takeover : null;
    return (
      <Text key={`complaints-${c.node}`} wrap="truncate">
        <Text color="cyan">{c.node}</Text>
        {" complaints "}
        <Text color={c.count >= needed ? "red" : c.count > 0 ? "yellow" : undefined}>
          {meter(c.count, needed)}
        </Text>
        {` ${c.count} of ${needed} needed in ${formatDuration(c.windowMs)}`}
        {c.from.length > 0 ? ` from ${c.from.join(", ")}` : ""}
        {waiting && c.count >= needed
          ? (
            <Text color="yellow">
              {` · takeover in ${formatDuration(waiting.leftMs)}`}
            </Text>
          )
          : ""}
      </Text>
    );
  });
}

function LinksLine({ row }: { row: ResourceRow }) {
  const down = row.links.filter((l) => !l.connected);
  if (row.links.length === 0) return <Text dimColor>links: none reported</Text>;
  if (down.length === 0) return <Text wrap="truncate">links: all connected</Text>;
  return (
    <Text wrap="truncate">
      {"links down: "}
      <Text color="red">
        {down.map((l) =>
          `${l.from}✗${l.to} ${l.silentMs === null ? "never heard" : formatDuration(l.silentMs)}`
        ).join(", ")}
      </Text>
    </Text>
  );
}

function activityLines(row: ResourceRow): ReactNode[] {
  const parts = [
    ...row.attempts.filter((a) => a.used > 0).map((a) =>
      `${a.node} start attempts ${a.used}/${a.max}`
    ),
    ...row.hooks.map((h) =>
      `${h.node} ${h.method}${h.member && h.member !== row.name ? ` of ${h.member}` : ""} ` +
      `running ${formatDuration(h.runningMs)}`
    ),
  ];
  return parts.length === 0 ? [] : [
    <Text key="activity" wrap="truncate" color="yellow">{parts.join(" · ")}</Text>,
  ];
}

function TransitionLine({ row }: { row: ResourceRow }) {
  const t = row.lastTransition!;
  return (
    <Text wrap="truncate">
      {`last: ${t.node} ${t.from} → `}
      <Text color={roleColor(t.to)}>{t.to}</Text>
      {` e${t.epoch}, ${formatDuration(t.agoMs)} ago: ${t.reason}`}
    </Text>
  );
}

/**
 * A failover in one line of 80 columns: the kind, who from and to, how long
 * ago it was detected, and each later phase as an offset from the detection
 * (… while not reached).
 */
export function failoverText(node: string, f: FailoverStatus): string {
  const at = (ms: number | null) => ms === null ? "…" : `+${formatDuration(ms)}`;
  const p = f.phases;
  return `${f.kind} ${f.from ?? "?"}→${node} ${formatDuration(f.agoMs)} ago: ` +
    `decided ${at(p.decidedMs)} · old out ${at(p.oldStoppedMs)} · started ${at(p.startedMs)}`;
}

function failoverLines(row: ResourceRow): ReactNode[] {
  const latest = row.views.filter((v) => v.status.failover)
    .sort((a, b) => a.status.failover!.agoMs - b.status.failover!.agoMs)[0];
  if (!latest) return [];
  const f = latest.status.failover!;
  const inProgress = f.phases.oldStoppedMs === null || f.phases.startedMs === null;
  return [
    <Text key="failover" wrap="truncate" color={inProgress ? "yellow" : undefined}>
      {failoverText(latest.node, f)}
    </Text>,
  ];
}

/** A member in a few words: its RESOURCE_STATE, what its monitor says, its restart budget. */
function memberText(m: MemberStatus): string {
  const r = m.restarts;
  const parts = [
    // A member still counted as started, though not running: it may have processes left.
    m.dirty && m.state !== "running" && m.resourceState === "OFFLINE"
      ? "OFFLINE (not stopped since its start)"
      : m.resourceState,
    ...(m.status !== "OK" && m.status !== "UNKNOWN"
      ? [`${m.status}${m.statusMessage ? ` "${m.statusMessage}"` : ""}`]
      : []),
    ...(r.used > 0
      ? [
        `restarts ${r.used}/${r.max}${
          r.resetsInMs === null ? "" : `, resets in ${formatDuration(r.resetsInMs)}`
        }`,
      ]
      : []),
  ];
  return `${m.name} ${parts.join(" ")}`;
}

/**
 * Each node's group: its RG_STATE and members, when the resource is a group
 * (one member named after the resource is the resource itself) or the group
 * is in trouble; the request under way (scha_control); and the pingpong
 * marks that keep a giveover off a node, in red.
 */
function groupLines(row: ResourceRow): ReactNode[] {
  const out: ReactNode[] = [];
  for (const v of row.views) {
    const st = v.status;
    const group = st.members.length > 1 ||
      (st.members.length === 1 && st.members[0].name !== row.name);
    const calm = st.rgState === "ONLINE" || st.rgState === "OFFLINE";
    if (group || !calm) {
      out.push(
        <Text key={`members-${v.node}`} wrap="truncate">
          <Text dimColor>{`${v.node} `}</Text>
          <Text color={calm ? undefined : "yellow"}>{st.rgState}</Text>
          {group ? `: ${st.members.map(memberText).join(" · ")}` : ""}
        </Text>,
      );
    }
    if (st.request) {
      const q = st.request;
      out.push(
        <Text key={`request-${v.node}`} wrap="truncate" color="yellow">
          {`${v.node}: ${q.optag}${q.member ? ` of ${q.member}` : ""}${
            q.target ? ` to ${q.target}` : ""
          } under way (${q.phase})`}
        </Text>,
      );
    }
  }
  // Every node of the group keeps the same marks: each shown once, the longest left.
  const marks = new Map<string, PingpongStatus>();
  for (const v of row.views) {
    for (const p of v.status.pingpong) {
      const key = `${p.node}\0${p.member}`;
      if ((marks.get(key)?.remainingMs ?? -1) < p.remainingMs) marks.set(key, p);
    }
  }
  for (const [key, p] of marks) {
    out.push(
      <Text key={`pingpong-${key}`} wrap="truncate" color="red">
        {`pingpong: ${p.member && p.member !== row.name ? `${p.member} of ` : ""}${row.name} ` +
          `may not go back to ${p.node} for ${formatDuration(p.remainingMs)}`}
      </Text>,
    );
  }
  return out;
}

/** Each node's own view, in full mode. */
function nodeLines(v: NodeView): ReactNode[] {
  const st = v.status;
  const peers = st.peers.map((p) =>
    `${p.node} ${p.connected ? "connected" : "disconnected"}${
      p.lastHeardAgoMs === null
        ? " (never heard)"
        : ` (heard ${formatDuration(p.lastHeardAgoMs)} ago)`
    } ${p.role ?? "?"} e${p.epoch}`
  ).join(", ");
  const grant = st.grant
    ? ` · grants ${st.grant.holder} e${st.grant.epoch} for ${formatDuration(st.grant.remainingMs)}`
    : "";
  return [
    <Text key={`node-${v.node}`} wrap="truncate">
      <Text bold color={roleColor(st.role)}>{`${v.node}${v.stale ? " (last known)" : ""}`}</Text>
      {` ${st.role} ${st.state} epoch ${st.epoch}${
        st.maxEpoch > st.epoch ? ` (highest seen ${st.maxEpoch})` : ""
      } priority ${st.priority}${grant}`}
    </Text>,
    <Text key={`peers-${v.node}`} wrap="truncate" dimColor>{`  peers: ${peers || "none"}`}</Text>,
  ];
}
