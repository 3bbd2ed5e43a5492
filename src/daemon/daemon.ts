/**
 * The daemon runtime: the thin layer of I/O around the failover core. It turns
 * time, peer messages, hook results and operator commands into events, feeds
 * them to one machine per resource, and runs the effects the machines return,
 * in order (a persist is awaited before anything after it runs).
 *
 * Peers: this node dials every `remote` address of its resources and accepts
 * connections from configured nodes; messages go out once per processing
 * round, batched per peer, over whichever connection to that node is open.
 */
import process from "node:process";
import {
  createMachine,
  type Machine,
  mayBeActive,
  step,
  updateSettings,
  wakeAt,
} from "../core/machine.ts";
import { statusOf } from "../core/status.ts";
import type {
  Effect,
  Event,
  HookMethod,
  HookOutcome,
  Message,
  NodeId,
  PersistedState,
  Role,
} from "../core/types.ts";
import { describeOutcome, TRACKED_METHODS } from "../core/types.ts";
import type { ControlHandler, DaemonEvent, RoleResult, StatusResult } from "../control/protocol.ts";
import {
  type EffectiveConfig,
  formatDiagnostic,
  loadConfig,
  type ResourceConfig,
  resourceSettings,
  usableResources,
} from "../config/mod.ts";
import type { ResourceNodeConfig } from "../config/types.ts";
import { connectPeer, listenPeers, type PeerConnection, type PeerListener } from "../wire/peer.ts";
import { importSecret, type PeerSecret } from "../wire/auth.ts";
import { DEFAULT_GRACE_MS, hookEnv, runHook } from "./hooks.ts";
import { HookSerializer } from "./hook_serializer.ts";
import { hookFailure } from "./hook_events.ts";
import { type Guard, type GuardHook, processStartTime } from "./guard.ts";
import type { Logger } from "./log.ts";
import { StateStore } from "./state_store.ts";
import { VERSION } from "../version.ts";

/** One resource as the daemon runs it. */
interface RuntimeResource {
  name: string;
  view: ResourceNodeConfig;
  machine: Machine;
  /** Lease end the guard was last armed with (local clock), or null when disarmed. */
  armedUntil: number | null;
  guardStopping: boolean;
  quiesced: boolean;
  /** The chain of this resource's effects, run one batch after the other. */
  effects: Promise<void>;
  /** State the disk refused: sends wait until it is written. */
  unpersisted: PersistedState | null;
}

/** What the daemon needs from its caller. */
export interface DaemonOptions {
  configPath: string;
  node?: string;
  logger: Logger;
  /** The dead man's switch; null runs without one (tests of the runtime alone). */
  guard: Guard | null;
  /** Called once the daemon has stopped everything and may exit. */
  onExit?: (code: number) => void;
}

const EVENT_BUFFER = 1000;

/** The running daemon. Create with {@link Daemon.start}. */
export class Daemon implements ControlHandler {
  cfg: EffectiveConfig;
  readonly node: NodeId;
  readonly resources = new Map<string, RuntimeResource>();
  private peerConns = new Map<NodeId, Set<PeerConnection>>();
  private outbox = new Map<NodeId, Message[]>();
  private listener: PeerListener | null = null;
  private dialers = new Map<string, { stop: AbortController; done: Promise<void> }>();
  /** Aborted on exit: ends every wait of the dialers and kills running hooks. */
  private lifetime = new AbortController();
  private shutdownTimer: ReturnType<typeof setTimeout> | null = null;
  private secret: PeerSecret | null = null;
  private allowedHosts = new Set<string>();
  private knownNodes = new Set<NodeId>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private serializer = new HookSerializer();
  private store: StateStore;
  private events: DaemonEvent[] = [];
  private eventSeq = 0;
  private subscribers = new Set<(e: DaemonEvent) => void>();
  private shuttingDown = false;
  private stopped = false;
  private hookAbort = new AbortController();
  /** Tracked hooks in flight, by effect id, so that a cancel can kill one. */
  private running = new Map<number, AbortController>();
  private readonly startedAt = performance.now();

