/**
 * A dry-run plan and its confirmation: the requests as command lines, what
 * should happen, risks and blockers. A blocked plan cannot be confirmed;
 * otherwise y sends it, n, enter or esc cancels (the default is to cancel).
 */
import { Box, Text } from "ink";
import { ConfirmInput } from "@inkjs/ui";
import type { Plan } from "../plan.ts";

/** Props of {@link PlanDialog}. */
export interface PlanDialogProps {
  plan: Plan;
  width: number;
  onConfirm: () => void;
  onCancel: () => void;
}

/** A line's label, padded to line up the texts. */
function label(word: string): string {
  return word.padEnd(8);
}

/** The plan in a box, with a y/N prompt unless blocked. */
export function PlanDialog({ plan, width, onConfirm, onCancel }: PlanDialogProps) {
  const blocked = plan.blockers.length > 0;
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold>{`plan (dry run): ${plan.title}`}</Text>
      {plan.requests.map((r) => (
        <Text key={r.daemon + r.command} wrap="truncate">
          <Text color="cyan">{label("sends")}</Text>
          {r.command}
        </Text>
      ))}
      {plan.expect.map((e) => (
        <Text key={e} wrap="wrap">
          <Text color="green">{label("expect")}</Text>
          {e}
        </Text>
      ))}
      {plan.warnings.map((w) => (
        <Text key={w} wrap="wrap">
          <Text color="yellow">{label("risk")}</Text>
          {w}
        </Text>
      ))}
      {plan.blockers.map((b) => (
        <Text key={b} wrap="wrap">
          <Text color="red">{label("blocked")}</Text>
          {b}
        </Text>
      ))}
      {blocked ? <Text dimColor>nothing will be sent · esc to close</Text> : (
        <Box gap={1}>
          <Text>send it?</Text>
          <ConfirmInput defaultChoice="cancel" onConfirm={onConfirm} onCancel={onCancel} />
        </Box>
      )}
    </Box>
  );
}
