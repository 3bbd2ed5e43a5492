/**
 * Entry of the guard process (see guard.ts):
 * `guard_main.ts [--log PATH] [--log-format text|json] [--node NAME] [--grace-ms N] [-d]...`,
 * commands on stdin.
 * A single binary calls {@link guardMain} from a hidden subcommand instead.
 */
import process from "node:process";
import { runGuard } from "./guard.ts";
import { DEFAULT_GRACE_MS } from "./hooks.ts";
import { FileSink, LOG_FORMATS, type LogFormat, Logger, type LogSink, stderrSink } from "./log.ts";

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
  process.title = "hastmon: guard";
  const sink: LogSink = logPath === undefined ? stderrSink() : new FileSink(logPath);
  const logger = new Logger(sink, {
    verbosity,
    format,
    node,
    repeatWindowMs: 60_000,
    summaryTimer: true,
  });
  logger.info(`guard started (pid ${Deno.pid}, grace ${graceMs} ms)`);
  try {
    await runGuard({ input: Deno.stdin.readable, logger, graceMs });
  } finally {
    logger.close();
    sink.close();
  }
  return 0;
}

if (import.meta.main) {
  // Exit explicitly: a stop hook may leave processes that hold its output pipes open.
  Deno.exit(await guardMain(Deno.args));
}
