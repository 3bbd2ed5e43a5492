/**
 * The one hook runner (PRODUCT.md §3.4). Every hook — start, stop, status, the
 * notifications, panic, fence, and the guard's stops — runs through
 * {@link runHook}:
 *
 * - its own session and process group, so a timeout or a shutdown kills the
 *   whole tree the hook made: SIGTERM to the group, then SIGKILL to the group
 *   after the grace, and the run ends only once the group is gone;
 * - spawned off the event loop: glibc's posix_spawn on a thread of Deno's
 *   blocking pool, in a session of its own (native_spawn.ts). Where that cannot
 *   load, `Deno.Command` through util-linux `setsid` (Deno's `detached` forks
 *   the whole daemon: about 6 ms of daemon CPU per hook here), which holds the
 *   event loop until the hook has been exec'd;
 * - the timeout counts from before the spawn: an exec from a hung file system
 *   returns when it likes;
 * - stdin is /dev/null; stdout and stderr are read line by line into a `log`
 *   callback, bounded in size;
 * - the run ends when the hook process itself ends, not when its pipes close:
 *   a start script that backgrounds a service (`svc &`) leaves the service
 *   holding the pipes, and must still return at once.
 *
 * What happens to such background processes' output: the pipes are drained for
 * a few milliseconds so the hook's own last lines are logged before the result,
 * and are then *kept being read* (within the same size bound, then discarded)
 * until the last holder closes them. Closing our end instead would kill a
 * chatty service with SIGPIPE, and leaving it unread would block it once the
 * pipe buffer fills. `HookResult.outputClosed` settles when that happens. A
 * service that outlives the daemon loses its reader all the same, so start
 * scripts should redirect a service's output, as init scripts do
 * (`svc >>/var/log/svc.log 2>&1 &`).
 *
 * Unlike the original (hastmon-behaviour.md §1.4, §3.5) a hook that is killed,
 * times out or cannot be executed never reads as exit 0.
 */
import type { HookMethod, HookOutcome, Role } from "../core/types.ts";
import { readLines } from "./lines.ts";
import { after, delay, raceTimeout, settledSoon } from "../wire/deadlines.ts";
import { type ExitStatus, nativeSpawner, type Spawned } from "./native_spawn.ts";

/** Time between SIGTERM and SIGKILL of a hook's process group, unless configured. */
export const DEFAULT_GRACE_MS = 2000;

/** Characters of one run's output passed to `log` (stdout and stderr together); the rest is dropped. */
export const DEFAULT_MAX_OUTPUT_CHARS = 64 * 1024;

/** Longest line passed to `log`; longer lines are cut. */
export const MAX_LINE_CHARS = 4096;

/** How long to wait for a finished hook's last output lines before returning. */
const DRAIN_MS = 25;

/** How often a terminated group is probed while waiting out the grace. */
const GROUP_POLL_MS = 10;

/**
 * `ms` as a setTimeout delay. Timers fire at once on delays beyond 2^31-1 ms;
 * clamped, a huge timeout means "practically never", as intended.
 */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(ms, 0), 2 ** 31 - 1);
}

/** The stream a line of hook output came from. */
export type HookStream = "stdout" | "stderr";

/** Receives hook output, one line at a time, without the newline. */
export type HookLog = (stream: HookStream, line: string) => void;

/** What to run and how to supervise it. */
export interface HookSpec {
  /** argv: the program (a path, or a name looked up in PATH) and its arguments. */
  command: readonly string[];
  /** The hook's whole environment (see hook_hygiene.ts): nothing of the daemon's is inherited. */
  env: Record<string, string>;
  /** After this, SIGTERM to the group; the outcome is `timeout`. */
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL of the group. */
  graceMs: number;
  /** Working directory; "/" by default, as a daemon's hooks had in the original. */
  cwd?: string;
  /** Aborting kills the group like a timeout does (used on shutdown); the outcome is `killed`. */
  signal?: AbortSignal;
  /** Told the hook's pid (its process group once it runs) right after the spawn. */
  onSpawn?: (pid: number) => void;
  /** Called once the spawn is over, whether the hook was started or not (the spawn queue's pace). */
  spawned?: () => void;
  /** Hook output, line by line. Also called after the run ends, for output of processes it left behind. */
  log?: HookLog;
  /** Bound on characters passed to `log` for this run; {@link DEFAULT_MAX_OUTPUT_CHARS} by default. */
  maxOutputChars?: number;
}

