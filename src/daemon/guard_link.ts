/**
 * The daemon's side of the guard (src/daemon/guard.ts): it starts the guard
 * process, writes it commands (src/daemon/guard_protocol.ts), and starts a new
 * one when it dies.
 */
import { DEFAULT_GRACE_MS } from "./hooks.ts";
import { guardFromSource } from "./self.ts";
import { FOREVER_MS, type GuardCommand, type GuardHook } from "./guard_protocol.ts";
import { processState } from "./proc_stat.ts";

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
