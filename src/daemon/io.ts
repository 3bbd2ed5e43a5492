/**
 * The real `Io` of the node runtime: the monotonic clock and one timer, peer
 * frames through the peer links, hooks through the one hook runner, state
 * files through the store, the guard process through its pipe, and the log
 * and event stream. Everything that decides lives in the runtime and the
 * core; this file only carries out.
 */
import type { Io } from "../runtime/node.ts";
import type {
  Effect,
  GuardCommand,
  HookEffect,
  HookMethod,
  HookOutcome,
  LogLevel,
  Message,
  NodeId,
  Time,
} from "../core/types.ts";
import { describeOutcome } from "../core/types.ts";
import type { ResourceNodeConfig } from "../config/types.ts";
import { after } from "../wire/deadlines.ts";
import { printable } from "../wire/text.ts";
import { DEFAULT_GRACE_MS, NOT_STARTED_ABORTED, runHook } from "./hooks.ts";
import { hookArguments, hookEnvironment } from "./hook_hygiene.ts";
import type { Guard } from "./guard_link.ts";
import { FOREVER_MS, type GuardHook } from "./guard_protocol.ts";
import { processStartTime } from "./proc_stat.ts";
import type { Logger } from "./log.ts";
import type { StateStore } from "./state_store.ts";
import type { EventLog } from "./events.ts";
import { SpawnQueue } from "./spawn_queue.ts";
import { guardSlackMs } from "../core/timing.ts";

/** Characters of a hook's last output line kept with its outcome. */
const MAX_OUTPUT_CHARS = 200;

/** What the daemon's Io is built from. */
export interface DaemonIoDeps {
  node: NodeId;
  logger: Logger;
  guard: Guard | null;
  store: StateStore;
  events: EventLog;
  /** This node's configuration of a resource (changes on reload). */
  view(resource: string): ResourceNodeConfig | undefined;
  /** What `hook_env` adds to every hook's environment (changes on reload). */
  hookEnv(): Readonly<Record<string, string>>;
  /** Send a frame to a peer over whichever link is up (dropped when none is). */
  send(to: NodeId, messages: Message[]): void;
  /** Called when the runtime's timer is due. */
  onWake(): void;
  /** A role changed. */
  onTransition(resource: string): void;
  onQuiesced(resource: string): void;
  /** After every hook command, with its duration (the metrics' histograms). */
  onHookRun?: (resource: string, method: HookMethod, ms: number) => void;
  /** Ends with the daemon: running hooks are killed. */
  lifetime: AbortSignal;
}

/** The daemon's implementation of the runtime's world. */
export class DaemonIo implements Io {
  #cancelWake: (() => void) | null = null;
  #spawns = new SpawnQueue();
  /**
   * What each armed resource's last full arm was made from: while the epoch, the
   * node's view of the resource and the hooks' environment stay the same objects
   * (a reload replaces them), a lease renewal is a short `renew` for the guard.
   */
  #armedWith = new Map<
    string,
    { epoch: number; view: ResourceNodeConfig; env: Readonly<Record<string, string>> }
  >();

  constructor(private readonly deps: DaemonIoDeps) {
    // The guard tells a new one what the dead one knew (guard_link.ts); here it is only said.
    deps.guard?.onRespawn((pid, died, error) => {
      const how = died.signal ? `killed by ${died.signal}` : `exit ${died.code}`;
      deps.logger.error(
        pid === null
          ? `the guard died (${how}) and cannot be started again: ${error?.message}; trying ` +
            "again in a second (meanwhile nothing stops the services if this daemon dies)"
          : `the guard died (${how}): started another (pid ${pid}) and told it what the old ` +
            "one guarded",
      );
      this.deps.events.emit(null, "log", "error", `the guard died (${how})`);
    });
  }

  now(): Time {
    return performance.now();
  }

  wall(): number {
    return Date.now();
  }

