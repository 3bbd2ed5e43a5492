/**
 * The dead man's switch. If the daemon is killed with -9 or frozen with
 * SIGSTOP, the service it started keeps running while another node takes over
 * once the lease has run out (PRODUCT.md §3.1, §3.3). The guard is a separate
 * process, in its own process group and session (so a signal to the daemon's
 * group or terminal does not reach it), fed by the daemon through a pipe on
 * its stdin, one JSON command per line:
 *
 * - `{"type":"arm","resource":R,"remainingMs":N,"stops":[H...],"stopTimeoutMs":S,
 *   "panic":H|null,"slackMs":K,"sentAt":T}` — R's service is active and its
 *   lease ends N ms after the daemon wrote this. A duration, counted from when
 *   it was written: T is the daemon's `performance.now()` then. The two
 *   processes' monotonic clocks differ by a constant offset that neither knows;
 *   the guard takes the least (its reading time − T) of every command it has
 *   read as that offset, and what a command took beyond it as its age, which
 *   it subtracts. So a command read late (a guard starved of CPU, a busy pipe)
 *   does not count as fresh; the deadline is never later than counting from
 *   the reading, and late at most by the quickest transit seen (a command
 *   without T counts from its reading). `stops` are the members' stops in the order to run
 *   them (reverse start order), all within S; K is the slack the peers' hold
 *   leaves beyond the lease and the stop (half a `timeout`).
 * - `{"type":"renew","resource":R,"remainingMs":N}` — R's lease was renewed:
 *   its deadline is N ms from now, with the stops and panic of R's last arm.
 *   A primary renews every heartbeat; a thousand full arms a second (every
 *   stop's argv and environment) cost the daemon and the guard more than all
 *   else. An R whose deadline stop the guard ran itself is watched again by
 *   a renew (the daemon, late, still holds that lease and may have started
 *   the service again); a renew of an R disarmed, never armed, or stopping
 *   changes nothing.
 * - `{"type":"stopping","resource":R,"timeoutMs":N}` — the daemon is stopping
 *   R itself: the lease deadline no longer applies, but if no disarm comes
 *   within N + K, the guard runs panic (if set). Meanwhile the guard watches
 *   the daemon: frozen (SIGSTOP) in the middle of the stop, it would never
 *   stop the members still running, so the guard runs the stops itself, in
 *   the time that is left.
 * - `{"type":"panicking","resource":R}` — the daemon runs panic itself: the
 *   guard never runs it a second time for R.
 * - `{"type":"disarm","resource":R}` — R is stopped, or not active.
 * - `{"type":"starting","resource":R,"pid":P,"since":S}` — R's start hook runs
 *   as process group P, whose leader started at S (field 22 of /proc/P/stat,
 *   so that a reused pid is never taken for it); `{"type":"started",...}` —
 *   it has ended. A stop the guard runs kills that group first: a start left
 *   running beside the stop could launch the service after it.
 *
 * H is `{"argv":[...],"env":{...},"timeoutMs":N}` (and optionally `"cwd"`); a
 * stop's own timeout gives way to the shared deadline of all stops.
 *
 * The guard acts (a) when its stdin reaches EOF — the daemon is gone (its
 * write end is close-on-exec, so no hook or service inherits it): it runs stop
 * for every resource not disarmed, stopping ones included, at once and in
 * parallel, then exits; and (b) when an armed resource's deadline passes
 * without a newer arm — the daemon is frozen or wedged: it runs stop and
 * forgets the resource. Each member's stop gets SIGTERM at 80 % of what is
 * left of S and SIGKILL at 100 %, so the whole stop is over within S; a stop
 * that does not exit 0 (failure, timeout) is followed by panic at once, when
 * one is set. So the guard's backstop ends within lease + K + S, inside the
 * peers' hold. Stops run through the one hook runner, and never overlap for
 * one resource.
 */
import { describeOutcome } from "../core/types.ts";
import type { Logger } from "./log.ts";
import { DEFAULT_GRACE_MS, type HookResult, runHook, timerDelay } from "./hooks.ts";
import { Lanes } from "../runtime/lanes.ts";
import { readLines } from "./lines.ts";
import { guardFromSource } from "./self.ts";
import { after, delay } from "../wire/deadlines.ts";

/** A hook the guard runs on the daemon's behalf (stop or panic). */
export interface GuardHook {
  argv: string[];
  env: Record<string, string>;
  timeoutMs: number;
  cwd?: string;
}

