/** The help overlay: keys, the legend of the matrix, and the demo's fault keys when in the demo. */
import { Box, Text } from "ink";
import { DEMO_KEYS } from "../../src/demo/controls.ts";

/** Props of {@link Help}. */
export interface HelpProps {
  width: number;
  demo: boolean;
}

const KEYS: [string, string][] = [
  ["↑ ↓ or k j", "select a resource"],
  ["enter", "details of the selected resource (each node's own view); again to go back"],
  ["r", "change the role of the resource on a node: pick, see the plan, confirm"],
  ["s", "switch over: the primary hands over to the best connected secondary at once"],
  ["g", "give over the group (ctl giveover): to a node whose monitor_check agrees"],
  ["?", "this help; esc or ? closes it"],
  ["q, Ctrl-C", "quit"],
];

/** Keys and legend. */
export function Help({ width, demo }: HelpProps) {
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold>keys</Text>
      {KEYS.map(([k, what]) => (
        <Text key={k} wrap="truncate">
          <Text color="cyan">{k.padEnd(12)}</Text>
          {what}
        </Text>
      ))}
      {demo && (
        <>
          <Text bold>demo faults</Text>
          {DEMO_KEYS.map(([k, , what]) => (
            <Text key={k} wrap="truncate">
              <Text color="yellow">{k.padEnd(12)}</Text>
              {what}
            </Text>
          ))}
        </>
      )}
      <Text bold>matrix</Text>
      <Text wrap="truncate">role state epoch per node, from the node's own daemon;</Text>
      <Text wrap="truncate">
        ~1.2s: a peer heard it that long ago; last 3s: its daemon went away
      </Text>
    </Box>
  );
}
