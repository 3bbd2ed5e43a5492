/** What `hastmon daemon` does; loaded only when the daemon runs (ctl stays light). */
import { CliError, EX } from "./exit.ts";
import { type CliIO, stdIO } from "./io.ts";
import { type DaemonOptions, DEFAULT_PIDFILE, parsePlainDaemonArgs } from "./daemon_args.ts";
import {
  ConfigFileError,
  configPath,
  formatDiagnostic,
  loadConfig,
  usableResources,
} from "../config/mod.ts";
import { Daemon } from "../daemon/daemon.ts";
import { Guard } from "../daemon/guard_link.ts";
import { guardCommand, selfCommand } from "../daemon/self.ts";
import { FileSink, Logger, QueuedSink } from "../daemon/log.ts";
import { endThroughLog } from "../daemon/fatal.ts";
import { Pidfile, PidfileLockedError } from "../daemon/pidfile.ts";
import { StateDirInUseError } from "../daemon/state_store.ts";
import { prepareStateDir } from "../daemon/safe_open.ts";
import { markInheritedFdsCloseOnExec } from "../daemon/fds.ts";
import { ControlServer } from "../control/server.ts";
import { ControlClient } from "../control/client.ts";
import type { StatusResult } from "../control/protocol.ts";
import { HookHistograms } from "../metrics/histogram.ts";
import { renderMetrics } from "../metrics/render.ts";
import { type MetricsServer, serveMetrics } from "../metrics/server.ts";
import { keepExecutablePagesLean } from "../daemon/resident.ts";

/** Identical log records within this window are summarised (src/daemon/log.ts). */
const REPEAT_WINDOW_MS = 60_000;

/**
 * `hastmon daemon ARGS` without the command line's parser (daemon_args.ts):
 * the exit status, or null when ARGS are not all plain (the command line then
 * reads and explains them).
 */
export async function daemonMain(
  args: readonly string[],
  io: CliIO = stdIO,
): Promise<number | null> {
  const opts = parsePlainDaemonArgs(args);
  if (opts === null) return null;
  try {
    await runDaemon(opts, io);
    return EX.OK;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    io.err(`hastmon: ${e.message}\n`);
    return e.code;
  }
}