/** How a hook run ended. */
export interface HookResult {
  outcome: HookOutcome;
  /** From spawn to the end of the hook process (or of its group, when it was killed). */
  durationMs: number;
  /**
   * Settles when nothing holds the hook's stdout and stderr any more. Usually
   * already settled; pending while processes the hook started in the
   * background keep them open. Never rejects.
   */
  outputClosed: Promise<void>;
}

/**
 * The argv of a hastmon-style `exec` script: `exec EVENT RESOURCE [args]`
 * (hastmon-behaviour.md §1.4; `role` gets the old and the new role as extra).
 */
export function execArgv(
  execPath: string,
  method: HookMethod,
  resource: string,
  extra: readonly string[] = [],
): string[] {
  return [execPath, method, resource, ...extra];
}

/** Who and what a hook runs for; becomes its HASTMON_* environment. */
export interface HookContext {
  resource: string;
  /** The member; the resource's own name when it has only `exec`. */
  member: string;
  node: string;
  role: Role;
  epoch: number;
  /** The method; `validate` runs outside the core (config check, reload). */
  event: HookMethod | "validate";
}

/** The HASTMON_* variables every hook gets (PRODUCT.md §3.4). */
export function hookEnv(ctx: HookContext): Record<string, string> {
  return {
    HASTMON_RESOURCE: ctx.resource,
    // Solaris's -G and -R, for fault monitors written for scha_control.
    HASTMON_GROUP: ctx.resource,
    HASTMON_MEMBER: ctx.member,
    HASTMON_NODE: ctx.node,
    HASTMON_ROLE: ctx.role,
    HASTMON_EPOCH: String(ctx.epoch),
    HASTMON_EVENT: ctx.event,
  };
}

/**
 * Run one hook to its end under a timeout (see the module comment). Never
 * throws: a hook that cannot be started comes back as `{kind: "error"}`.
 */
export async function runHook(
  spec: HookSpec,
  spawn: Spawn = defaultSpawn(),
): Promise<HookResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const [program, ...args] = spec.command;
  const notStarted = (message: string) => {
    spec.spawned?.();
    return failed(message, elapsed());
  };
  if (program === undefined || program === "") return notStarted("empty command");
  if (spec.signal?.aborted) return notStarted(NOT_STARTED_ABORTED);

  // The timeout and an abort count from before the spawn: the spawn returns once the hook
  // has been exec'd, and an exec from a hung file system can take any time.
  let group: ProcessGroup | null = null;
  let cause: "timeout" | "abort" | null = null;
  const stop = (why: "timeout" | "abort") => {
    cause ??= why;
    group?.terminate();
  };
  // On the shared timer: a probe's timeouts, nearly always cleared, cost no wake-up each.
  const cancelTimeout = after(timerDelay(spec.timeoutMs), () => stop("timeout"));
  const onAbort = () => stop("abort");
  spec.signal?.addEventListener("abort", onAbort, { once: true });
  // A leader that even SIGKILL cannot end (stuck in the kernel, e.g. a hung NFS
  // unmount), or a spawn that never returns, must not block its lane forever: past
  // timeout + grace + 1 s it counts as timed out, and the caller moves on (to panic,
  // for a stop).
  const hardMs = spec.timeoutMs + spec.graceMs + 1000;
  let cancelHard = () => {};
  const hardDeadline = new Promise<null>((resolve) => {
    cancelHard = after(timerDelay(hardMs), () => resolve(null));
  });
  const over = () => {
    cancelHard();
    cancelTimeout();
    spec.signal?.removeEventListener("abort", onAbort);
  };

  let spawning: Promise<Spawned> | undefined;
  let child: Spawned | null;
  try {
    spawning = spawn(program, args, spec.env, spec.cwd ?? "/");
    child = await Promise.race([spawning, hardDeadline]);
  } catch (e) {
    over();
    return failed(e instanceof Error ? e.message : String(e), elapsed());
  } finally {
    spec.spawned?.();
  }
  if (child === null) {
    over();
    // Given up: should it ever be started, it is killed the moment we hear of it. (Between its
    // exec and then it runs, unsupervised: only an exec that hung past timeout + grace + 1 s and
    // then returned gets there.)
    spawning!.then((late) => {
      new ProcessGroup(late.pid, 0).kill();
      late.stdout.cancel().catch(() => {});
      late.stderr.cancel().catch(() => {});
    }, () => {});
    return { outcome: { kind: "timeout" }, durationMs: elapsed(), outputClosed: Promise.resolve() };
  }

  const budget = new OutputBudget(spec.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS, spec.log);
  const outputClosed = Promise.all([
    pump(child.stdout, "stdout", budget),
    pump(child.stderr, "stderr", budget),
  ]).then(() => {});

  spec.onSpawn?.(child.pid);
  const leader = new ProcessGroup(child.pid, spec.graceMs);
  group = leader;
  child.status.then(() => leader.leaderExited = true, () => {});
  // Timed out or aborted while it was being spawned: terminated at once; killed at once when
  // the grace would run past the hard deadline, after which the run is reported over.
  if (cause !== null) {
    if (hardMs - (performance.now() - started) <= spec.graceMs) leader.kill();
    else leader.terminate();
  }

  const status = await Promise.race([child.status, hardDeadline]);
  over();
  if (status === null) return { outcome: { kind: "timeout" }, durationMs: elapsed(), outputClosed };
  // A terminated hook is over only when its whole group is: a grandchild that
  // ignores SIGTERM must not outlive the run.
  if (cause !== null) await leader.awaitGone();
  const durationMs = elapsed();
  await settledWithin(outputClosed, DRAIN_MS);
  return { outcome: outcomeOf(status, cause), durationMs, outputClosed };
}