/** The daemon → guard protocol, one JSON object per line. */
export type GuardCommand =
  | {
    type: "arm";
    resource: string;
    remainingMs: number;
    stops: GuardHook[];
    stopTimeoutMs: number;
    panic: GuardHook | null;
    slackMs: number;
    sentAt?: number;
  }
  | { type: "renew"; resource: string; remainingMs: number; sentAt?: number }
  | { type: "stopping"; resource: string; timeoutMs: number; sentAt?: number }
  | { type: "panicking"; resource: string }
  | { type: "disarm"; resource: string }
  | { type: "starting"; resource: string; pid: number; since: string }
  | { type: "started"; resource: string };

/** A command read this much later than its writing is said in the log (the guard ran late). */
const LATE_COMMAND_MS = 100;
/**
 * Late commands are said together, one line at most this often: a guard starved
 * of CPU reads the renewals of every resource late at once (a thousand a second).
 */
const LATE_REPORT_MS = 1000;

/** Longest command line the guard reads; longer ones are rejected. */
const MAX_COMMAND_CHARS = 1 << 20;

/** Parse and validate one command line; throws why it is not a command. */
export function parseGuardCommand(line: string): GuardCommand {
  const data: unknown = JSON.parse(line);
  if (!isRecord(data)) throw new Error("not a JSON object");
  if (typeof data.resource !== "string" || data.resource === "") {
    throw new Error("resource must be a non-empty string");
  }
  const resource = data.resource;
  // When the daemon wrote it (its clock): optional, for a command of another writer.
  const sentAt = data.sentAt === undefined ? {} : { sentAt: duration(data.sentAt, "sentAt") };
  switch (data.type) {
    case "arm": {
      if (!Array.isArray(data.stops) || data.stops.length === 0) {
        throw new Error("stops must be a non-empty list");
      }
      return {
        type: "arm",
        resource,
        remainingMs: duration(data.remainingMs, "remainingMs"),
        stops: data.stops.map((h, i) => guardHook(h, `stops[${i}]`)),
        stopTimeoutMs: duration(data.stopTimeoutMs, "stopTimeoutMs"),
        panic: data.panic === null ? null : guardHook(data.panic, "panic"),
        slackMs: duration(data.slackMs, "slackMs"),
        ...sentAt,
      };
    }
    case "renew":
      return {
        type: "renew",
        resource,
        remainingMs: duration(data.remainingMs, "remainingMs"),
        ...sentAt,
      };
    case "panicking":
      return { type: "panicking", resource };
    case "stopping":
      return {
        type: "stopping",
        resource,
        timeoutMs: duration(data.timeoutMs, "timeoutMs"),
        ...sentAt,
      };
    case "disarm":
      return { type: "disarm", resource };
    case "starting": {
      const { pid, since } = data;
      if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) {
        throw new Error("pid must be an integer above 1");
      }
      if (typeof since !== "string" || !/^[0-9]+$/.test(since)) {
        throw new Error("since must be a string of digits");
      }
      return { type: "starting", resource, pid, since };
    }
    case "started":
      return { type: "started", resource };
    default:
      throw new Error(`unknown type ${JSON.stringify(data.type)}`);
  }
}

function guardHook(v: unknown, name: string): GuardHook {
  if (!isRecord(v)) throw new Error(`${name} must be an object`);
  const { argv, env, cwd } = v;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
    throw new Error(`${name}.argv must be a non-empty list of strings`);
  }
  if (!isRecord(env) || !Object.values(env).every((e) => typeof e === "string")) {
    throw new Error(`${name}.env must map names to strings`);
  }
  if (cwd !== undefined && typeof cwd !== "string") throw new Error(`${name}.cwd must be a string`);
  const hook: GuardHook = {
    argv,
    env: env as Record<string, string>,
    timeoutMs: duration(v.timeoutMs, `${name}.timeoutMs`),
  };
  if (cwd !== undefined) hook.cwd = cwd;
  return hook;
}

