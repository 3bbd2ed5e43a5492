/** The bottom line: the outcome of the last action, a request still waiting, or the key hints. */
import { Text } from "ink";
import { Spinner, StatusMessage } from "@inkjs/ui";

/** A message for the footer. */
export interface Notice {
  variant: "info" | "success" | "error" | "warning";
  text: string;
}

const HINTS = "↑↓ select · ⏎ details · r role · s switch over · g give over · ? help · q quit";
/** The demo's panel lists its keys; the footer only points at them (g is in the help). */
const DEMO_HINTS = "↑↓ select · ⏎ details · r role · s switch over · ? help · q quit · 1-6 faults";

/** Props of {@link Footer}. */
export interface FooterProps {
  notice: Notice | null;
  /** The title of a plan sent and not answered yet. */
  sending?: string | null;
  demo: boolean;
}

/** The notice if any, else the request waiting, else the keys. */
export function Footer({ notice, sending, demo }: FooterProps) {
  if (notice) return <StatusMessage variant={notice.variant}>{notice.text}</StatusMessage>;
  if (sending) return <Spinner label={`waiting for the answer to: ${sending}`} />;
  return (
    <Text dimColor wrap="truncate">
      {demo ? DEMO_HINTS : HINTS}
    </Text>
  );
}
