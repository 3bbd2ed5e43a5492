/**
 * The daemon: the node runtime (src/runtime/node.ts) given real I/O
 * (io.ts), its peer links (peers.ts), its control answers (control.ts), and
 * its life cycle: start, reload (reload.ts), shutdown, exit.
 */
import type { HookMethod, NodeId, ResourceSettings } from "../core/types.ts";
import {
  type EffectiveConfig,
  type ResourceNodeConfig,
  resourceSettings,
  usableResources,
} from "../config/mod.ts";
import { NodeRuntime } from "../runtime/node.ts";
import type { Guard } from "./guard_link.ts";
import type { Logger } from "./log.ts";
import { StateStore } from "./state_store.ts";
import { EventLog } from "./events.ts";
import { DaemonIo } from "./io.ts";
import { Peers, sleep } from "./peers.ts";
import { PeerAccess } from "./peer_access.ts";
import { prepareStateDir } from "./safe_open.ts";
import { configuredHookEnv } from "./hook_hygiene.ts";
import { DaemonControl } from "./control.ts";
import { validateResource } from "./validate.ts";
import { planReload, ReloadRefused } from "./reload.ts";
import { leanConfig } from "./lean_config.ts";
import { nativeSpawnUnavailable } from "./native_spawn.ts";
import { setProcessTitle } from "./proc_title.ts";
import { localClock } from "../control/format_scha.ts";

/** What the daemon needs from its caller. */
export interface DaemonOptions {
  configPath: string;
  node?: string;
  logger: Logger;
  /** The dead man's switch; null runs without one (tests of the runtime alone). */
  guard: Guard | null;
  /** Called once the daemon has stopped everything and may exit. */
  onExit?: (code: number) => void;
  /** Called after every hook command with its duration (the metrics' histograms). */
  onHookRun?: (resource: string, method: HookMethod, ms: number) => void;
}

/** The running daemon. Create with {@link Daemon.start}. */
export class Daemon {
  cfg: EffectiveConfig;
  readonly node: NodeId;
  readonly runtime: NodeRuntime;
  readonly events: EventLog;
  readonly control: DaemonControl;
  readonly #io: DaemonIo;
  readonly #peers: Peers;
  readonly #store: StateStore;
  /** This node's configuration of each resource it runs. */
  readonly #views = new Map<string, ResourceNodeConfig>();
  /** Aborted on exit: ends the dialers' waits and kills running hooks. */
  readonly #lifetime = new AbortController();
  #shutdownTimer: ReturnType<typeof setTimeout> | null = null;
  #shuttingDown = false;
  #stopped = false;