function duration(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new Error(`${name} must be a non-negative number of ms`);
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** How the guard process runs. */
export interface GuardRunOptions {
  /** The channel from the daemon (the guard's stdin). */
  input: ReadableStream<Uint8Array>;
  logger: Logger;
  /** SIGTERM → SIGKILL grace of the guard's hooks, and slack of a `stopping` deadline. */
  graceMs: number;
  /** Is the daemon stopped by a signal (SIGSTOP) now? Default: its /proc state is T. */
  daemonFrozen?: () => boolean;
}

/** How often the guard looks at a daemon that is stopping a resource. */
const FROZEN_POLL_MS = 50;

/** Is process `pid` stopped by a signal (state T or t in /proc)? False when it cannot tell. */
export function processStopped(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}

/**
 * The guard process's work: obey commands until the channel closes, then
 * stop what is still armed. Resolves once every stop (and panic) it started
 * has ended.
 */
export async function runGuard(opts: GuardRunOptions): Promise<void> {
  const parent = Deno.ppid;
  const watch = new LeaseWatch(
    opts.logger,
    opts.graceMs,
    opts.daemonFrozen ?? (() => processStopped(parent)),
  );
  try {
    // One busy channel: read in large chunks (a thousand renewals come every heartbeat).
    for await (const line of readLines(opts.input, MAX_COMMAND_CHARS, 64 * 1024)) {
      if (line.trim() === "") continue;
      let command: GuardCommand;
      try {
        command = parseGuardCommand(line);
      } catch (e) {
        opts.logger.error(`ignored a bad command (${(e as Error).message}): ${line.slice(0, 200)}`);
        continue;
      }
      watch.apply(command);
    }
  } catch (e) {
    opts.logger.error(`reading from the daemon failed: ${(e as Error).message}`);
  }
  watch.daemonGone();
  await watch.settled();
  opts.logger.info("guard exits");
}

/** What the guard knows of one resource that it may have to stop. */
interface Watched {
  stops: GuardHook[];
  stopTimeoutMs: number;
  /** Null once the daemon ran panic itself (never twice). */
  panic: GuardHook | null;
  slackMs: number;
  /** Armed (a lease deadline), or stopping (the daemon's stop deadline, then panic). */
  mode: "armed" | "stopping";
  /** Cancels the pending deadline (on the shared timer: re-arms come every heartbeat). */
  cancel: () => void;
}

/** The guard's state: the resources it watches and the stops it runs. */
class LeaseWatch {
  #watched = new Map<string, Watched>();
  /**
   * The last arm of each resource until it is disarmed or the daemon stops it:
   * a renewal of a resource whose deadline stop the guard ran itself watches it
   * again with these (the daemon never learns of that stop, and may have started
   * the service again within the same lease).
   */
  #lastArm = new Map<string, Omit<Watched, "mode" | "cancel">>();
  /** The least (reading time − sentAt) seen: the clocks' offset, plus the quickest transit. */
  #offset = Infinity;
  /** Late commands not yet said in the log: how many, the most delayed, and of which resource. */
  #late = { count: 0, worstMs: 0, resource: "" };
  #lateTimer: ReturnType<typeof setTimeout> | null = null;
  /** Start hooks still running, by resource. */
  #starts = new Map<string, { pid: number; since: string }>();
  #runs = new Lanes();
  /** Resources whose panic the daemon ran itself, until they are disarmed. */
  #panicked = new Set<string>();
  #busy = 0;
  #idle: (() => void)[] = [];

  constructor(
    readonly logger: Logger,
    readonly graceMs: number,
    readonly daemonFrozen: () => boolean = () => false,
  ) {}

  apply(command: GuardCommand): void {
    const { resource } = command;
    // Arms and renewals come every heartbeat: shown from -dd on.
    const every = command.type === "arm" || command.type === "renew";
    const detail = every
      ? ` ${Math.round(command.remainingMs)} ms`
      : command.type === "starting"
      ? ` (process group ${command.pid})`
      : "";
    this.logger.debug(`${command.type}${detail}`, resource, every ? 2 : 1);
    switch (command.type) {
      case "arm":
      case "renew":
      case "stopping":
        return this.#applyTimed(command, this.#age(command));
      case "panicking": {
        this.#panicked.add(resource);
        const watched = this.#watched.get(resource);
        if (watched !== undefined) watched.panic = null;
        return;
      }
      case "disarm":
        this.#panicked.delete(resource);
        this.#lastArm.delete(resource);
        this.#take(resource);
        return;
      case "starting":
        this.#starts.set(resource, { pid: command.pid, since: command.since });
        return;
      case "started":
        this.#starts.delete(resource);
        return;
    }
  }

  /**
   * How long ago, beyond the quickest transit seen, the daemon wrote a command
   * it stamped `sentAt` (its clock): see the module comment. 0 without a stamp.
   */
  #age(command: { resource: string; sentAt?: number }): number {
    if (command.sentAt === undefined) return 0;
    const took = performance.now() - command.sentAt; // the transit, plus the clocks' offset
    this.#offset = Math.min(this.#offset, took);
    const age = took - this.#offset;
    if (age > LATE_COMMAND_MS) this.#noteLate(command.resource, age);
    return age;
  }

  /** Count a late command; they are said in one line within {@link LATE_REPORT_MS}. */
  #noteLate(resource: string, ageMs: number) {
    const late = this.#late;
    late.count++;
    if (ageMs >= late.worstMs) {
      late.worstMs = ageMs;
      late.resource = resource;
    }
    if (this.#lateTimer !== null) return;
    this.#lateTimer = setTimeout(() => this.#reportLate(), LATE_REPORT_MS);
    Deno.unrefTimer(this.#lateTimer);
  }

  /** Say the late commands not yet said, now. */
  #flushLate() {
    if (this.#lateTimer === null) return;
    clearTimeout(this.#lateTimer);
    this.#reportLate();
  }

  #reportLate() {
    this.#lateTimer = null;
    const { count, worstMs, resource } = this.#late;
    this.#late = { count: 0, worstMs: 0, resource: "" };
    try {
      this.#sayLate(count, worstMs, resource);
    } catch {
      // A log that cannot be written (disk full, a broken stderr) must not stop the stop or
      // the panic this is said before, nor end the guard from its timer.
    }
  }

  #sayLate(count: number, worstMs: number, resource: string) {
    const ms = Math.round(worstMs);
    const why = "this guard ran late, or its pipe was full";
    if (count === 1) {
      this.logger.warning(
        `read ${ms} ms after the daemon wrote it (${why}): its durations count from the writing`,
        resource,
      );
    } else {
      this.logger.warning(
        `${count} commands read up to ${ms} ms after the daemon wrote them (${why}; the most ` +
          `delayed was of ${resource}): their durations count from the writing`,
      );
    }
  }

  /** A command whose durations count from when it was written, `ageMs` ago. */
  #applyTimed(
    command: Extract<GuardCommand, { type: "arm" | "renew" | "stopping" }>,
    ageMs: number,
  ): void {
    const { resource } = command;
    switch (command.type) {
      case "arm": {
        const armed = {
          stops: command.stops,
          stopTimeoutMs: command.stopTimeoutMs,
          panic: command.panic,
          slackMs: command.slackMs,
        };
        this.#lastArm.set(resource, armed);
        this.#watch(resource, armed, command.remainingMs - ageMs);
        return;
      }
      case "renew": {
        const watched = this.#watched.get(resource);
        if (watched?.mode === "armed") {
          watched.cancel();
          watched.cancel = this.#deadline(resource, command.remainingMs - ageMs);
          return;
        }
        const armed = this.#lastArm.get(resource);
        if (watched === undefined && armed !== undefined) {
          // Its deadline stop ran here, yet the daemon still renews the lease of that arm.
          this.logger.warning(
            "the daemon renews a lease whose deadline stop ran here: watching it again",
            resource,
          );
          this.#watch(resource, armed, command.remainingMs - ageMs);
          return;
        }
        this.logger.warning(
          `a renewal for a resource that is not armed here (${
            watched === undefined ? "never armed, or disarmed" : "it is stopping"
          }): ignored`,
          resource,
        );
        return;
      }
      case "stopping": {
        this.#lastArm.delete(resource); // the daemon's next arm is a full one
        const watched = this.#watched.get(resource);
        if (watched === undefined) return; // Not active as far as the guard knows: nothing to back up.
        watched.cancel();
        const limit = Math.max(0, command.timeoutMs + watched.slackMs - ageMs);
        watched.mode = "stopping";
        const deadline = performance.now() + limit;
        const cancelPanic = after(timerDelay(limit), () => this.#panic(resource, limit));
        // A daemon frozen in the middle of a group's stop leaves the members after the one
        // it was stopping running: look every few ms, and take over its stop if so.
        let cancelPoll = () => {};
        const poll = () => {
          if (this.daemonFrozen()) {
            this.#stop(resource, "the daemon is frozen in the middle of its stop", deadline);
            return;
          }
          cancelPoll = after(FROZEN_POLL_MS, poll);
        };
        cancelPoll = after(FROZEN_POLL_MS, poll);
        watched.cancel = () => (cancelPanic(), cancelPoll());
        return;
      }
    }
  }

  /** Watch `resource` as armed: its lease ends `remainingMs` from now. */
  #watch(resource: string, armed: Omit<Watched, "mode" | "cancel">, remainingMs: number): void {
    this.#watched.get(resource)?.cancel();
    this.#watched.set(resource, {
      ...armed,
      // A panic the daemon ran already is not run again by a later arm either.
      panic: this.#panicked.has(resource) ? null : armed.panic,
      mode: "armed",
      cancel: this.#deadline(resource, remainingMs),
    });
  }

  /** The lease deadline of an armed resource: past it, the guard stops the service. */
  #deadline(resource: string, remainingMs: number): () => void {
    return after(timerDelay(remainingMs), () => {
      this.#stop(resource, "lease deadline passed without a new arm (daemon frozen or wedged)");
    });
  }

  /** The channel closed: stop everything still watched, all at once. */
  daemonGone(): void {
    this.#flushLate(); // what was late before the daemon went still goes in the log
    const resources = [...this.#watched.keys()];
    if (resources.length > 0) this.logger.warning(`daemon gone; stopping ${resources.join(", ")}`);
    for (const resource of resources) this.#stop(resource, "the daemon is gone");
  }

  /** Settles when every stop and panic started so far has ended. */
  settled(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Run `work` in `resource`'s lane (one stop or panic at a time per resource). */
  #inLane(resource: string, work: () => Promise<void>): void {
    this.#busy++;
    this.#runs.run(resource, "control", (done) => {
      work().catch((e) => this.logger.error(`guard: ${(e as Error).message}`, resource)).finally(
        () => {
          done();
          if (--this.#busy === 0) { for (const f of this.#idle.splice(0)) f(); }
        },
      );
    });
  }

  #take(resource: string): Watched | undefined {
    const watched = this.#watched.get(resource);
    watched?.cancel();
    this.#watched.delete(resource);
    return watched;
  }

  /** Run every stop of `resource` (then panic if one failed), all done by `deadline`. */
  #stop(resource: string, why: string, deadline?: number): void {
    const watched = this.#take(resource);
    if (watched === undefined) return;
    this.#flushLate(); // a late reading that led to this stop is said before it
    this.logger.warning(`${why}: running stop`, resource);
    this.#inLane(resource, async () => {
      await this.#killStart(resource);
      // Every member's stop, in order, within one stop_timeout (or what is left of the
      // daemon's); each failure is seen.
      deadline ??= performance.now() + watched.stopTimeoutMs;
      let failed = false;
      for (const stop of watched.stops) {
        const left = Math.max(1, deadline - performance.now());
        const stopped = await this.#run(resource, "stop", stop, left * 0.8, left * 0.2);
        if (!(stopped.outcome.kind === "exit" && stopped.outcome.code === 0)) failed = true;
        // Panic at once: the peers' hold does not wait for the other members.
        if (failed && watched.panic !== null) break;
      }
      if (failed) await this.#runPanic(resource, watched.panic, "the stop did not succeed");
    });
  }

  #panic(resource: string, limitMs: number): void {
    const watched = this.#take(resource);
    if (watched === undefined) return;
    this.#flushLate();
    this.#inLane(
      resource,
      () =>
        this.#runPanic(
          resource,
          watched.panic,
          `the daemon's stop did not end within ${limitMs} ms`,
        ),
    );
  }

  /** Kill a start hook still running for `resource`, and wait (2 s at most) until it is gone. */
  async #killStart(resource: string): Promise<void> {
    const start = this.#starts.get(resource);
    this.#starts.delete(resource);
    if (start === undefined || !startHookAlive(start.pid, start.since)) return;
    this.logger.warning(
      `the start hook still runs (process group ${start.pid}): killing it before the stop`,
      resource,
    );
    for (let i = 0; i < 100 && startHookAlive(start.pid, start.since); i++) {
      killStartHook(start.pid, start.since);
      await delay(20);
    }
    if (startHookAlive(start.pid, start.since)) {
      this.logger.error(`the start hook's group ${start.pid} survived SIGKILL`, resource);
    }
  }

  async #runPanic(resource: string, panic: GuardHook | null, why: string): Promise<void> {
    if (panic === null) {
      this.logger.error(`${why} and no panic is set: the service may still be running`, resource);
      return;
    }
    this.logger.error(`${why}: running panic`, resource);
    await this.#run(resource, "panic", panic);
  }

  async #run(
    resource: string,
    name: string,
    hook: GuardHook,
    timeoutMs = hook.timeoutMs,
    graceMs = this.graceMs,
  ): Promise<HookResult> {
    const result = await runHook({
      command: hook.argv,
      env: hook.env,
      timeoutMs,
      graceMs,
      cwd: hook.cwd,
      log: (stream, line) => this.logger.debug(`${name} ${stream}: ${line}`, resource),
    });
    const ok = result.outcome.kind === "exit" && result.outcome.code === 0;
    this.logger.log(
      ok ? "info" : "error",
      `${name} ended after ${result.durationMs} ms: ${describeOutcome(result.outcome)}`,
      resource,
    );
    return result;
  }
}