  setWake(at: Time | null): void {
    this.#cancelWake?.();
    this.#cancelWake = null;
    if (at === null || this.deps.lifetime.aborted) return;
    this.#cancelWake = after(Math.max(1, at - performance.now()), () => {
      this.#cancelWake = null;
      this.deps.onWake();
    });
  }

  /** Stop the timer for good (the daemon is exiting). */
  stopWake(): void {
    this.#cancelWake?.();
    this.#cancelWake = null;
  }

  send(to: NodeId, messages: Message[]): void {
    this.deps.send(to, messages);
  }

  hookBacklogMs(): number {
    return this.#spawns.oldestWaitMs();
  }

  runHook(resource: string, hook: HookEffect, done: (outcome: HookOutcome) => void): () => void {
    const abort = new AbortController();
    const lifetime = this.deps.lifetime;
    const onExit = () => abort.abort();
    lifetime.addEventListener("abort", onExit, { once: true });
    // Spawned when the queue's turn comes (spawn_queue.ts); killed before it if cancelled.
    this.#spawns.push(hook, (spawned) => {
      // The hook runner says when its spawn is over; a run that spawns nothing (a notification
      // nobody listens to, say) is over at once. Said twice, it counts once.
      this.#run(resource, hook, abort.signal, spawned).finally(spawned).then((outcome) => {
        lifetime.removeEventListener("abort", onExit);
        if (!lifetime.aborted) done(outcome);
      });
    });
    return () => abort.abort();
  }

  async #run(
    resource: string,
    e: HookEffect,
    signal: AbortSignal,
    spawned: () => void,
  ): Promise<HookOutcome> {
    const view = this.deps.view(resource);
    if (!view) return { kind: "error", message: `resource ${resource} is not configured` };
    const argv = hookArgv(view, e);
    if (argv === null) return { kind: "exit", code: 0 }; // a notification nobody listens to
    if (typeof argv === "string") return { kind: "error", message: argv };
    const log = this.deps.logger;
    // A stop must be over within its timeout: SIGTERM at 80 %, SIGKILL at 100 %.
    const isStop = e.method === "stop";
    const guard = e.method === "start" ? this.deps.guard : null;
    // The last line it printed goes with the outcome (a monitor_check veto shows it).
    let last = "";
    const result = await runHook({
      command: argv,
      // The whole environment: nothing of the daemon's own (hook_hygiene.ts).
      env: hookEnvironment(this.deps.hookEnv(), {
        resource,
        member: e.member ?? resource,
        node: this.deps.node,
        role: e.role,
        epoch: e.epoch,
        event: e.method,
      }),
      timeoutMs: isStop ? e.timeoutMs * 0.8 : e.timeoutMs,
      // A start cancelled when the lease is gone must die within half a timeout: the
      // peers' hold covers one timeout beyond the lease and the stop.
      graceMs: isStop
        ? e.timeoutMs * 0.2
        : e.method === "start"
        ? Math.min(DEFAULT_GRACE_MS, view.timeoutMs / 2)
        : Math.min(DEFAULT_GRACE_MS, e.timeoutMs),
      signal,
      spawned,
      onSpawn: guard ? (pid) => this.#guardStarting(guard, resource, pid) : undefined,
      log: (stream, line) => {
        // It may be sent to a peer (a monitor_check veto): no control characters on the wire.
        if (line.trim() !== "") last = printable(line.trim(), MAX_OUTPUT_CHARS);
        log.log(stream === "stderr" ? "warning" : "info", `${e.method}: ${line}`, resource);
      },
    });
    if (guard) {
      await guard.started(resource).catch((err) =>
        log.error(`guard: ${(err as Error).message}`, resource)
      );
    }
    this.deps.onHookRun?.(resource, e.method, result.durationMs);
    if (log.enabled("debug")) {
      log.debug(
        `${e.method} ${argv.join(" ")}: ${describeOutcome(result.outcome)} in ${
          result.durationMs.toFixed(0)
        } ms`,
        resource,
      );
    }
    const ok = result.outcome.kind === "exit" && result.outcome.code === 0;
    // A hook the machine cancelled (its start when the lease went, say) did not fail: the
    // log says why it was cancelled. What the cancel did is all that is left out: a hook
    // that failed or timed out by itself is reported, cancelled or not.
    const cancelled = signal.aborted &&
      ((result.outcome.kind === "error" && result.outcome.message === NOT_STARTED_ABORTED) ||
        result.outcome.kind === "killed");
    if (!ok && e.method !== "status" && !cancelled) {
      this.deps.events.emit(
        resource,
        "hook",
        "warning",
        `${e.method}${e.member && e.member !== resource ? ` of ${e.member}` : ""} failed: ` +
          describeOutcome(result.outcome),
      );
    }
    return last === "" ? result.outcome : { ...result.outcome, output: last };
  }

  #guardStarting(guard: Guard, resource: string, pid: number) {
    const since = processStartTime(pid);
    if (since === null) return; // already gone
    guard.starting(resource, pid, since).catch((err) =>
      this.deps.logger.error(`guard: ${(err as Error).message}`, resource)
    );
  }

  writeState(resource: string, text: string, done: (error: string | null) => void): void {
    this.deps.store.save(resource, text).then(
      () => done(null),
      (e) => done((e as Error).message),
    );
  }

  guard(resource: string, command: GuardCommand, done: () => void): void {
    const guard = this.deps.guard;
    if (!guard) return void queueMicrotask(done);
    this.#tellGuard(guard, resource, command).catch((e) =>
      this.deps.logger.error(`guard: ${(e as Error).message}`, resource)
    ).finally(done);
  }

  #tellGuard(guard: Guard, resource: string, command: GuardCommand): Promise<void> {
    if (command.action !== "arm") this.#armedWith.delete(resource);
    switch (command.action) {
      case "arm": {
        const view = this.deps.view(resource);
        if (!view) return Promise.resolve();
        // Half a timeout of slack: the daemon's own fencing starts first when it is alive.
        const slack = guardSlackMs(view.timeoutMs);
        // The guard counts the duration from this reading (guard_protocol.ts: sentAt).
        const now = performance.now();
        const remaining = command.until === null
          ? FOREVER_MS
          : Math.max(0, command.until - now) + slack;
        const env = this.deps.hookEnv();
        const last = this.#armedWith.get(resource);
        if (last && last.epoch === command.epoch && last.view === view && last.env === env) {
          return guard.renew(resource, remaining, now);
        }
        this.#armedWith.set(resource, { epoch: command.epoch, view, env });
        const g = { view, node: this.deps.node, epoch: command.epoch, env };
        return guard.arm(
          resource,
          remaining,
          guardStops(g),
          view.stopTimeoutMs,
          guardPanic(g),
          slack,
          now,
        );
      }
      case "stopping":
        return guard.stopping(resource, command.timeoutMs);
      case "panicking":
        return guard.panicking(resource);
      case "disarm":
        return guard.disarm(resource);
    }
  }

  log(level: LogLevel, message: string, resource: string | null): void {
    this.deps.logger.log(level, message, resource ?? undefined);
    if (level !== "debug") this.deps.events.emit(resource, "log", level, message);
  }

  transition(resource: string, e: Effect & { type: "transition" }): void {
    this.deps.logger.transition(resource, e);
    this.deps.events.emit(
      resource,
      "transition",
      "info",
      `role ${e.from} -> ${e.to}: ${e.reason}`,
      {
        from: e.from,
        to: e.to,
        epoch: e.epoch,
        reason: e.reason,
      },
    );
    this.deps.onTransition(resource);
  }

  quiesced(resource: string): void {
    this.deps.onQuiesced(resource);
  }
}