  private constructor(cfg: EffectiveConfig, private opts: DaemonOptions) {
    this.cfg = cfg;
    this.node = cfg.node;
    this.store = new StateStore(cfg.global.stateDir);
  }

  /** Load the configuration, restore state, listen, dial peers, and start every resource. */
  static async start(cfg: EffectiveConfig, opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(cfg, opts);
    await Deno.mkdir(cfg.global.stateDir, { recursive: true });
    if (cfg.key) d.secret = await importSecret(cfg.key.secret);
    d.updateAccess(cfg);
    const restored = await d.store.loadAll();
    for (const w of restored.warnings) {
      opts.logger.warning(`ignoring state file ${w.path}: ${w.reason}`);
    }
    const listen = cfg.global.listen;
    d.listener = listenPeers({
      hostname: listen.host,
      port: listen.port,
      self: d.node,
      secret: d.secret,
      timeoutMs: d.minTimeoutMs(),
      idleTimeoutMs: d.idleTimeoutMs(),
      allowed: (remote) => d.secret !== null || d.allowedHosts.has(remote.hostname),
      acceptNode: (node) => d.knownNodes.has(node) && node !== d.node,
      onConnection: (conn) => d.adopt(conn),
      log: (level, msg) => opts.logger.log(level, `peer: ${msg}`),
    });
    opts.logger.info(
      `node ${d.node}: listening on ${listen.host}:${d.listener.port}, ` +
        `${cfg.resources.length} resource(s)`,
    );
    for (const res of usableResources({ config: cfg, errors: [], warnings: [] })) {
      d.addResource(res, restored.states.get(res.name) ?? null);
    }
    d.reconcileDialers();
    d.updateTitle();
    return d;
  }

  /** The port the peer listener is bound to (useful with port 0). */
  get peerPort(): number {
    return this.listener?.port ?? 0;
  }

  // -------------------------------------------------------------------------
  // Resources and events

  private addResource(res: ResourceConfig, persisted: Parameters<typeof createMachine>[2]) {
    const settings = resourceSettings(this.cfg, res.name);
    const { machine, effects } = createMachine(settings, performance.now(), persisted);
    const rt: RuntimeResource = {
      name: res.name,
      view: res.self!,
      machine,
      armedUntil: null,
      guardStopping: false,
      quiesced: false,
      effects: Promise.resolve(),
      unpersisted: null,
    };
    this.resources.set(res.name, rt);
    this.enqueue(rt, effects);
  }

  /** Feed one event to a resource's machine and queue its effects. */
  private feed(rt: RuntimeResource, ev: Event) {
    let fx: Effect[];
    try {
      fx = step(rt.machine, ev);
    } catch (e) {
      // A transition the machine does not expect is a bug; log it, keep the daemon alive.
      this.opts.logger.error(`internal error on ${ev.type}: ${(e as Error).stack ?? e}`, rt.name);
      return;
    }
    this.enqueue(rt, fx);
  }

  private enqueue(rt: RuntimeResource, fx: Effect[]) {
    // Effects of one resource run in order; a slow persist of one does not hold up the others.
    rt.effects = rt.effects.then(() => this.run(rt, fx)).catch((e) => {
      this.opts.logger.error(`internal error running effects: ${(e as Error).stack ?? e}`, rt.name);
    });
    this.scheduleTimer();
  }

