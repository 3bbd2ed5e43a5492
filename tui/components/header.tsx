/** The top line: the console's title and each daemon's connection, as badges. */
import { Box, Text } from "ink";
import { Badge, Spinner } from "@inkjs/ui";
import type { DaemonSummary } from "../model.ts";
import { formatDuration } from "../format.ts";

/** Props of {@link Header}. */
export interface HeaderProps {
  title: string;
  daemons: readonly DaemonSummary[];
  width: number;
}

/** A daemon's name for the header: its node, else the socket's file name. */
export function daemonLabel(d: DaemonSummary): string {
  return d.node ?? d.id.split("/").at(-1) ?? d.id;
}

/**
 * Title, then one badge per daemon: connected (yellow while it sheds load),
 * connecting (spinner) or unreachable for how long.
 */
export function Header({ title, daemons, width }: HeaderProps) {
  return (
    <Box width={width} gap={1} overflow="hidden">
      <Text bold>{title}</Text>
      {daemons.map((d) => (
        <Box key={d.id} gap={0}>
          {
            /* A Text child: Badge upper-cases plain strings, and node names are case-sensitive. */
          }
          {d.phase === "connected" && (
            <Badge color={d.shedding ? "yellow" : "green"}>
              <Text>{d.shedding ? `${daemonLabel(d)} shedding load` : daemonLabel(d)}</Text>
            </Badge>
          )}
          {d.phase === "connecting" && <Spinner label={daemonLabel(d)} />}
          {d.phase === "unreachable" && (
            <Badge color="red">
              <Text>{`${daemonLabel(d)} unreachable ${formatDuration(d.downForMs ?? 0)}`}</Text>
            </Badge>
          )}
        </Box>
      ))}
    </Box>
  );
}