/**
 * The argv of a hook for this node's view of its resource: a member's own
 * command for start, stop, status and the monitor methods; `fence` or `panic` with their
 * arguments; the `exec` script for notifications (null when there is none).
 * A string says why it cannot run.
 */
export function hookArgv(view: ResourceNodeConfig, e: HookEffect): string[] | string | null {
  switch (e.method) {
    case "start":
    case "stop":
    case "status":
    case "monitor_start":
    case "monitor_stop":
    case "monitor_check": {
      const member = view.members.find((m) => m.name === e.member);
      if (!member) return `no member ${e.member}`;
      const cmd = member.commands[e.method];
      return cmd ? cmd.argv : `member ${member.name} has no ${e.method} command`;
    }
    case "fence":
    case "panic": {
      const cmd = e.method === "fence" ? view.fence : view.panic;
      return cmd ? [...cmd, ...e.args] : `no ${e.method} command`;
    }
    default:
      // A peer's text (a complaint's reason) comes after `--`, printable and short.
      return view.exec
        ? [view.exec, e.method, view.resource, ...hookArguments(e.method, e.args)]
        : null;
  }
}

/** Who a guard's hook runs for: the primary of `epoch`, as the hooks it backs up. */
interface GuardFor {
  view: ResourceNodeConfig;
  node: NodeId;
  epoch: number;
  /** The configured `hook_env`. */
  env: Readonly<Record<string, string>>;
}

/** The guard's hooks get the same minimal environment as the daemon's. */
function guardEnv(g: GuardFor, member: string, event: "monitor_stop" | "stop" | "panic") {
  return hookEnvironment(g.env, {
    resource: g.view.resource,
    member,
    node: g.node,
    role: "primary",
    epoch: g.epoch,
    event,
  });
}

/** What the guard runs to stop the service: every member's monitor_stop and stop, in reverse order. */
function guardStops(g: GuardFor): GuardHook[] {
  // A member's fault monitor first: left running, it could start the service again.
  return [...g.view.members].reverse().flatMap((m) =>
    (["monitor_stop", "stop"] as const).flatMap((method) => {
      const cmd = m.commands[method];
      return cmd
        ? [{ argv: cmd.argv, env: guardEnv(g, m.name, method), timeoutMs: g.view.stopTimeoutMs }]
        : [];
    })
  );
}

function guardPanic(g: GuardFor): GuardHook | null {
  return g.view.panic
    ? {
      argv: g.view.panic,
      env: guardEnv(g, g.view.resource, "panic"),
      timeoutMs: g.view.hookTimeoutMs,
    }
    : null;
}
