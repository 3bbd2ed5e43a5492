/**
 * The dead man's switch. If the daemon is killed with -9 or frozen with
 * SIGSTOP, the service it started keeps running while another node takes over
 * once the lease has run out (PRODUCT.md §3.1, §3.3). The guard is a separate
 * process, in its own process group and session (so a signal to the daemon's
 * group or terminal does not reach it), fed by the daemon through a pipe on
 * its stdin (the commands: src/daemon/guard_protocol.ts). The daemon's side,
 * which spawns it and writes to it, is src/daemon/guard_link.ts.
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
 * one resource. (S and K: the stop timeout and the slack of an `arm`.)
 */
import { describeOutcome } from "../core/types.ts";
import type { Logger } from "./log.ts";
import { commandSpawn, type HookResult, runHook, timerDelay } from "./hooks.ts";
import { Lanes } from "../runtime/lanes.ts";
import { readLines } from "./lines.ts";
import { after, delay } from "../wire/deadlines.ts";
import {
  type GuardCommand,
  type GuardHook,
  MAX_COMMAND_CHARS,
  parseGuardCommand,
} from "./guard_protocol.ts";
import { processStartTime, processState, processStopped } from "./proc_stat.ts";

/** A command read this much later than its writing is said in the log (the guard ran late). */
const LATE_COMMAND_MS = 100;
/**
 * Late commands are said together, one line at most this often: a guard starved
 * of CPU reads the renewals of every resource late at once (a thousand a second).
 */
const LATE_REPORT_MS = 1000;

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
          `the daemon's stop did not end within ${Math.round(limitMs)} ms`,
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
      // Through Deno.Command, not the daemon's spawner: the guard spawns only at a deadline,
      // where holding its event loop a millisecond or two for an exec does no harm, and the
      // FFI library would cost an armed guard 1-3 MB resident (the idle node's memory).
    }, commandSpawn);
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
