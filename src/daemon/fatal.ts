/**
 * The daemon's end on an error nothing caught. It ends as it always did (its
 * guard then stops what it ran, and its peers take over), but through its
 * log: a background daemon's stderr goes nowhere, and a foreground one's
 * queued lines, the context of the error, would be lost with the process.
 */
import type { Logger } from "./log.ts";

/**
 * From now on, an uncaught error or unhandled rejection is logged as
 * `fatal: <stack>`, then the log gets `flushMs` to write what it queued
 * ({@link Logger.end}), then the process exits with `code`. An event another listener already
 * handled (preventDefault) is left alone.
 */
export function endThroughLog(
  logger: Logger,
  code: number,
  flushMs = 500,
): void {
  const fatal = (e: ErrorEvent | PromiseRejectionEvent) => {
    if (e.defaultPrevented) return;
    e.preventDefault();
    const error = e instanceof ErrorEvent ? e.error : e.reason;
    logger.error(`fatal: ${error instanceof Error ? error.stack ?? error.message : error}`);
    logger.end(flushMs).finally(() => Deno.exit(code));
  };
  globalThis.addEventListener("error", fatal);
  globalThis.addEventListener("unhandledrejection", fatal);
}