/**
 * When `pid` started, as field 22 of /proc/PID/stat (clock ticks since boot);
 * null when there is no such process. With the pid it names one process for good.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** The state letter of `pid` (R, S, D, Z, ...), or null when there is no such process. */
function processState(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether a start hook, process group `pid` led by a process that started at
 * `since`, may still run anything. Its leader, if still there under that pid,
 * must be the same process; a leader that is gone leaves the group id
 * reserved while members remain, so a group under that id is still its own.
 */
function startHookAlive(pid: number, since: string): boolean {
  const leaderSince = processStartTime(pid);
  if (leaderSince !== null && leaderSince !== since) return false; // the pid was reused
  if (leaderSince !== null && processState(pid) !== "Z") return true;
  try {
    Deno.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL the group; and its leader itself, which may not have made the group yet. */
function killStartHook(pid: number, since: string): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // No such group (yet, or any more).
  }
  if (processStartTime(pid) !== since) return;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Gone.
  }
}

/** How to start a guard process. */
export interface GuardSpawnOptions {
  /**
   * The guard program and its leading arguments; by default
   * `deno run -A --no-config <guard_main.ts>`. A single binary passes its own
   * path and a guard subcommand. `--log`, `--grace-ms` and `-d` are appended.
   */
  command?: string[];
  /** The guard's log file; its stderr otherwise. */
  logPath?: string;
  /** SIGTERM → SIGKILL grace of its hooks; {@link DEFAULT_GRACE_MS} by default. */
  graceMs?: number;
  /** Debug depth of its log (the daemon's `-d` count). */
  verbosity?: number;
  /** The guard's stderr: the daemon's ("inherit", the default) or /dev/null. */
  stderr?: "inherit" | "null";
  /**
   * Start the guard again when it dies before {@link Guard.close} or
   * {@link Guard.abandon} (the daemon's: a dead guard would leave every service
   * unguarded if the daemon died next). Off for a guard under test.
   */
  respawn?: boolean;
}

