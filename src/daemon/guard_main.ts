/**
 * Entry of the guard process (see guard.ts):
 * `guard_main.ts [--log PATH] [--log-format text|json] [--node NAME] [--grace-ms N] [-d]...`,
 * commands on stdin.
 * The single-file forms run it as `hastmon guard …` (main.ts hands that to
 * {@link guardMain} before loading the command line); from source the daemon
 * runs this file itself (self.ts, `guardFromSource`), so that Deno does not
 * resolve and keep the module graph of every command for the guard's life.
 */
import { runGuard } from "./guard.ts";
import { DEFAULT_GRACE_MS } from "./hooks.ts";
import { LOG_FORMATS, type LogFormat, Logger, QueuedSink } from "./log.ts";
import { openNoFollowSync } from "./safe_open.ts";
import { setProcessTitle } from "./proc_title.ts";
import { keepExecutablePagesLean } from "./resident.ts";

/** Run the guard with command-line `args`; returns the exit code (64 on bad usage). */
export async function guardMain(args: string[]): Promise<number> {
  let logPath: string | undefined;
  let graceMs = DEFAULT_GRACE_MS;
  let verbosity = 0;
  let format: LogFormat = "text";
  let node: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-d") verbosity++;
    else if (arg === "--log" && i + 1 < args.length) logPath = args[++i];
    else if (arg === "--node" && i + 1 < args.length) node = args[++i];
    else if (
      arg === "--log-format" && i + 1 < args.length &&
      (LOG_FORMATS as readonly string[]).includes(args[i + 1])
    ) {
      format = args[++i] as LogFormat;
    } else if (arg === "--grace-ms" && i + 1 < args.length && Number(args[i + 1]) >= 0) {
      graceMs = Number(args[++i]);
    } else {
      console.error(`hastmon guard: bad argument ${JSON.stringify(arg)}`);
      return 64;
    }
  }
  setProcessTitle("hastmon: guard");
  // A guard that cannot open its log guards all the same, logging to stderr: one that exited
  // would be started again by its daemon, and exit again, every second, guarding nothing.
  let file: Deno.FsFile | null = null;
  let problem: string | null = null;
  if (logPath !== undefined) {
    try {
      file = openNoFollowSync(logPath, { append: true, mode: 0o640 });
    } catch (e) {
      problem = `cannot open the log ${logPath}, logging to stderr: ${(e as Error).message}`;
    }
  }
  // Never a write that waits: the guard's stops must not wait on its log.
  const logger = new Logger(new QueuedSink(file ?? Deno.stderr), {
    verbosity,
    format,
    node,
    repeatWindowMs: 60_000,
    summaryTimer: true,
  });
  logger.info(`guard started (pid ${Deno.pid}, grace ${graceMs} ms)`);
  if (problem !== null) logger.error(problem);
  // Its code stays mapped (resident.ts): only the binary's read-only data goes.
  const stopReleasing = keepExecutablePagesLean(
    { pages: "data", compactHeap: false },
    (l) => logger.debug(`guard ${l}`),
    (e) => logger.warning(`guard ${e}`),
  );
  try {
    await runGuard({ input: Deno.stdin.readable, logger, graceMs });
  } finally {
    stopReleasing();
    await logger.end(1000);
    file?.close();
  }
  return 0;
}

if (import.meta.main) {
  // Exit explicitly: a stop hook may leave processes that hold its output pipes open.
  Deno.exit(await guardMain(Deno.args));
}
