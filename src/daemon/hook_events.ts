/**
 * Which hook outcomes the event stream reports: failures an operator should
 * see in `ctl events` and in the console. A `status` that answers "stopped"
 * (exit 1) is an answer, not a failure; every other non-zero exit, a timeout,
 * a kill and a hook that could not be started are.
 */
import { describeOutcome, type HookMethod, type HookOutcome } from "../core/types.ts";

/** The level and message of a failed hook's event, or null when the hook did its job. */
export function hookFailure(
  method: HookMethod,
  outcome: HookOutcome,
  durationMs: number,
): { level: "error" | "warning"; message: string } | null {
  if (
    outcome.kind === "exit" && (outcome.code === 0 || (method === "status" && outcome.code === 1))
  ) {
    return null;
  }
  // A start or stop that fails leaves the service in doubt; a probe or a notification less so.
  const serious = method === "start" || method === "stop" || method === "fence" ||
    method === "panic";
  return {
    level: serious ? "error" : "warning",
    message: `${method} hook failed: ${describeOutcome(outcome)} after ${
      Math.round(durationMs)
    } ms`,
  };
}