/** A guard deadline that never comes (a forced primary; an arm a stopping line replaces). */
export const FOREVER_MS = 10 * 365 * 86400e3;

/** Told of a guard started again (its pid), or of a try that failed (pid null, the error). */
export type RespawnListener = (
  pid: number | null,
  died: Deno.CommandStatus,
  error: Error | null,
) => void;

/** What a guard was told of a resource and must still know ({@link Guard}'s replay). */
interface Told {
  /** The last arm's stops (null: not armed), its deadline (performance.now() time). */
  arm:
    | { stops: GuardHook[]; stopTimeoutMs: number; panic: GuardHook | null; slackMs: number }
    | null;
  deadlineAt: number;
  /** The daemon stops it itself, to be over by then. */
  stoppingUntil: number | null;
  /** The daemon ran its panic: no guard may run it again. */
  panicked: boolean;
  /** A start hook running: its process group and its leader's start time. */
  start: { pid: number; since: string } | null;
}

/** Guards that keep dying within this long of their start are started again this long apart. */
const RESPAWN_BACKOFF_MS = 1000;

/**
 * The daemon's side of the guard: spawns it and sends it commands. With
 * `respawn`, a guard that dies is started again at once (after a second when
 * guards keep dying within a second of their start), and told at once what the
 * dead one had been told and still mattered ({@link Told}): arms with their
 * deadlines, stops under way, panics run, start hooks running.
 */
