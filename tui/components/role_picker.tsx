/** The choice of a node and a role for `r`, before its plan is shown. */
import { Box, Text } from "ink";
import { Select } from "@inkjs/ui";
import type { RoleChoice } from "../plan.ts";

/** Props of {@link RolePicker}. */
export interface RolePickerProps {
  resource: string;
  choices: readonly RoleChoice[];
  width: number;
  onPick: (choice: RoleChoice) => void;
}

/** A list of "node: from → to"; ↑↓ and enter pick, esc closes. */
export function RolePicker({ resource, choices, width, onPick }: RolePickerProps) {
  const options = choices.map((c, i) => ({
    label: `${c.node}: ${c.from ?? "?"} → ${c.to}`,
    value: String(i),
  }));
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold>{`change the role of ${resource} · ↑↓ enter · esc closes`}</Text>
      {options.length === 0
        ? <Text color="yellow">no node of {resource} has a daemon this console reaches</Text>
        : (
          <Select
            options={options}
            visibleOptionCount={8}
            onChange={(v) => onPick(choices[Number(v)])}
          />
        )}
    </Box>
  );
}
