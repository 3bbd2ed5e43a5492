/** Words, colours and short forms of the console, shared by its panels (pure). */
import { formatDuration } from "../src/control/format.ts";
import type { Role, ServiceState } from "../src/core/types.ts";
import type { Cell } from "./model.ts";

export { formatDuration };

/** The colour of a role. */
export function roleColor(role: Role | null): string {
  switch (role) {
    case "primary":
      return "green";
    case "secondary":
      return "cyan";
    case "watchdog":
      return "magenta";
    default:
      return "gray";
  }
}

/** A service state in at most five characters. */
export function shortState(state: ServiceState): string {
  switch (state) {
    case "running":
      return "up";
    case "stopped":
      return "down";
    case "starting":
      return "start";
    case "stopping":
      return "stop";
    case "stop_failed":
      return "FAIL";
    default:
      return "?";
  }
}

/** How fresh a cell's knowledge is, in a few characters: "" when its own daemon answers or a peer is connected to it now. */
export function freshness(cell: Cell): string {
  switch (cell.source.kind) {
    case "own":
      return "";
    case "stale":
      return `last ${formatDuration(cell.source.ageMs)}`;
    case "peer":
      return cell.source.connected ? "~" : `~${formatDuration(cell.source.ageMs)}`;
    case "none":
      return "";
  }
}

/** The wall-clock time of an ISO timestamp as HH:MM:SS (local time). */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "--:--:--";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `count` of `needed` as dots: ●●○○. */
export function meter(count: number, needed: number): string {
  const n = Math.max(1, Math.min(needed, 12));
  const c = Math.min(count, n);
  return "●".repeat(c) + "○".repeat(n - c) + (count > n ? "+" : "");
}