  /** Run effects in order; a persist completes before anything after it. */
  private async run(rt: RuntimeResource, fx: Effect[]) {
    if (rt.unpersisted && await this.save(rt, rt.unpersisted)) rt.unpersisted = null;
    for (const e of fx) {
      switch (e.type) {
        case "send": {
          // Nothing is announced on top of state that is not on disk (a restart would forget it).
          if (rt.unpersisted) break;
          let box = this.outbox.get(e.to);
          if (!box) this.outbox.set(e.to, box = []);
          box.push(e.msg);
          break;
        }
        case "hook":
          // The guard knows of a start before it begins: a kill -9 right after is covered.
          if (e.method === "start") await this.updateGuard(rt);
          this.startHook(rt, e);
          break;
        case "cancel":
          this.running.get(e.id)?.abort();
          break;
        case "persist":
          this.flush(); // what came before the persist may go; what comes after waits for it
          rt.unpersisted = (await this.save(rt, e.state)) ? null : e.state;
          break;
        case "log":
          this.opts.logger.log(e.level, e.message, rt.name);
          if (e.level !== "debug") this.emit(rt.name, "log", e.level, e.message);
          break;
        case "transition":
          this.emit(rt.name, "transition", "info", `role ${e.from} -> ${e.to}: ${e.reason}`, {
            from: e.from,
            to: e.to,
            epoch: e.epoch,
            reason: e.reason,
          });
          this.updateTitle();
          break;
        case "lease":
          break;
        case "quiesced":
          rt.quiesced = true;
          this.maybeExit();
          break;
      }
    }
    this.flush();
    await this.updateGuard(rt);
  }

  /** Write a resource's state; false (and logged) when the disk refuses. */
  private async save(rt: RuntimeResource, state: PersistedState): Promise<boolean> {
    try {
      await this.store.save(rt.name, { ...state, counters: {} });
      return true;
    } catch (err) {
      this.opts.logger.error(
        `cannot persist state (nothing is announced until it can): ${(err as Error).message}`,
        rt.name,
      );
      return false;
    }
  }

  private flush() {
    for (const [to, messages] of this.outbox) {
      if (messages.length === 0) continue;
      const conn = this.connectionTo(to);
      if (conn) {
        try {
          conn.send(messages).catch(() => {});
        } catch (e) {
          // The codec refused a message we built: a bug, logged, never fatal.
          this.opts.logger.error(`cannot send to ${to}: ${(e as Error).message}`);
        }
      } else {this.opts.logger.debug(
          `no connection to ${to}: ${messages.length} message(s) dropped`,
        );}
    }
    this.outbox.clear();
  }