export class Guard {
  #child!: Deno.ChildProcess;
  #writer!: WritableStreamDefaultWriter<Uint8Array>;
  #alive = false;
  #batch: string[] = [];
  #flushing: Promise<void> | null = null;
  #ending = false;
  #respawned: RespawnListener[] = [];
  /** What the guard running now must know of each resource, to be told again to a new one. */
  #told = new Map<string, Told>();
  /** Guards that died within a second of their start, in a row. */
  #quickDeaths = 0;
  /** Ends a wait before the next start (the daemon leaves). */
  #cancelWait: (() => void) | null = null;

  private constructor(private readonly opts: GuardSpawnOptions) {
    this.#start();
  }

  /** Start a guard process, detached into its own process group and session. */
  static spawn(opts: GuardSpawnOptions = {}): Guard {
    return new Guard(opts);
  }

  #start() {
    const [program, ...lead] = this.opts.command ?? guardFromSource();
    const args = [...lead, "--grace-ms", String(this.opts.graceMs ?? DEFAULT_GRACE_MS)];
    if (this.opts.logPath !== undefined) args.push("--log", this.opts.logPath);
    for (let i = 0; i < (this.opts.verbosity ?? 0); i++) args.push("-d");
    const child = new Deno.Command(program, {
      args,
      detached: true,
      stdin: "piped",
      stdout: "null",
      stderr: this.opts.stderr ?? "inherit",
    }).spawn();
    const startedAt = performance.now();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#alive = true;
    // A write to a dead guard rejects the caller; this only keeps the writer's own promise handled.
    this.#writer.closed.catch(() => {});
    const writer = this.#writer;
    child.status.then(async (died) => {
      if (child === this.#child) this.#alive = false;
      if (!this.opts.respawn) return;
      // The dead one's pipe (unless it is the one close() or abandon() is closing now).
      if (!(this.#ending && writer === this.#writer)) {
        await writer.abort(new Error("it died")).catch(() => {});
      }
      if (this.#ending) return;
      const quick = performance.now() - startedAt < RESPAWN_BACKOFF_MS;
      this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
      await this.#respawn(died, this.#quickDeaths > 1 ? RESPAWN_BACKOFF_MS : 0);
    }).catch(() => {}); // #respawn reports its own failures; nothing may reject unhandled here
  }

  /** Start a guard until one starts (a daemon must not give up on having one), and tell it. */
  async #respawn(died: Deno.CommandStatus, wait: number): Promise<void> {
    for (;;) {
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#cancelWait = () => (clearTimeout(timer), resolve());
        });
        this.#cancelWait = null;
      }
      if (this.#ending) return;
      try {
        this.#startTold();
      } catch (e) {
        this.#tell(null, died, e instanceof Error ? e : new Error(String(e)));
        wait = RESPAWN_BACKOFF_MS;
        continue;
      }
      // Written before anyone logs anything.
      this.#scheduleFlush().catch(() => {}); // a new guard dead already: it is started again
      this.#tell(this.#child.pid, died, null);
      return;
    }
  }

  /** Start a guard, and queue first (before anything queued for the dead one) what it must know. */
  #startTold() {
    this.#start();
    this.#batch.unshift(...this.#replay().map((c) => JSON.stringify(c)));
  }

  /** Tell the listeners; one that throws (a log on a full disk) stops neither the others nor us. */
  #tell(pid: number | null, died: Deno.CommandStatus, error: Error | null) {
    for (const listener of this.#respawned) {
      try {
        listener(pid, died, error);
      } catch { /* see above */ }
    }
  }

  /** The commands that tell a new guard what the dead one knew and still mattered. */
  #replay(): GuardCommand[] {
    const now = performance.now();
    const left = (at: number) => Math.max(0, at - now);
    const commands: GuardCommand[] = [];
    for (const [resource, t] of this.#told) {
      // First: a panic that must not run again (a later arm takes it into account).
      const stopping = t.arm !== null && t.stoppingUntil !== null;
      const panicAt = stopping ? t.stoppingUntil! + t.arm!.slackMs : Infinity;
      // The old guard's own panic for a stop past its time has run (and it forgot the resource).
      if (t.panicked || panicAt <= now) commands.push({ type: "panicking", resource });
      if (t.arm !== null && panicAt > now) {
        // A stop under way: its arm's deadline does not matter (the stopping replaces it), so
        // no deadline may come due between the two lines.
        commands.push({
          type: "arm",
          resource,
          ...t.arm,
          remainingMs: stopping ? FOREVER_MS : left(t.deadlineAt),
          // The new guard's panic for a stop comes a slack after the stop's time: no later
          // than the old one's would have.
          slackMs: stopping ? Math.min(t.arm.slackMs, panicAt - now) : t.arm.slackMs,
          sentAt: now,
        });
        if (stopping) {
          commands.push({
            type: "stopping",
            resource,
            timeoutMs: left(t.stoppingUntil!),
            sentAt: now,
          });
        }
      }
      if (t.start !== null) commands.push({ type: "starting", resource, ...t.start });
    }
    return commands;
  }

  /** Keep what the guard must know after `command` (the guard's own rules, in short). */
  #record(command: GuardCommand) {
    const { resource } = command;
    const t = this.#told.get(resource) ??
      { arm: null, deadlineAt: 0, stoppingUntil: null, panicked: false, start: null };
    switch (command.type) {
      case "arm":
        t.arm = {
          stops: command.stops,
          stopTimeoutMs: command.stopTimeoutMs,
          panic: command.panic,
          slackMs: command.slackMs,
        };
        t.deadlineAt = (command.sentAt ?? performance.now()) + command.remainingMs;
        t.stoppingUntil = null;
        break;
      case "renew":
        if (t.arm !== null && t.stoppingUntil === null) {
          t.deadlineAt = (command.sentAt ?? performance.now()) + command.remainingMs;
        }
        break;
      case "stopping":
        if (t.arm !== null) {
          t.stoppingUntil = (command.sentAt ?? performance.now()) + command.timeoutMs;
        }
        break;
      case "panicking":
        t.panicked = true;
        break;
      case "disarm": // the guard forgets all but a start hook running
        t.arm = null;
        t.stoppingUntil = null;
        t.panicked = false;
        break;
      case "starting":
        t.start = { pid: command.pid, since: command.since };
        break;
      case "started":
        t.start = null;
        break;
    }
    if (t.arm === null && !t.panicked && t.start === null) this.#told.delete(resource);
    else this.#told.set(resource, t);
  }

  /** The guard's pid (the one running now). */
  get pid(): number {
    return this.#child.pid;
  }

  /**
   * Call `listener` after each respawn, with the new guard's pid and how the old
   * one ended; and after each try that could not start one (pid null, the error).
   */
  onRespawn(listener: RespawnListener): void {
    this.#respawned.push(listener);
  }

  /** Settles when the guard process running now has exited (expected only after {@link close}). */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /**
   * `resource`'s service is active and its lease ends `remainingMs` from now;
   * `stops` stop its members (in that order) within `stopTimeoutMs`.
   */
  arm(
    resource: string,
    remainingMs: number,
    stops: GuardHook[],
    stopTimeoutMs: number,
    panic: GuardHook | null,
    slackMs: number,
    sentAt = performance.now(),
  ): Promise<void> {
    return this.#send({
      type: "arm",
      resource,
      remainingMs,
      stops,
      stopTimeoutMs,
      panic,
      slackMs,
      sentAt,
    });
  }

  /**
   * `resource`'s lease was renewed: its deadline is `remainingMs` from now, with
   * the stops and panic of its last {@link arm} (which must have been sent).
   */
  renew(resource: string, remainingMs: number, sentAt = performance.now()): Promise<void> {
    return this.#send({ type: "renew", resource, remainingMs, sentAt });
  }

  /** The daemon runs `resource`'s panic itself: the guard must not run it again. */
  panicking(resource: string): Promise<void> {
    return this.#send({ type: "panicking", resource });
  }

  /** The daemon is stopping `resource` itself, bounded by `timeoutMs`. */
  stopping(resource: string, timeoutMs: number): Promise<void> {
    return this.#send({ type: "stopping", resource, timeoutMs, sentAt: performance.now() });
  }

  /** `resource`'s start hook runs as process group `pid`, whose leader started at `since`. */
  starting(resource: string, pid: number, since: string): Promise<void> {
    return this.#send({ type: "starting", resource, pid, since });
  }

  /** `resource`'s start hook has ended. */
  started(resource: string): Promise<void> {
    return this.#send({ type: "started", resource });
  }

  /** `resource`'s service is stopped or not active. */
  disarm(resource: string): Promise<void> {
    return this.#send({ type: "disarm", resource });
  }

  /**
   * Leave without disarming: the guard sees the end of its input and stops
   * whatever is still armed (a daemon that could not stop everything itself).
   */
  async abandon(): Promise<void> {
    this.#ending = true;
    this.#cancelWait?.();
    // The guard is to finish the job: a dead one (between a death and its successor, or dead
    // a moment ago and not yet seen so) cannot.
    this.#replaceIfDead();
    await this.#flush().catch(() => {});
    await this.#writer.close().catch(() => {});
    this.#child.unref();
  }

  /**
   * Close the channel and wait for the guard to exit. What the daemon left
   * armed (after a clean shutdown: nothing, unless a stop failed) the guard
   * stops first, as for a daemon that died.
   */
  async close(): Promise<Deno.CommandStatus> {
    this.#ending = true;
    this.#cancelWait?.();
    // What is left armed (a stop that failed) needs a guard to stop it.
    if (this.#told.size > 0) this.#replaceIfDead();
    await this.#flush().catch(() => {}); // what is queued goes first
    await this.#writer.close().catch(() => {});
    return await this.#child.status;
  }

  /**
   * When the daemon leaves: a guard is to finish the job, and a dead one (between a
   * death and its successor, or dead a moment ago and not yet seen so) cannot.
   */
  #replaceIfDead() {
    if (!this.opts.respawn || !this.#isDead()) return;
    try {
      this.#startTold();
    } catch { /* nothing more can be done: the daemon logs that it leaves */ }
  }

  /** Whether the guard running now is gone: seen so, or a zombie or absent in /proc. */
  #isDead(): boolean {
    if (!this.#alive) return true;
    const state = processState(this.#child.pid);
    if (state !== null) return state === "Z" || state === "X";
    // No entry: gone, when /proc can be read at all (else nothing is known: alive).
    return processState(Deno.pid) !== null;
  }

  /**
   * Commands given in the same turn of the event loop go out in one write
   * (a daemon with many resources re-arms many at once).
   */
  #send(command: GuardCommand): Promise<void> {
    this.#record(command);
    this.#batch.push(JSON.stringify(command));
    return this.#scheduleFlush();
  }

  /** A write of what is queued at the next microtask (one for all queued meanwhile). */
  #scheduleFlush(): Promise<void> {
    this.#flushing ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => this.#flush().then(resolve, reject));
    });
    return this.#flushing;
  }

  /** Write what is queued, now, to the guard running now. */
  #flush(): Promise<void> {
    this.#flushing = null;
    if (this.#batch.length === 0) return Promise.resolve();
    // No guard runs (it died; the next one is told everything): nothing to write them to.
    if (this.opts.respawn && !this.#alive && !this.#ending) {
      this.#batch.length = 0;
      return Promise.resolve();
    }
    const lines = this.#batch.splice(0).join("\n") + "\n";
    const pid = this.#child.pid;
    return this.#writer.write(new TextEncoder().encode(lines)).catch((e) => {
      throw new Error(`the guard (pid ${pid}) is gone: ${e instanceof Error ? e.message : e}`);
    });
  }
}
