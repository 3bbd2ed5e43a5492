/**
 * The demo's panel: who serves the page right now (the demo fetches it),
 * the faults in force, and the last failover's phases as the demo saw them:
 * the fault, the new primary's transition (from the event stream), the page
 * served again, against the takeover bound of `config check`.
 */
import { Box, Text } from "ink";
import { Spinner } from "@inkjs/ui";
import type { DaemonEvent } from "../../src/control/protocol.ts";
import { DEMO_KEYS, type DemoSnapshot } from "../../src/demo/controls.ts";
import { formatDuration } from "../format.ts";

/** Props of {@link DemoPanel}. */
export interface DemoPanelProps {
  demo: DemoSnapshot;
  events: readonly DaemonEvent[];
  width: number;
  /** Wall clock now (ms). */
  wallNow: number;
}

/** Three lines: the page, the faults, the last failover (or the keys). */
export function DemoPanel({ demo, events, width, wallNow }: DemoPanelProps) {
  if (demo.phase === "starting") {
    return (
      <Box width={width} height={3} flexDirection="column">
        <Spinner label={`starting three daemons in ${demo.dir}`} />
      </Box>
    );
  }
  if (demo.phase === "failed") {
    return (
      <Box width={width} height={3} flexDirection="column">
        <Text color="red" wrap="truncate">{`demo failed: ${demo.error}`}</Text>
      </Box>
    );
  }
  const since = formatDuration(wallNow - demo.pageSince);
  const faults = [
    ...demo.killed.map((n) => `${n} killed`),
    ...demo.frozen.map((n) => `${n} frozen`),
    ...demo.cuts.map((c) => `${c} cut`),
  ];
  return (
    <Box width={width} height={3} flexDirection="column">
      <Text wrap="truncate">
        {"page "}
        {demo.page
          ? <Text color="green" bold>{`served by ${demo.page.node}`}</Text>
          : <Text color="red" bold>no answer</Text>}
        {demo.page ? ` (epoch ${demo.page.epoch})` : ""}
        {` for ${since} · ${demo.url}`}
      </Text>
      <Text wrap="truncate">
        {"faults: "}
        <Text color={faults.length ? "yellow" : undefined}>
          {faults.length ? faults.join(", ") : "none"}
        </Text>
        {demo.notice ? <Text dimColor>{` · ${demo.notice}`}</Text> : ""}
      </Text>
      {demo.lastFault
        ? <Text wrap="truncate">{failoverLine(demo, events)}</Text>
        : (
          <Text dimColor wrap="truncate">
            {DEMO_KEYS.map(([k, label]) => `${k} ${label}`).join(" · ")}
          </Text>
        )}
    </Box>
  );
}

/** The last failover's phases, as offsets from the fault. */
export function failoverLine(demo: DemoSnapshot, events: readonly DaemonEvent[]): string {
  const f = demo.lastFault!;
  const at = new Date(f.at).toISOString();
  const promoted = events.find((e) =>
    e.kind === "transition" && e.to === "primary" && e.node !== f.node && e.time >= at
  );
  const parts = [`${f.what} ${f.node}`];
  if (promoted) {
    parts.push(`${promoted.node} primary +${formatDuration(Date.parse(promoted.time) - f.at)}`);
  }
  parts.push(
    f.servedAgainAt === null
      ? "page down"
      : `page ${f.servedBy} +${formatDuration(f.servedAgainAt - f.at)}`,
  );
  const bound = demo.boundMs === null ? "" : ` (bound ${formatDuration(demo.boundMs)})`;
  return `failover: ${parts.join(" · ")}${bound}`;
}