  private scheduleTimer() {
    let next = Infinity;
    for (const rt of this.resources.values()) next = Math.min(next, wakeAt(rt.machine));
    if (!Number.isFinite(next) || this.stopped) return;
    if (this.timer !== null && this.timerAt <= next) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const now = performance.now();
    this.timerAt = next;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, next - now));
  }

  private onTimer() {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    for (const rt of this.resources.values()) {
      if (wakeAt(rt.machine) <= now + 1) this.feed(rt, { type: "tick", now });
    }
    this.scheduleTimer();
  }

  private emit(
    resource: string | null,
    kind: DaemonEvent["kind"],
    level: DaemonEvent["level"],
    message: string,
    extra: Partial<DaemonEvent> = {},
  ) {
    const e: DaemonEvent = {
      seq: ++this.eventSeq,
      time: new Date().toISOString(),
      node: this.node,
      resource,
      kind,
      level,
      message,
      ...extra,
    };
    this.events.push(e);
    if (this.events.length > EVENT_BUFFER) this.events.splice(0, this.events.length - EVENT_BUFFER);
    for (const fn of this.subscribers) {
      try {
        fn(e);
      } catch { /* a broken subscriber must not stop the daemon */ }
    }
  }

  // -------------------------------------------------------------------------
  // Hooks

  private startHook(rt: RuntimeResource, e: Effect & { type: "hook" }) {
    const tracked = TRACKED_METHODS.includes(e.method);
    // Complaints come every interval: one waiting is enough when the script is slow.
    if (e.method === "complain" && this.serializer.pending(rt.name, "complain") > 0) return;
    const abort = new AbortController();
    this.running.set(e.id, abort);
    const onExit = () => abort.abort();
    this.hookAbort.signal.addEventListener("abort", onExit, { once: true });
    this.serializer.run(rt.name, e.method, () => this.runMethod(rt, e, abort.signal)).then((
      outcome,
    ) => {
      this.running.delete(e.id);
      this.hookAbort.signal.removeEventListener("abort", onExit);
      if (!tracked || this.stopped) return;
      this.feed(rt, {
        type: "hook_done",
        now: performance.now(),
        id: e.id,
        method: e.method,
        outcome,
      });
    });
  }

  /** Run one method: every member's command for start/stop/status, the exec script otherwise. */
  private async runMethod(
    rt: RuntimeResource,
    e: Effect & { type: "hook" },
    signal: AbortSignal,
  ): Promise<HookOutcome> {
    const v = rt.view;
    const members = e.method === "stop" ? [...v.members].reverse() : v.members;
    // One deadline for the whole method, shared by its members in turn.
    const deadline = performance.now() + e.timeoutMs;
    const one = (argv: string[], member: string) =>
      this.exec(rt, e, argv, member, Math.max(1, deadline - performance.now()), signal);
    switch (e.method) {
      case "start":
      case "stop":
      case "status": {
        let worst: HookOutcome = { kind: "exit", code: 0 };
        for (const m of members) {
          const cmd = m.commands[e.method];
          if (!cmd) {
            return { kind: "error", message: `member ${m.name} has no ${e.method} command` };
          }
          const o = await one(cmd.argv, m.name);
          if (e.method === "start" && !ok(o)) return o;
          worst = worse(worst, o);
        }
        return worst;
      }
      case "fence":
      case "panic": {
        const cmd = e.method === "fence" ? v.fence : v.panic;
        if (!cmd) return { kind: "error", message: `no ${e.method} command` };
        return await one([...cmd, ...e.args], rt.name);
      }
      default: {
        if (!v.exec) return { kind: "exit", code: 0 };
        return await one([v.exec, e.method, rt.name, ...e.args], rt.name);
      }
    }
  }

  private async exec(
    rt: RuntimeResource,
    e: Effect & { type: "hook" },
    argv: string[],
    member: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<HookOutcome> {
    // A stop must be over within stop_timeout: SIGTERM at 80 %, SIGKILL at 100 %.
    const isStop = e.method === "stop";
    // The guard learns of a start hook, to kill it before a stop of its own.
    const guard = e.method === "start" ? this.opts.guard : null;
    const result = await runHook({
      command: argv,
      env: hookEnv({
        resource: rt.name,
        member,
        node: this.node,
        role: e.role,
        epoch: e.epoch,
        event: e.method,
      }),
      timeoutMs: isStop ? timeoutMs * 0.8 : timeoutMs,
      // A start cancelled when the lease is gone must die within half a timeout: the
      // peers' hold covers one timeout beyond the lease and the stop.
      graceMs: isStop
        ? timeoutMs * 0.2
        : e.method === "start"
        ? Math.min(DEFAULT_GRACE_MS, rt.machine.settings.timeoutMs / 2)
        : Math.min(DEFAULT_GRACE_MS, timeoutMs),
      signal,
      onSpawn: guard ? (pid) => this.guardStarting(guard, rt, pid) : undefined,
      log: (stream, line) =>
        this.opts.logger.log(
          stream === "stderr" ? "warning" : "info",
          `${e.method}: ${line}`,
          rt.name,
        ),
    });
    if (guard) {
      await guard.started(rt.name).catch((err) =>
        this.opts.logger.error(`guard: ${(err as Error).message}`, rt.name)
      );
    }
    this.opts.logger.debug(
      `${e.method} ${argv.join(" ")}: ${describeOutcome(result.outcome)} in ${
        result.durationMs.toFixed(0)
      } ms`,
      rt.name,
    );
    const failure = hookFailure(e.method, result.outcome, result.durationMs);
    if (failure) this.emit(rt.name, "hook", failure.level, failure.message);
    return result.outcome;
  }

  private guardStarting(guard: Guard, rt: RuntimeResource, pid: number) {
    const since = processStartTime(pid);
    if (since === null) return; // already gone
    guard.starting(rt.name, pid, since).catch((err) =>
      this.opts.logger.error(`guard: ${(err as Error).message}`, rt.name)
    );
  }

  /** Keep the guard's view in step: armed while the service may run here as primary. */
  private async updateGuard(rt: RuntimeResource) {
    const guard = this.opts.guard;
    if (!guard) return;
    const m = rt.machine;
    const active = mayBeActive(m);
    try {
      if (active && m.role === "primary") {
        const until = m.forced ? m.now + 10 * 365 * 86400e3 : m.leaseUntil;
        if (until !== null && until !== rt.armedUntil) {
          // Half a timeout of slack: the daemon's own fencing starts first when it is alive.
          const remaining = Math.max(0, until - performance.now()) + m.settings.timeoutMs / 2;
          await guard.arm(rt.name, remaining, this.guardStop(rt), this.guardPanic(rt));
          rt.armedUntil = until;
          rt.guardStopping = false;
        }
      }
      if (active && m.busy?.method === "stop" && !rt.guardStopping && rt.armedUntil !== null) {
        await guard.stopping(rt.name, m.settings.stopTimeoutMs);
        rt.guardStopping = true;
      }
      if (!active && rt.armedUntil !== null) {
        await guard.disarm(rt.name);
        rt.armedUntil = null;
        rt.guardStopping = false;
      }
    } catch (e) {
      this.opts.logger.error(`guard: ${(e as Error).message}`, rt.name);
    }
  }

  private guardEnv(rt: RuntimeResource, method: HookMethod): Record<string, string> {
    const m = rt.machine;
    return hookEnv({
      resource: rt.name,
      member: rt.name,
      node: this.node,
      role: m.role,
      epoch: m.epoch,
      event: method,
    });
  }

  /** What the guard runs to stop the service: every member's stop, in reverse order. */
  private guardStop(rt: RuntimeResource): GuardHook {
    const v = rt.view;
    const env = this.guardEnv(rt, "stop");
    const stops = [...v.members].reverse().flatMap((m) =>
      m.commands.stop ? [m.commands.stop.argv] : []
    );
    if (stops.length === 1) return { argv: stops[0], env, timeoutMs: v.stopTimeoutMs };
    const script = stops.map((a) => a.map(shellQuote).join(" ")).join("; ");
    return { argv: ["/bin/sh", "-c", script], env, timeoutMs: v.stopTimeoutMs };
  }

  private guardPanic(rt: RuntimeResource): GuardHook | null {
    const v = rt.view;
    return v.panic
      ? { argv: v.panic, env: this.guardEnv(rt, "panic"), timeoutMs: v.hookTimeoutMs }
      : null;
  }

  // -------------------------------------------------------------------------
  // Peers

  private adopt(conn: PeerConnection) {
    let set = this.peerConns.get(conn.node);
    if (!set) this.peerConns.set(conn.node, set = new Set());
    set.add(conn);
    this.opts.logger.debug(`connected to ${conn.node} (${conn.side})`);
    conn.onClose((reason) => {
      set!.delete(conn);
      this.opts.logger.debug(`connection to ${conn.node} closed: ${reason}`);
      if (set!.size === 0 && !this.stopped) {
        const now = performance.now();
        for (const rt of this.resources.values()) {
          if (rt.machine.settings.peers.includes(conn.node)) {
            this.feed(rt, { type: "peer_down", now, peer: conn.node });
          }
        }
      }
    });
    (async () => {
      try {
        for await (const batch of conn) {
          const now = performance.now();
          for (const msg of batch.messages) {
            const rt = this.resources.get(msg.resource);
            if (!rt) {
              this.opts.logger.debug(
                `message for unknown resource ${msg.resource} from ${batch.from}`,
              );
              continue;
            }
            this.feed(rt, { type: "message", now, from: batch.from, msg });
          }
        }
      } catch (e) {
        this.opts.logger.debug(`connection to ${conn.node}: ${(e as Error).message}`);
      }
    })();
  }

  private connectionTo(node: NodeId): PeerConnection | null {
    for (const c of this.peerConns.get(node) ?? []) if (!c.closed) return c;
    return null;
  }

  /** Dial every remote address of this node's resources, until it goes away from the config. */
  private reconcileDialers() {
    const wanted = new Map<string, { host: string; port: number }>();
    for (const rt of this.resources.values()) {
      const remote = rt.view.remote;
      if (!Array.isArray(remote)) continue;
      for (const a of remote) wanted.set(`${a.host}:${a.port}`, a);
    }
    for (const [key, d] of this.dialers) {
      if (!wanted.has(key)) {
        d.stop.abort();
        this.dialers.delete(key);
      }
    }
    for (const [key, addr] of wanted) {
      if (this.dialers.has(key)) continue;
      const stop = new AbortController();
      this.lifetime.signal.addEventListener("abort", () => stop.abort(), { once: true });
      this.dialers.set(key, { stop, done: this.dial(addr, stop.signal) });
    }
  }

  private async dial(addr: { host: string; port: number }, stop: AbortSignal) {
    let failures = 0;
    while (!stop.aborted) {
      let conn: PeerConnection;
      try {
        conn = await connectPeer({
          hostname: addr.host,
          port: addr.port,
          self: this.node,
          secret: this.secret,
          timeoutMs: this.minTimeoutMs(),
          idleTimeoutMs: this.idleTimeoutMs(),
          log: (level, msg) =>
            this.opts.logger.log(level === "info" ? "debug" : level, `peer: ${msg}`),
        });
      } catch (e) {
        if (failures++ === 0) {
          this.opts.logger.info(`cannot reach ${addr.host}:${addr.port}: ${(e as Error).message}`);
        }
        // Retry soon at first, then every interval.
        await sleep(Math.min(this.minIntervalMs(), 200 * 2 ** Math.min(failures, 6)), stop);
        continue;
      }
      if (!this.knownNodes.has(conn.node) || conn.node === this.node) {
        this.opts.logger.warning(`${addr.host}:${addr.port} is ${conn.node}, not a node of ours`);
        await conn.close("not a configured node");
        await sleep(this.minIntervalMs(), stop);
        continue;
      }
      failures = 0;
      this.adopt(conn);
      // Nothing to do while it lives: wait for its end (or ours), then dial again.
      await new Promise<void>((resolve) => {
        const done = () => {
          stop.removeEventListener("abort", done);
          resolve();
        };
        conn.onClose(done);
        stop.addEventListener("abort", done);
      });
      if (stop.aborted) {
        if (!conn.closed) await conn.close("remote removed from configuration");
        return;
      }
      await sleep(100, stop);
    }
  }

  private updateAccess(cfg: EffectiveConfig) {
    this.allowedHosts.clear();
    this.knownNodes.clear();
    for (const res of cfg.resources) {
      for (const n of res.nodes) this.knownNodes.add(n.node);
      const v = res.self;
      if (!v) continue;
      for (const a of [...(Array.isArray(v.remote) ? v.remote : []), ...v.friends]) {
        this.allowedHosts.add(a.host);
        if (a.host === "localhost") this.allowedHosts.add("127.0.0.1");
      }
    }
  }

  private minIntervalMs(): number {
    let i = Infinity;
    for (const rt of this.resources.values()) {
      i = Math.min(i, rt.machine.settings.heartbeatIntervalMs);
    }
    return Number.isFinite(i) ? i : 10_000;
  }

  private minTimeoutMs(): number {
    let t = Infinity;
    for (const r of this.cfg.resources) if (r.self) t = Math.min(t, r.self.timeoutMs);
    return Number.isFinite(t) ? t : 5_000;
  }

  /** A connection that carries nothing for two intervals plus a timeout is dead. */
  private idleTimeoutMs(): number {
    let i = 0;
    for (const r of this.cfg.resources) {
      if (r.self) i = Math.max(i, 2 * r.self.heartbeatIntervalMs + r.self.timeoutMs);
    }
    return i || 25_000;
  }

  // -------------------------------------------------------------------------
  // Control

  /** `ctl status`: every (or the named) resource's status view, freshly ticked. */
  status(names?: string[]): { result: StatusResult; unknown: string[] } {
    const { picked, unknown } = this.pick(names && names.length > 0 ? names : "all");
    const now = performance.now();
    for (const rt of picked) this.feed(rt, { type: "tick", now });
    return {
      result: {
        node: this.node,
        version: VERSION,
        pid: Deno.pid,
        uptimeMs: now - this.startedAt,
        resources: picked.map((rt) => statusOf(rt.machine)),
      },
      unknown,
    };
  }

  /** `ctl role`: a role command to each named resource. */
  role(
    role: Role,
    names: string[] | "all",
    force: boolean,
  ): { result: RoleResult; unknown: string[] } {
    const { picked, unknown } = this.pick(names);
    const changed: RoleResult["changed"] = [];
    const now = performance.now();
    for (const rt of picked) {
      changed.push({ resource: rt.name, from: rt.machine.role, to: role });
      if (force) this.opts.logger.warning(`forced to ${role} by the operator`, rt.name);
      this.feed(rt, { type: "command", now, command: { role, force } });
    }
    return { result: { changed }, unknown };
  }

  recentEvents(limit = EVENT_BUFFER): DaemonEvent[] {
    return this.events.slice(-limit);
  }

  subscribe(fn: (e: DaemonEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  private pick(names: string[] | "all"): { picked: RuntimeResource[]; unknown: string[] } {
    if (names === "all" || (names.length === 1 && names[0] === "all")) {
      return { picked: [...this.resources.values()], unknown: [] };
    }
    const picked: RuntimeResource[] = [];
    const unknown: string[] = [];
    for (const n of names) {
      const rt = this.resources.get(n);
      if (rt) picked.push(rt);
      else unknown.push(n);
    }
    return { picked, unknown };
  }

  // -------------------------------------------------------------------------
  // Signals: reload and shutdown

  /** SIGHUP: parse, validate, diff, apply. A bad file keeps the old configuration. */
  async reload(): Promise<void> {
    const log = this.opts.logger;
    let result;
    try {
      result = await loadConfig(this.opts.configPath, { node: this.node });
    } catch (e) {
      log.error(`reload refused, keeping the old configuration: ${(e as Error).message}`);
      this.emit(null, "reload", "error", `reload refused: ${(e as Error).message}`);
      return;
    }
    const fileErrors = result.errors.filter((e) => e.resource === undefined);
    if (!result.config || fileErrors.length > 0) {
      for (const e of result.errors) log.error(`reload refused: ${formatDiagnostic(e)}`);
      log.error("reload refused, keeping the old configuration");
      const why = result.errors.map((e) => formatDiagnostic(e)).join("; ");
      this.emit(null, "reload", "error", `reload refused, old configuration kept: ${why}`);
      return;
    }
    // What the reload event carries besides the summary: skipped resources, settings needing a restart.
    const notes = result.errors.map((e) => `${formatDiagnostic(e)} (resource skipped)`);
    for (const note of notes) log.error(`reload: ${note}`);
    const cfg = result.config;
    for (const k of ["listen", "control", "stateDir"] as const) {
      const was = JSON.stringify(this.cfg.global[k]), now = JSON.stringify(cfg.global[k]);
      if (was !== now) {
        notes.push(`${k} changed from ${was} to ${now}; restart the daemon to apply it`);
        log.warning(`reload: ${notes.at(-1)}`);
      }
    }
    if (JSON.stringify(this.cfg.key) !== JSON.stringify(cfg.key)) {
      notes.push("[key] changed; restart the daemon to apply it");
      log.warning(`reload: ${notes.at(-1)}`);
    }
    const usable = usableResources(result);
    const added: string[] = [], removed: string[] = [], changed: string[] = [];
    const now = performance.now();
    for (const [name, rt] of this.resources) {
      if (usable.some((r) => r.name === name)) continue;
      removed.push(name);
      this.feed(rt, { type: "command", now, command: { role: "init" } });
    }
    this.cfg = cfg;
    this.updateAccess(cfg);
    for (const res of usable) {
      const rt = this.resources.get(res.name);
      if (!rt) {
        added.push(res.name);
        const restored = await this.store.load(res.name);
        this.addResource(res, restored.state);
        continue;
      }
      const settings = resourceSettings(cfg, res.name);
      if (
        JSON.stringify(settings) !== JSON.stringify(rt.machine.settings) ||
        JSON.stringify(res.self) !== JSON.stringify(rt.view)
      ) {
        changed.push(res.name);
        updateSettings(rt.machine, settings);
        rt.view = res.self!;
      }
    }
    for (const name of removed) {
      const rt = this.resources.get(name)!;
      // Dropped once its service is stopped.
      const drop = async () => {
        while (!this.stopped && (mayBeActive(rt.machine) || rt.machine.busy)) {
          await sleep(100, this.lifetime.signal);
        }
        // Unless a later reload brought it back meanwhile.
        const back = this.cfg.resources.some((r) => r.name === name && r.self !== null);
        if (!back && this.resources.get(name) === rt) this.resources.delete(name);
      };
      drop();
    }
    this.reconcileDialers();
    this.updateTitle();
    const applied = `configuration reloaded: ${usable.length} resource(s); ` +
      `added [${added.join(", ")}], removed [${removed.join(", ")}], changed [${
        changed.join(", ")
      }]`;
    log.info(applied);
    this.emit(
      null,
      "reload",
      notes.length > 0 ? "warning" : "info",
      [applied, ...notes].join("; "),
    );
  }

  /** SIGTERM/SIGINT: stop or hand over what runs here, then exit. */
  shutdown(reason: string) {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.opts.logger.info(`shutting down (${reason})`);
    const now = performance.now();
    for (const rt of this.resources.values()) this.feed(rt, { type: "shutdown", now });
    // Bound the wait: the longest stop plus its panic, then leave regardless.
    let limit = 5000;
    for (const rt of this.resources.values()) {
      const st = rt.machine.settings;
      const hook = Math.max(st.hookTimeoutMs, st.methodTimeoutMs.start ?? 0);
      limit = Math.max(limit, 2 * st.stopTimeoutMs + hook);
    }
    this.shutdownTimer = setTimeout(() => {
      this.shutdownTimer = null;
      if (!this.stopped) {
        this.opts.logger.error("shutdown timed out: leaving the guard to finish");
        this.finish(1);
      }
    }, limit);
    this.maybeExit();
  }

  private maybeExit() {
    if (!this.shuttingDown || this.stopped) return;
    for (const rt of this.resources.values()) if (!rt.quiesced) return;
    // Let the releases reach the peers before closing.
    const pending = [...this.resources.values()].map((rt) => rt.effects);
    Promise.all(pending).then(() => sleep(100, this.lifetime.signal)).then(() => this.finish(0));
  }

  private async finish(code: number) {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.shutdownTimer !== null) clearTimeout(this.shutdownTimer);
    this.lifetime.abort(); // ends every dialer
    this.hookAbort.abort();
    await Promise.all([...this.dialers.values()].map((d) => d.done));
    await this.serializer.idle();
    if (code === 0 && this.opts.guard) {
      for (const rt of this.resources.values()) {
        if (!mayBeActive(rt.machine)) await this.opts.guard.disarm(rt.name).catch(() => {});
      }
    }
    await this.listener?.close();
    for (const set of this.peerConns.values()) for (const c of set) await c.close("shutting down");
    this.opts.logger.info(`exiting with status ${code}`);
    this.opts.onExit?.(code);
  }

  private updateTitle() {
    const parts = [...this.resources.values()].slice(0, 4).map((rt) =>
      `${rt.name} (${rt.machine.role})`
    );
    const more = this.resources.size > 4 ? ` +${this.resources.size - 4}` : "";
    try {
      process.title = `hastmon: ${this.node} ${parts.join(" ")}${more}`;
    } catch { /* not all platforms allow it */ }
  }
}

function ok(o: HookOutcome) {
  return o.kind === "exit" && o.code === 0;
}

/** The worse of two outcomes for a group: unknown beats stopped beats running. */
function worse(a: HookOutcome, b: HookOutcome): HookOutcome {
  const rank = (o: HookOutcome) => o.kind !== "exit" ? 3 : o.code === 0 ? 0 : o.code === 1 ? 1 : 2;
  return rank(b) > rank(a) ? b : a;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** Wait `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

export type { HookMethod };