/** Run the daemon (or start it in the background) with the parsed options. */
export async function runDaemon(opts: DaemonOptions, io: CliIO): Promise<void> {
  const path = configPath(opts.config);
  let result;
  try {
    result = await loadConfig(path, { node: opts.node });
  } catch (e) {
    if (e instanceof ConfigFileError) throw new CliError(e.message, EX.NOINPUT);
    throw e;
  }
  for (const e of result.errors) io.err(formatDiagnostic(e) + "\n");
  const usable = usableResources(result);
  if (!result.config || usable.length === 0) {
    throw new CliError(`${path}: no resource this node can run`, EX.CONFIG);
  }
  const cfg = result.config;
  const verbosity = typeof opts.debug === "number" ? opts.debug : 1;
  if (!opts.foreground && !Deno.env.get("HASTMON_DAEMONIZED")) {
    return await daemonize(
      cfg.global.control.path,
      opts.pidfile ?? DEFAULT_PIDFILE,
      usable[0].name,
      io,
    );
  }
  const logPath = opts.foreground ? null : opts.log ?? `${cfg.global.stateDir}/hastmon.log`;
  try {
    await prepareStateDir(cfg.global.stateDir);
  } catch (e) {
    throw new CliError(`cannot use state_dir: ${(e as Error).message}`, EX.CANTCREAT);
  }
  // Before the guard or any hook is spawned: they must not inherit what we inherited.
  const fds = markInheritedFdsCloseOnExec();
  // The foreground daemon's stderr (a terminal, journald's socket, a pipe) may stop draining:
  // a write that waited froze the daemon, and its guard then stopped every service it ran.
  // Queued, the daemon goes on and counts what did not fit (QueuedSink). A log file is
  // written as it comes: a disk that hangs it hangs the state_dir's writes all the same.
  // The bound (4 Mi characters) holds a burst: a failover of a thousand resources logs several
  // thousand lines within seconds on a saturated machine.
  let sink: FileSink | QueuedSink;
  try {
    sink = logPath ? new FileSink(logPath) : new QueuedSink(Deno.stderr, 4 << 20);
  } catch (e) {
    throw new CliError(`cannot open the log: ${(e as Error).message}`, EX.CANTCREAT);
  }
  const format = opts.logFormat ?? "text";
  const logger = new Logger(sink, {
    verbosity,
    format,
    node: cfg.node,
    repeatWindowMs: REPEAT_WINDOW_MS,
    summaryTimer: true,
  });
  if (fds.error) logger.warning(`hooks may inherit this daemon's descriptors: ${fds.error}`);
  else if (fds.marked.length > 0) {
    logger.info(
      `open file descriptors ${fds.marked.join(", ")} (inherited, or the runtime's own) ` +
        `were marked close-on-exec: hooks and services will not get them`,
    );
  }
  // What is queued is written before the process ends (a log that does not drain gets a second).
  const closeLog = () => logger.end(1000);
  let pidfile: Pidfile;
  try {
    pidfile = await Pidfile.acquire(opts.pidfile ?? DEFAULT_PIDFILE);
  } catch (e) {
    await closeLog();
    if (e instanceof PidfileLockedError) throw new CliError(e.message, EX.UNAVAILABLE);
    throw new CliError(`cannot create pidfile: ${(e as Error).message}`, EX.CANTCREAT);
  }
  const guard = Guard.spawn({
    command: [...guardCommand(), "--log-format", format, "--node", cfg.node],
    logPath: logPath ?? undefined,
    verbosity,
    stderr: opts.foreground ? "inherit" : "null",
    respawn: true,
  });
  let exit!: (code: number) => void;
  const exited = new Promise<number>((r) => exit = r);
  let daemon: Daemon | undefined;
  let control: ControlServer | undefined;
  let metrics: MetricsServer | null = null;
  const hookDurations = new HookHistograms();
  try {
    daemon = await Daemon.start(cfg, {
      configPath: path,
      node: opts.node,
      logger,
      guard,
      onExit: (code) => exit(code),
      onHookRun: (resource, method, ms) => hookDurations.observe(resource, method, ms),
    });
    control = await ControlServer.listen(
      cfg.global.control.path,
      daemon.control,
      (level, msg) => logger.log(level, `control: ${msg}`),
    );
    const at = cfg.global.metricsListen;
    if (at) {
      const d = daemon;
      metrics = listenMetrics(
        at,
        () => renderMetrics(d.control.status().result, hookDurations.snapshot()),
      );
      logger.info(`metrics served at http://${at.host}:${metrics.port}/metrics`);
    }
  } catch (e) {
    await control?.close();
    // The daemon may already be starting its resources (a lone node starts at once): it
    // stops them its own way (a start is cancelled, then stopped) before it goes. Closing
    // the guard alone left a start running beside the guard's stop, and its service behind.
    if (daemon) {
      daemon.shutdown(`start-up failed: ${(e as Error).message}`);
      await exited;
    }
    await guard.close().catch(() => {});
    await pidfile.release();
    await closeLog();
    // Another daemon on this state_dir is like another on this pidfile: not ours to fix.
    const code = e instanceof StateDirInUseError ? EX.UNAVAILABLE : EX.CANTCREAT;
    throw new CliError(`cannot start: ${(e as Error).message}`, code);
  }
  logger.info(`control socket ${cfg.global.control.path} ready (pid ${Deno.pid})`);
  const stopReleasing = keepExecutablePagesLean(
    { pages: "all", compactHeap: true },
    (l) => logger.debug(l),
    (e) => logger.warning(e),
  );
  // From here on an error nothing caught ends the daemon through its log (fatal.ts). Before,
  // during start-up, it goes to stderr as Deno prints it: a background start forwards that to
  // the command that started it.
  endThroughLog(logger, EX.SOFTWARE);
  const onTerm = () => daemon.shutdown("SIGTERM");
  const onInt = () => daemon.shutdown("SIGINT");
  const onHup = () => {
    const why = sink instanceof FileSink ? sink.reopen() : null;
    if (why !== null) logger.error(`cannot reopen the log, writing on here: ${why}`);
    daemon.reload();
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGHUP", onHup);
  const code = await exited;
  stopReleasing();
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGHUP", onHup);
  await control!.close();
  await metrics?.close();
  // After a clean shutdown nothing is armed (the guard exits at once); otherwise the
  // guard finishes the job on its own.
  if (code === 0) await guard.close().catch(() => {});
  else await guard.abandon();
  await pidfile.release();
  await closeLog();
  Deno.exit(code);
}

/** Serve the metrics on `at`; a refusal to bind names the setting. */
function listenMetrics(at: { host: string; port: number; text: string }, render: () => string) {
  try {
    return serveMetrics({ host: at.host, port: at.port, render });
  } catch (e) {
    throw new Error(`metrics_listen ${at.text}: ${(e as Error).message}`);
  }
}

/** The argv of the background daemon, started for the command line `args`. */
export function backgroundArgs(args: readonly string[]): string[] {
  const command = args[0] === "daemon" ? [...args] : ["daemon", ...args];
  return [...selfCommand(), ...command];
}

/**
 * The pid of the daemon answering at `path`, from its status of `resource`
 * alone (one resource: the answer stays small with a thousand); null when
 * none answers within `timeoutMs`.
 */
async function controlPid(path: string, resource: string, timeoutMs: number) {
  const client = await ControlClient.connect(path, { timeoutMs }).catch(() => null);
  if (client === null) return null;
  try {
    const answer = await client.request({ type: "status", resources: [resource] });
    // An error answer (a resource unknown to another daemon there) still carries the status.
    const result = answer.result as StatusResult | undefined;
    return typeof result?.pid === "number" ? result.pid : null;
  } catch {
    return null;
  } finally {
    await client.close();
  }
}

/**
 * Start a detached copy of this command in the foreground mode's code path,
 * then wait until its control socket answers (or it dies) so that errors are
 * reported here, with the right exit status.
 */
async function daemonize(
  controlPath: string,
  pidPath: string,
  resource: string,
  io: CliIO,
): Promise<void> {
  const [program, ...args] = backgroundArgs(Deno.args);
  const child = new Deno.Command(program, {
    args,
    env: { HASTMON_DAEMONIZED: "1" },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let done: Deno.CommandStatus | null = null;
  child.status.then((s) => done = s);
  // Collect what the child says while it starts; stop listening once it runs.
  let errText = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const reading = (async () => {
    for (;;) {
      const { value, done: end } = await reader.read().catch(() => ({ value: "", done: true }));
      if (end) return;
      errText += value;
    }
  })();
  const deadline = Date.now() + 15_000;
  let seen = `its pidfile ${pidPath} not written`;
  while (Date.now() < deadline) {
    if (done) {
      await reading;
      io.err(errText);
      throw new CliError(
        "daemon exited during start-up",
        (done as Deno.CommandStatus).code || EX.SOFTWARE,
      );
    }
    try {
      // Ours is up when it holds the pidfile and the socket's daemon says it is ours: another
      // daemon may answer at that path (one on another pidfile, whose state_dir ours is then
      // refused, exit 69).
      const pid = Number((await Deno.readTextFile(pidPath)).trim());
      if (pid !== child.pid) throw new Error("not yet");
      seen = `no answer at ${controlPath}`;
      const answering = await controlPid(controlPath, resource, Math.max(deadline - Date.now(), 1));
      if (answering !== null) {
        seen = `${controlPath} answered by pid ${answering}, not ${child.pid}`;
      }
      if (answering !== child.pid) throw new Error("not yet");
      await reader.cancel().catch(() => {});
      child.unref();
      io.out(`hastmon daemon started (pid ${child.pid})\n`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Not left running behind an error: the operator would start another.
  if (!done) child.kill("SIGTERM");
  await reader.cancel().catch(() => {});
  throw new CliError(`daemon not ready within 15 s (${seen}); stopped it`, EX.SOFTWARE);
}