/**
 * Start `program` (a path, or a name looked up in the hook's PATH) with stdin
 * /dev/null and stdout and stderr piped, or throw why it cannot be executed.
 */
export type Spawn = (
  program: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
) => Promise<Spawned>;

/** glibc's posix_spawn off the event loop (native_spawn.ts) where it loads, else Deno.Command. */
export function defaultSpawn(): Spawn {
  return nativeSpawner() === null ? commandSpawn : nativeSpawn;
}

/** Through native_spawn.ts: the hook itself is exec'd, in a session of its own. */
export const nativeSpawn: Spawn = (program, args, env, cwd) => {
  const native = nativeSpawner();
  if (native === null) return Promise.reject(new Error("native spawn is not available here"));
  try {
    const path = executablePath(program, cwd, env.PATH ?? Deno.env.get("PATH"));
    return native.spawn({ path, argv: [program, ...args], env, cwd });
  } catch (e) {
    return Promise.reject(e);
  }
};

/**
 * Through `Deno.Command`, which holds the event loop until the child has run
 * exec; util-linux `setsid` gives the hook its session (Deno's `detached`
 * forks the whole daemon, the fallback where `setsid` is missing).
 */
export const commandSpawn: Spawn = (program, args, env, cwd) => {
  try {
    const setsid = setsidPath();
    // setsid cannot report an exec failure other than by an exit code: check first, so a
    // missing or non-executable hook is an error that says so.
    if (setsid !== null) executablePath(program, cwd, env.PATH ?? Deno.env.get("PATH"));
    const child = new Deno.Command(setsid ?? program, {
      args: setsid === null ? [...args] : [program, ...args],
      env,
      // Only what the caller gives: the daemon's own environment is not the hooks' business.
      clearEnv: true,
      cwd,
      detached: setsid === null,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return Promise.resolve(child);
  } catch (e) {
    return Promise.reject(e);
  }
};

let setsidCache: string | null | undefined;

/** util-linux `setsid`, or null when this system has none. */
function setsidPath(): string | null {
  if (setsidCache === undefined) {
    setsidCache = ["/usr/bin/setsid", "/bin/setsid"].find((p) => isExecutableFile(p)) ?? null;
  }
  return setsidCache;
}

/**
 * The file `program` names: itself when it has a slash (from `cwd` when
 * relative), else the first executable of that name in `path`, as execvp
 * looks. Throws why it cannot be executed: not found, or without any execute
 * bit. Finer permission failures still surface from the spawn.
 */
function executablePath(program: string, cwd: string, path: string | undefined): string {
  const base = cwd.replace(/\/$/, "");
  if (program.includes("/")) {
    const full = program.startsWith("/") ? program : `${base}/${program}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(full);
    } catch (e) {
      throw new Error(`cannot execute ${program}: ${(e as Error).message}`);
    }
    if (!info.isFile || ((info.mode ?? 0) & 0o111) === 0) {
      throw new Error(`cannot execute ${program}: permission denied (not an executable file)`);
    }
    return full;
  }
  const dirs = (path ?? "/usr/bin:/bin").split(":").map((d) => d === "" ? "." : d);
  for (const d of dirs) {
    const full = d.startsWith("/") ? `${d}/${program}` : `${base}/${d}/${program}`;
    if (isExecutableFile(full)) return full;
  }
  throw new Error(`cannot execute ${program}: not found in PATH`);
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The outcome's message of a hook cancelled before it was started. */
export const NOT_STARTED_ABORTED = "not started: aborted";

function failed(message: string, durationMs: number): HookResult {
  return { outcome: { kind: "error", message }, durationMs, outputClosed: Promise.resolve() };
}

function outcomeOf(status: ExitStatus, cause: "timeout" | "abort" | null): HookOutcome {
  if (cause === "timeout") return { kind: "timeout" };
  if (cause === "abort") return { kind: "killed", signal: status.signal ?? "SIGTERM" };
  if (status.signal !== null) return { kind: "killed", signal: status.signal };
  return { kind: "exit", code: status.code };
}

/** A hook's process group: SIGTERM now, SIGKILL after the grace. */
class ProcessGroup {
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  #killed = false;
  /** Once reaped, the leader's pid may be reused: it is never signalled alone again. */
  leaderExited = false;

  constructor(readonly pgid: number, readonly graceMs: number) {}

  /** SIGKILL to the group now, with no grace. */
  kill(): void {
    clearTimeout(this.#killTimer);
    this.#killed = true;
    this.#signal("SIGKILL");
  }

  terminate(): void {
    if (this.#killTimer !== undefined || this.#killed) return;
    this.#signal("SIGTERM");
    this.#killTimer = setTimeout(() => {
      this.#killed = true;
      this.#signal("SIGKILL");
    }, timerDelay(this.graceMs));
  }

  /**
   * After the leader ended: wait until no process of the group is left, or
   * until the SIGKILL. Not waiting after SIGKILL: it cannot be caught, and
   * unreaped zombies (under an init that does not reap) stay group members.
   */
  async awaitGone(): Promise<void> {
    while (!this.#killed && this.#exists()) await delay(GROUP_POLL_MS);
    // A group that is gone is not signalled later: its id may be reused.
    clearTimeout(this.#killTimer);
  }

  #exists(): boolean {
    try {
      Deno.kill(-this.pgid, 0);
      return true;
    } catch {
      return false;
    }
  }

  #signal(sig: Deno.Signal): void {
    try {
      Deno.kill(-this.pgid, sig);
    } catch {
      // No such group: it is gone, or its leader has not yet called setsid() (a
      // signal sent right after the spawn). Then the leader alone is all there is.
      if (this.leaderExited) return;
      try {
        Deno.kill(this.pgid, sig);
      } catch {
        // Gone.
      }
    }
  }
}

/** Shared size bound of one run's logged output. */
class OutputBudget {
  #left: number;
  #exhausted = false;

  constructor(readonly maxChars: number, readonly log: HookLog | undefined) {
    this.#left = maxChars;
  }

  line(stream: HookStream, text: string): void {
    if (this.#exhausted || this.log === undefined) return;
    const size = text.length + 1;
    if (size > this.#left) {
      this.#exhausted = true;
      this.log(stream, `[hastmon: output beyond ${this.maxChars} characters dropped]`);
      return;
    }
    this.#left -= size;
    this.log(stream, text);
  }
}

/** Read a stream to its end, passing lines to the budget. Never rejects. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  name: HookStream,
  budget: OutputBudget,
): Promise<void> {
  try {
    for await (const line of readLines(stream, MAX_LINE_CHARS)) budget.line(name, line);
  } catch {
    // A read error ends this stream's output; the outcome does not depend on it.
  }
}

/** Wait for `p`, but no longer than `ms`. */
async function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  if (await settledSoon(p, "pending") === "pending") await raceTimeout(p, ms);
}
