/**
 * A simulated cluster: several nodes running the real failover machine
 * against a virtual clock, an in-memory network and modelled hooks, with
 * faults injected on command. Deterministic for a given seed.
 *
 * Real (virtual) time is global; each node sees it through its own clock,
 * `offset + rate·t`, with rates within the configured skew bound.
 */
import { createMachine, type Defects, type Machine, step, wakeAt } from "../core/machine.ts";
import type {
  Effect,
  Event,
  HookOutcome,
  Message,
  NodeId,
  PersistedState,
  ResourceSettings,
  RoleCommand,
} from "../core/types.ts";
import { Checker } from "./checker.ts";
import { leaseMs as leaseOf } from "../core/timing.ts";
import { Rng } from "./rng.ts";
import { MinHeap } from "../lib/min_heap.ts";

/** How hooks behave in the model (durations in ms of the node's clock). */
export interface HookModel {
  startMs: [number, number];
  stopMs: [number, number];
  statusMs: [number, number];
}

/** Network behaviour when no fault is active. */
export interface NetModel {
  minDelayMs: number;
  maxDelayMs: number;
  loss: number;
}

/** Everything a simulation needs. */
export interface ClusterOptions {
  seed: number;
  /** Effective settings of each resource on each node. */
  settings: Map<string, Map<NodeId, ResourceSettings>>;
  net: NetModel;
  hooks: HookModel;
  /** Upper bound of the clock-rate difference actually applied (fraction). */
  clockSkew: number;
  defects?: Defects;
  /** Keep this many transcript lines (the last ones). */
  transcriptLimit?: number;
}

interface QueueItem {
  at: number;
  order: number;
  run: () => void;
}

/** Timed actions in time order, ties broken by insertion order. */
class Queue {
  private heap = new MinHeap<QueueItem>(
    (a, b) => a.at < b.at || (a.at === b.at && a.order < b.order),
  );
  private order = 0;
  get size() {
    return this.heap.size;
  }
  push(at: number, run: () => void) {
    this.heap.push({ at, order: this.order++, run });
  }
  peek(): QueueItem | undefined {
    return this.heap.peek();
  }
  pop(): QueueItem | undefined {
    return this.heap.pop();
  }
}

interface ServiceModel {
  running: boolean;
  active: boolean;
}

interface SimNode {
  name: NodeId;
  rate: number;
  offset: number;
  /** The daemon process runs (false after a crash or kill -9). */
  daemonUp: boolean;
  /** The machine is powered (false after a crash). */
  powered: boolean;
  paused: boolean;
  /** Bumped on every daemon start so stale timers and hook results are dropped. */
  incarnation: number;
  machines: Map<string, Machine>;
  persisted: Map<string, PersistedState>;
  tickToken: Map<string, number>;
  /** Lease deadline per resource (local clock), as the guard process knows it. */
  lease: Map<string, number | null>;
  hangStatus: boolean;
  hangStop: boolean;
  slowStart: boolean;
  /** Start hooks in flight, by resource/id: calling one kills that start. */
  running: Map<string, () => void>;
  backlog: { resource: string; ev: (now: number) => Event; seen?: () => void }[];
}

/** One line of the readable transcript. */
export interface TranscriptLine {
  t: number;
  node: string;
  text: string;
}

/** The simulated cluster. */
export class Cluster {
  now = 0;
  readonly rng: Rng;
  readonly checker: Checker;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly resources: string[];
  private queue = new Queue();
  private blocked = new Set<string>();
  private linkLoss = new Map<string, number>();
  private linkDelay = new Map<string, number>();
  private lastDelivery = new Map<string, number>();
  private services = new Map<string, ServiceModel>();
  readonly transcript: TranscriptLine[] = [];
  private transcriptLimit: number;

  constructor(readonly opts: ClusterOptions) {
    this.rng = new Rng(opts.seed);
    this.resources = [...opts.settings.keys()];
    this.transcriptLimit = opts.transcriptLimit ?? 200;
    const names = new Set<NodeId>();
    for (const perNode of opts.settings.values()) for (const n of perNode.keys()) names.add(n);
    for (const name of names) {
      this.nodes.set(name, {
        name,
        rate: 1 + this.rng.range(0, opts.clockSkew * 0.99),
        offset: this.rng.range(0, 1e6),
        daemonUp: false,
        powered: true,
        paused: false,
        incarnation: 0,
        machines: new Map(),
        persisted: new Map(),
        tickToken: new Map(),
        lease: new Map(),
        hangStatus: false,
        hangStop: false,
        slowStart: false,
        running: new Map(),
        backlog: [],
      });
    }
    this.checker = new Checker(this, opts.settings);
  }

  /** A node's local clock at real time t. */
  local(node: SimNode, t = this.now): number {
    return node.offset + node.rate * t;
  }