  private constructor(
    cfg: EffectiveConfig,
    access: PeerAccess,
    private opts: DaemonOptions,
  ) {
    this.cfg = cfg;
    this.node = cfg.node;
    this.#store = new StateStore(cfg.global.stateDir);
    this.events = new EventLog(this.node);
    this.#peers = new Peers(cfg, {
      node: this.node,
      logger: opts.logger,
      access,
      onMessages: (from, messages) => this.runtime.receive(from, messages),
      onDown: (node) => this.runtime.peerDown(node),
    });
    this.#io = new DaemonIo({
      node: this.node,
      logger: opts.logger,
      guard: opts.guard,
      store: this.#store,
      events: this.events,
      view: (r) => this.#views.get(r),
      // Fault monitors started by monitor_start find the daemon with scha_control through it.
      hookEnv: () => this.#hookEnv(),
      send: (to, messages) => this.#peers.send(to, messages),
      onWake: () => this.runtime.wake(),
      onTransition: () => this.#updateTitle(),
      onQuiesced: () => this.#maybeExit(),
      onHookRun: opts.onHookRun,
      lifetime: this.#lifetime.signal,
    });
    this.runtime = new NodeRuntime(this.#io, { clock: localClock });
    this.control = new DaemonControl({
      node: this.node,
      runtime: this.runtime,
      events: this.events,
      logger: opts.logger,
      startedAt: performance.now(),
    });
  }

  /** Restore state, listen, dial peers, and start every resource. */
  static async start(cfg: EffectiveConfig, opts: DaemonOptions): Promise<Daemon> {
    await prepareStateDir(cfg.global.stateDir);
    const d = new Daemon(cfg, await PeerAccess.create(cfg), opts);
    for (const w of await d.#store.open()) {
      opts.logger.warning(`state ${w.path}: ${w.reason}`);
    }
    d.#peers.listen();
    opts.logger.info(
      `node ${d.node}: listening on ${cfg.global.listen.host}:${d.#peers.port}, ` +
        `${cfg.resources.length} resource(s)`,
    );
    // Loaded now, so that a daemon that cannot spawn off its event loop says so at once.
    const whyNot = nativeSpawnUnavailable();
    if (whyNot !== null) {
      opts.logger.warning(
        `hooks: spawned through Deno.Command, which holds the daemon until each hook has ` +
          `started (native spawn unavailable: ${whyNot})`,
      );
    }
    const usable = usableResources({ config: cfg, errors: [], warnings: [] });
    const settings = usable.map((res) => resourceSettings(cfg, res.name));
    leanConfig(cfg); // after the core's settings, which read the provenance of timeouts
    usable.forEach((res, i) => {
      d.#views.set(res.name, res.self!);
      d.runtime.add(settings[i], d.#store.text(res.name));
    });
    d.#peers.dial();
    d.#updateTitle();
    return d;
  }

  /** The port the peer listener is bound to (useful with port 0). */
  get peerPort(): number {
    return this.#peers.port;
  }

  /**
   * SIGHUP: parse, validate, diff, apply. A bad file keeps the old
   * configuration. Reloads run one at a time, in the order asked: a member's
   * validate takes time, and an older file must not land after a newer one.
   */
  reload(): Promise<void> {
    const run = this.#reloading.then(() => this.#reloadOnce());
    this.#reloading = run.catch(() => {});
    return run;
  }

  #reloading: Promise<void> = Promise.resolve();

  async #reloadOnce(): Promise<void> {
    const log = this.opts.logger;
    const running = new Map<string, ResourceSettings>();
    for (const name of this.runtime.names()) {
      running.set(name, this.runtime.machine(name)!.settings);
    }
    let plan;
    try {
      plan = await planReload(this.opts.configPath, this.node, this.cfg, running);
    } catch (e) {
      if (!(e instanceof ReloadRefused)) throw e;
      for (const r of e.reasons) log.error(`reload refused: ${r}`);
      log.error("reload refused, keeping the old configuration");
      this.events.emit(
        null,
        "reload",
        "error",
        `reload refused, old configuration kept: ${e.message}`,
      );
      return;
    }
    for (const w of plan.warnings) log.warning(`reload: ${w}`);
    // The members' validate (Solaris VALIDATE) may refuse a resource's new configuration:
    // it is then not added, or keeps running as configured before.
    for (const name of [...plan.added, ...plan.changed]) {
      const view = plan.usable.find((r) => r.name === name)?.self;
      const failures = view ? await validateResource(plan.cfg, view) : [];
      if (failures.length === 0) continue;
      for (const f of failures) {
        log.error(`reload: ${f.message}; ${name} keeps its previous configuration`, name);
        this.events.emit(name, "log", "error", `reload refused for ${name}: ${f.message}`);
      }
      plan.added = plan.added.filter((n) => n !== name);
      plan.changed = plan.changed.filter((n) => n !== name);
      plan.usable = plan.usable.filter((r) => r.name !== name);
      // The configuration kept is the old one for this resource, so that the next reload
      // of the same file sees the change again (and validates it again).
      const old = this.cfg.resources.find((r) => r.name === name);
      plan.cfg = {
        ...plan.cfg,
        resources: plan.cfg.resources.flatMap((r) => r.name !== name ? [r] : old ? [old] : []),
      };
      if (old) plan.usable.push(old);
    }
    this.cfg = plan.cfg;
    for (const res of plan.usable) this.#views.set(res.name, res.self!);
    for (const name of plan.removed) this.runtime.remove(name);
    for (const name of plan.added) {
      this.runtime.reconfigure(plan.settings.get(name)!, this.#store.text(name));
    }
    for (const name of plan.changed) this.runtime.reconfigure(plan.settings.get(name)!);
    for (const w of await this.#peers.reconfigure(plan.cfg)) log.warning(`reload: ${w}`);
    this.#updateTitle();
    // Numbered: an operator's second reload is news, never a "repeat" the log folds away.
    const summary = `configuration reloaded (reload ${++this.#reloads}): ${plan.usable.length} ` +
      `resource(s); added [${plan.added.join(", ")}], removed [${
        plan.removed.join(", ")
      }], changed [${plan.changed.join(", ")}]`;
    log.info(summary);
    // What needs a restart or was skipped is part of the event: the console shows only events.
    this.events.emit(
      null,
      "reload",
      plan.warnings.length > 0 ? "warning" : "info",
      [summary, ...plan.warnings].join("; "),
    );
  }

  #reloads = 0;

  /** What `hook_env` adds to every hook's environment: one object per configuration. */
  #hookEnv(): Readonly<Record<string, string>> {
    if (this.#hookEnvOf?.cfg !== this.cfg) {
      this.#hookEnvOf = {
        cfg: this.cfg,
        env: { ...configuredHookEnv(this.cfg), HASTMON_CONTROL: this.cfg.global.control.path },
      };
    }
    return this.#hookEnvOf.env;
  }

  #hookEnvOf: { cfg: EffectiveConfig; env: Readonly<Record<string, string>> } | null = null;

  /** SIGTERM/SIGINT: stop or hand over what runs here, then exit. */
  shutdown(reason: string) {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.opts.logger.info(`shutting down (${reason})`);
    this.runtime.shutdown();
    // Bound the wait: the longest stop plus its panic, then leave regardless.
    let limit = 5000;
    for (const name of this.runtime.names()) {
      const st = this.runtime.machine(name)!.settings;
      const hook = Math.max(st.hookTimeoutMs, ...st.members.map((m) => m.startTimeoutMs));
      limit = Math.max(limit, 2 * st.stopTimeoutMs + hook);
    }
    this.#shutdownTimer = setTimeout(() => {
      this.#shutdownTimer = null;
      if (!this.#stopped) {
        this.opts.logger.error("shutdown timed out: leaving the guard to finish");
        this.#finish(1);
      }
    }, limit);
    this.#maybeExit();
  }

  #maybeExit() {
    if (!this.#shuttingDown || this.#stopped || !this.runtime.quiesced) return;
    // Let the releases reach the peers and the state reach the disk before closing.
    (async () => {
      while (!this.runtime.idle && !this.#stopped) await sleep(20, this.#lifetime.signal);
      await sleep(100, this.#lifetime.signal);
      await this.#finish(0);
    })();
  }

  async #finish(code: number) {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#io.stopWake();
    if (this.#shutdownTimer !== null) clearTimeout(this.#shutdownTimer);
    this.#lifetime.abort(); // kills running hooks
    await this.#peers.close();
    // A clean exit lets the saves under way end first; any other must not hang on a sick disk
    // (nothing rests on a save that has not ended: it is never announced).
    if (code === 0) await this.#store.close();
    else void this.#store.close();
    this.opts.logger.info(`exiting with status ${code}`);
    this.opts.onExit?.(code);
  }

  #updateTitle() {
    const names = this.runtime.names();
    const parts = names.slice(0, 4).map((n) => `${n} (${this.runtime.machine(n)!.role})`);
    const more = names.length > 4 ? ` +${names.length - 4}` : "";
    setProcessTitle(`hastmon: ${this.node} ${parts.join(" ")}${more}`);
  }
}
