/**
 * The matrix of resources × nodes: per cell the role, the service state and
 * the epoch; dimmed when the knowledge is a peer's (~, with its age once the
 * peer lost the node too) or the last answer of a daemon that went away
 * (last …); ✗ when nothing live vouches for it.
 */
import { Box, Text } from "ink";
import { type Cell, type ClusterModel, isLive } from "../model.ts";
import { freshness, roleColor, shortState } from "../format.ts";

/** Props of {@link Matrix}. */
export interface MatrixProps {
  model: ClusterModel;
  selected: number;
  width: number;
  /** Lines available, the column titles included. */
  height: number;
}

const NAME_WIDTH = 10;

/** One line per resource, the selected one marked; scrolls to keep the selection visible. */
export function Matrix({ model, selected, width, height }: MatrixProps) {
  const cellWidth = Math.max(
    8,
    Math.floor((width - NAME_WIDTH - 2) / Math.max(1, model.nodes.length)),
  );
  const rows = Math.max(1, height - 1);
  const first = Math.min(
    Math.max(0, selected - rows + 1),
    Math.max(0, model.resources.length - rows),
  );
  const shown = model.resources.slice(first, first + rows);
  if (model.resources.length === 0) {
    const why = model.daemons.filter((d) => d.error !== null).map((d) => d.error!);
    return (
      <Box width={width} height={Math.max(height, 1 + why.length)} flexDirection="column">
        <Text dimColor>no resources yet: waiting for a daemon to answer</Text>
        {why.map((w) => <Text key={w} color="red" wrap="truncate">{w}</Text>)}
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Box>
        <Box width={NAME_WIDTH + 2}>
          <Text bold>RESOURCE</Text>
        </Box>
        {model.nodes.map((n) => (
          <Box key={n} width={cellWidth}>
            <Text bold wrap="truncate">{n}</Text>
          </Box>
        ))}
      </Box>
      {shown.map((row, i) => {
        const isSelected = first + i === selected;
        return (
          <Box key={row.name}>
            <Box width={NAME_WIDTH + 2}>
              <Text inverse={isSelected} wrap="truncate">
                {`${isSelected ? "▶" : " "} ${row.name}`.padEnd(NAME_WIDTH + 1)}
              </Text>
            </Box>
            {row.cells.map((c) => (
              <Box key={c.node} width={cellWidth}>
                <CellText cell={c} />
              </Box>
            ))}
          </Box>
        );
      })}
    </Box>
  );
}

/** One cell: role, state, epoch and, unless its own daemon answers, how old the knowledge is. */
export function CellText({ cell }: { cell: Cell }) {
  if (cell.source.kind === "none" || cell.role === null) {
    return (
      <Text dimColor wrap="truncate">{cell.source.kind === "none" ? "—" : "? (no role)"}</Text>
    );
  }
  const live = isLive(cell);
  const age = freshness(cell);
  // A watchdog (or an idle node) runs nothing: its service state says nothing.
  const state = cell.role === "primary" || cell.role === "secondary" || cell.state !== "unknown"
    ? ` ${shortState(cell.state)}`
    : "";
  return (
    <Text wrap="truncate" dimColor={cell.source.kind !== "own"}>
      {live ? "" : <Text color="red">✗</Text>}
      <Text color={roleColor(cell.role)} bold={live}>{cell.role}</Text>
      {`${state} e${cell.epoch ?? "?"}`}
      {age ? ` ${age}` : ""}
    </Text>
  );
}