  /** Schedule an action at real time `at`. */
  at(at: number, run: () => void) {
    this.queue.push(Math.max(at, this.now), run);
  }

  /** Run until real time `until`. */
  runUntil(until: number) {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.at > until) break;
      this.queue.pop();
      this.now = next.at;
      next.run();
    }
    this.now = until;
  }

  /** Record a transcript line. */
  note(node: string, text: string) {
    this.transcript.push({ t: this.now, node, text });
    if (this.transcript.length > this.transcriptLimit * 2) {
      this.transcript.splice(0, this.transcript.length - this.transcriptLimit);
    }
  }

  /** The transcript as text, one event per line: `  12.345 a  text`. */
  transcriptText(last = this.transcriptLimit): string {
    return this.transcript.slice(-last).map((l) =>
      `${(l.t / 1000).toFixed(3).padStart(9)} ${l.node.padEnd(3)} ${l.text}`
    ).join("\n");
  }

  service(resource: string, node: NodeId): ServiceModel {
    const key = `${resource}/${node}`;
    let s = this.services.get(key);
    if (!s) this.services.set(key, s = { running: false, active: false });
    return s;
  }

  // -------------------------------------------------------------------------
  // Daemon life cycle and faults

  /** Start the daemon on `name` (state from its state_dir unless `lose`). */
  startDaemon(name: NodeId, opts: { loseState?: boolean; roleOverride?: PersistedState } = {}) {
    const node = this.nodes.get(name)!;
    if (!node.powered) {
      node.powered = true;
      for (const r of this.resources) this.setRunning(r, name, false);
    }
    if (opts.loseState) node.persisted.clear();
    node.daemonUp = true;
    node.paused = false;
    node.incarnation++;
    node.machines.clear();
    this.checker.onDaemonStart(name);
    this.note(name, `daemon start${opts.loseState ? " (state lost)" : ""}`);
    for (const r of this.resources) {
      const settings = this.opts.settings.get(r)?.get(name);
      if (!settings) continue;
      const { machine, effects } = createMachine(
        settings,
        this.local(node),
        opts.roleOverride ?? node.persisted.get(r) ?? null,
        this.opts.defects,
      );
      node.machines.set(r, machine);
      this.apply(node, r, effects);
    }
  }

  /** Power loss: daemon and services die at once. */
  crash(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.powered) return;
    this.note(name, "CRASH (node and its services)");
    node.powered = false;
    this.killDaemonProcess(node);
    for (const r of this.resources) {
      this.setRunning(r, name, false);
      if (this.service(r, name).active) this.endActive(r, name, "node crashed");
    }
  }

  /** kill -9 of the daemon: services survive; the guard process stops them. */
  killDaemon(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.daemonUp) return;
    this.note(name, "KILL -9 daemon");
    this.killDaemonProcess(node);
    this.notifyPeersDown(name);
    for (const r of this.resources) this.guardStop(node, r, "daemon died");
  }

  private killDaemonProcess(node: SimNode) {
    node.daemonUp = false;
    node.paused = false;
    node.incarnation++;
    node.machines.clear();
    node.backlog = [];
  }

  private notifyPeersDown(name: NodeId) {
    for (const other of this.nodes.values()) {
      if (other.name === name) continue;
      const delay = this.opts.net.maxDelayMs;
      for (const r of this.resources) {
        if (!other.machines.has(r)) continue;
        this.at(this.now + delay, () => {
          this.deliver(
            other,
            r,
            (now) => ({ type: "peer_down", now, peer: name }),
            () => this.checker.onPeerDown(r, other.name, name),
          );
        });
      }
    }
  }

  /** SIGSTOP; `resume` is SIGCONT. */
  pause(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.daemonUp || node.paused) return;
    this.note(name, "SIGSTOP");
    node.paused = true;
    for (const r of this.resources) this.scheduleGuard(node, r);
  }

  resume(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.paused) return;
    this.note(name, "SIGCONT");
    node.paused = false;
    const backlog = node.backlog;
    node.backlog = [];
    for (const b of backlog) this.deliver(node, b.resource, b.ev, b.seen);
    for (const r of node.machines.keys()) this.scheduleTick(node, r);
  }

  /** Block messages from a to b (one direction). */
  block(a: NodeId, b: NodeId) {
    this.blocked.add(`${a}>${b}`);
  }
  unblock(a: NodeId, b: NodeId) {
    this.blocked.delete(`${a}>${b}`);
  }
  /** Loss probability and extra delay on a→b. */
  degrade(a: NodeId, b: NodeId, loss: number, extraDelayMs: number) {
    this.linkLoss.set(`${a}>${b}`, loss);
    this.linkDelay.set(`${a}>${b}`, extraDelayMs);
  }
  heal() {
    this.blocked.clear();
    this.linkLoss.clear();
    this.linkDelay.clear();
  }
  /** The service process dies on its own (the daemon only learns it from status). */
  serviceDies(name: NodeId) {
    this.note(name, "service process dies");
    for (const r of this.resources) this.setRunning(r, name, false);
  }

  setHang(name: NodeId, what: "status" | "stop" | "start", on: boolean) {
    const node = this.nodes.get(name)!;
    if (what === "status") node.hangStatus = on;
    else if (what === "stop") node.hangStop = on;
    else node.slowStart = on;
  }

  /** An operator command on one node. */
  command(name: NodeId, resource: string, command: RoleCommand) {
    const node = this.nodes.get(name)!;
    this.note(name, `ctl role ${command.role}${command.force ? " --force" : ""} ${resource}`);
    this.deliver(node, resource, (now) => ({ type: "command", now, command }));
  }

  // -------------------------------------------------------------------------
  // Event delivery and effects

  /** Step the machine with `ev` now, or at SIGCONT; `seen` runs when the machine gets it. */
  private deliver(
    node: SimNode,
    resource: string,
    ev: (now: number) => Event,
    seen?: () => void,
  ) {
    if (!node.daemonUp) return;
    if (node.paused) {
      node.backlog.push({ resource, ev, seen });
      return;
    }
    const m = node.machines.get(resource);
    if (!m) return;
    seen?.();
    const effects = step(m, ev(this.local(node)));
    this.apply(node, resource, effects);
  }

  private scheduleTick(node: SimNode, resource: string) {
    const m = node.machines.get(resource);
    if (!m) return;
    const token = (node.tickToken.get(resource) ?? 0) + 1;
    node.tickToken.set(resource, token);
    const wake = wakeAt(m);
    const real = Math.max(this.now, (wake - node.offset) / node.rate);
    const inc = node.incarnation;
    this.at(real + 0.001, () => {
      if (node.incarnation !== inc || node.tickToken.get(resource) !== token) return;
      if (node.paused) return; // resume reschedules
      this.deliver(node, resource, (now) => ({ type: "tick", now }));
    });
  }

  private apply(node: SimNode, resource: string, effects: Effect[]) {
    for (const fx of effects) {
      switch (fx.type) {
        case "send":
          this.send(node.name, fx.to, fx.msg);
          break;
        case "hook":
          this.runHook(node, resource, fx);
          break;
        case "persist":
          node.persisted.set(resource, structuredClone(fx.state));
          break;
        case "transition":
          this.note(node.name, `role ${fx.from} -> ${fx.to} (epoch ${fx.epoch}): ${fx.reason}`);
          this.checker.onTransition(resource, node.name, fx.to, fx.reason);
          break;
        case "lease":
          node.lease.set(resource, fx.until);
          break;
        case "log":
          if (fx.level === "error" || fx.level === "warning") {
            this.note(node.name, `${fx.level}: ${fx.message}`);
          }
          break;
        case "cancel":
          node.running.get(`${resource}/${fx.id}`)?.();
          break;
        case "quiesced":
          break;
      }
    }
    this.scheduleTick(node, resource);
  }

  private send(from: NodeId, to: NodeId, msg: Message) {
    const key = `${from}>${to}`;
    const dest = this.nodes.get(to);
    if (!dest || this.blocked.has(key)) return;
    const loss = this.linkLoss.get(key) ?? this.opts.net.loss;
    if (loss > 0 && this.rng.chance(loss)) return;
    const delay = this.rng.range(this.opts.net.minDelayMs, this.opts.net.maxDelayMs) +
      (this.linkDelay.get(key) ?? 0);
    // TCP keeps order on a link.
    const at = Math.max(this.now + delay, this.lastDelivery.get(key) ?? 0);
    this.lastDelivery.set(key, at);
    this.at(at, () => {
      if (this.blocked.has(key)) return;
      this.deliver(
        dest,
        msg.resource,
        (now) => ({ type: "message", now, from, msg }),
        () => this.checker.onDeliver(msg.resource, from, to, msg),
      );
    });
  }

  private runHook(node: SimNode, resource: string, fx: Effect & { type: "hook" }) {
    const svc = this.service(resource, node.name);
    const inc = node.incarnation;
    const rate = node.rate;
    const finish = (localMs: number, outcome: () => HookOutcome | null) => {
      this.at(this.now + localMs / rate, () => {
        if (node.incarnation !== inc || !node.daemonUp) return;
        const o = outcome();
        if (o === null) return;
        this.deliver(
          node,
          resource,
          (now) => ({ type: "hook_done", now, id: fx.id, method: fx.method, outcome: o }),
        );
      });
    };
    switch (fx.method) {
      case "status": {
        if (node.hangStatus) {
          finish(fx.timeoutMs, () => ({ kind: "timeout" }));
        } else {
          finish(
            this.rng.range(...this.opts.hooks.statusMs),
            () => ({ kind: "exit", code: svc.running ? 0 : 1 }),
          );
        }
        break;
      }
      case "start": {
        this.note(node.name, `start ${resource} (epoch ${fx.epoch})`);
        this.beginActive(resource, node.name);
        // A slow start may run past the lease; the daemon kills it then (cancel).
        const ms = node.slowStart
          ? this.rng.range(3, 8) * leaseOf(this.opts.settings.get(resource)!.get(node.name)!)
          : this.rng.range(...this.opts.hooks.startMs);
        const key = `${resource}/${fx.id}`;
        node.running.set(key, () => {
          node.running.delete(key);
          this.note(node.name, `start ${resource} killed`);
          finish(1, () => ({ kind: "killed", signal: "SIGTERM" }));
        });
        finish(Math.min(ms, fx.timeoutMs), () => {
          if (!node.running.delete(key)) return null; // killed meanwhile
          if (ms > fx.timeoutMs) return { kind: "timeout" };
          this.setRunning(resource, node.name, true);
          return { kind: "exit", code: 0 };
        });
        break;
      }
      case "stop": {
        this.note(node.name, `stop ${resource}`);
        if (node.hangStop) {
          finish(fx.timeoutMs, () => ({ kind: "timeout" }));
        } else {
          const d = Math.min(this.rng.range(...this.opts.hooks.stopMs), fx.timeoutMs * 0.9);
          finish(d, () => {
            this.setRunning(resource, node.name, false);
            if (svc.active) this.endActive(resource, node.name, "stopped");
            return { kind: "exit", code: 0 };
          });
        }
        break;
      }
      case "panic":
        this.note(node.name, "panic: node goes down");
        this.at(this.now + 1, () => this.crash(node.name));
        break;
      case "fence": {
        const target = fx.args[0];
        this.note(node.name, `fence ${target}`);
        finish(this.rng.range(...this.opts.hooks.statusMs), () => {
          if (target && this.nodes.has(target)) this.crash(target);
          return { kind: "exit", code: 0 };
        });
        break;
      }
      default:
        break; // notifications: nothing comes back
    }
  }

  private setRunning(resource: string, node: NodeId, running: boolean) {
    const s = this.service(resource, node);
    if (s.running === running) return;
    s.running = running;
    this.checker.onRunning(resource, running);
  }

  private beginActive(resource: string, node: NodeId) {
    const s = this.service(resource, node);
    if (s.active) return;
    s.active = true;
    this.checker.onActive(resource, node, true);
  }

  private endActive(resource: string, node: NodeId, why: string) {
    const s = this.service(resource, node);
    if (!s.active) return;
    s.active = false;
    this.note(node, `inactive ${resource} (${why})`);
    this.checker.onActive(resource, node, false);
  }

  /** The guard process: stops the service when the daemon is gone or frozen past its lease. */
  private guardStop(node: SimNode, resource: string, why: string) {
    const svc = this.service(resource, node.name);
    if (!svc.active) return;
    const settings = this.opts.settings.get(resource)?.get(node.name);
    if (!settings) return;
    this.note(node.name, `guard: stop ${resource} (${why})`);
    if (node.hangStop) {
      // The stop hangs; the guard runs panic after stop_timeout.
      this.at(this.now + settings.stopTimeoutMs / node.rate, () => {
        if (svc.active && settings.hasPanic) this.crash(node.name);
      });
      return;
    }
    const d = Math.min(this.rng.range(...this.opts.hooks.stopMs), settings.stopTimeoutMs * 0.9);
    this.at(this.now + d / node.rate, () => {
      this.setRunning(resource, node.name, false);
      if (svc.active) this.endActive(resource, node.name, "stopped by guard");
    });
  }

  private scheduleGuard(node: SimNode, resource: string) {
    const until = node.lease.get(resource);
    const settings = this.opts.settings.get(resource)?.get(node.name);
    if (until === null || until === undefined || !settings) return;
    const deadline = until + settings.timeoutMs / 2;
    const real = (deadline - node.offset) / node.rate;
    const inc = node.incarnation;
    this.at(real, () => {
      if (node.incarnation !== inc || !node.paused) return;
      if (node.lease.get(resource) !== until) return;
      this.guardStop(node, resource, "lease deadline passed while the daemon is frozen");
    });
  }

  /** Nodes on which the service process runs now. */
  runningNodes(resource: string): NodeId[] {
    return [...this.nodes.keys()].filter((n) => this.service(resource, n).running);
  }

  /** Nodes on which the resource is active now. */
  activeNodes(resource: string): NodeId[] {
    return [...this.nodes.keys()].filter((n) => this.service(resource, n).active);
  }
}

export type { SimNode };
