/** The live event log of every daemon, newest at the bottom, coloured by level. */
import { Box, Text } from "ink";
import type { DaemonEvent } from "../../src/control/protocol.ts";
import { clockTime } from "../format.ts";

/** Props of {@link EventLog}. */
export interface EventLogProps {
  events: readonly DaemonEvent[];
  width: number;
  height: number;
}

const LEVEL_COLOR: Record<DaemonEvent["level"], string | undefined> = {
  error: "red",
  warning: "yellow",
  info: undefined,
  debug: "gray",
};

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/g;

/** One event as the log shows it, on one line: time, node, resource, then what happened and why. */
export function eventText(e: DaemonEvent): string {
  const what = e.kind === "transition" && e.from && e.to
    ? `${e.from} → ${e.to}${e.epoch === undefined ? "" : ` e${e.epoch}`}: ${e.reason ?? e.message}`
    : e.kind === "log"
    ? e.message
    : `${e.kind}: ${e.message}`;
  return `${clockTime(e.time)} ${e.node} ${e.resource ?? "-"} ${what}`.replace(CONTROL_CHARS, " ");
}

/** The last `height - 1` events under a title line. */
export function EventLog({ events, width, height }: EventLogProps) {
  const shown = events.slice(-Math.max(0, height - 1));
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text bold>events</Text>
      {shown.length === 0 && <Text dimColor>none yet</Text>}
      {shown.map((e) => (
        <Text
          key={`${e.node}-${e.seq}-${e.time}`}
          wrap="truncate"
          color={e.kind === "transition" ? "cyan" : LEVEL_COLOR[e.level]}
        >
          {eventText(e)}
        </Text>
      ))}
    </Box>
  );
}
