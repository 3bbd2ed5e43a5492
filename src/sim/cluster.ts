/**
 * A simulated cluster: several nodes, each running the daemon's own node
 * runtime (src/runtime/node.ts) over a simulated `Io` (io.ts): a virtual
 * clock, an in-memory network that carries real frames through the real
 * codec, modelled hook processes and services, a disk that holds the real
 * state-file texts, and a guard process per daemon (guard.ts). Faults are
 * injected on command. Deterministic for a given seed.
 *
 * Real (virtual) time is global; each node sees it through its own clock,
 * `offset + rate·t`, with rates within the configured skew bound.
 */
import type { Defects } from "../core/machine.ts";
import type {
  HookEffect,
  HookOutcome,
  Message,
  NodeId,
  ResourceSettings,
  RoleCommand,
  SchaRequest,
  Time,
} from "../core/types.ts";
import { NodeRuntime } from "../runtime/node.ts";
import { lostState } from "../runtime/state_file.ts";
import { batchBody, parseBatch } from "../wire/codec.ts";
import { guardSlackMs, leaseMs as leaseOf } from "../core/timing.ts";
import { Checker } from "./checker.ts";
import { SimGuard } from "./guard.ts";
import { SimIo } from "./io.ts";
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
  /** Effective settings of each resource on each node (nodes may differ). */
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

/** One member's service process on one node. */
interface MemberModel {
  running: boolean;
  /** From its start's beginning until a stop of it completed (or the node died). */
  active: boolean;
}

/** What can go wrong on a node, switched by the scenario. */
export interface NodeFaults {
  hangStatus: boolean;
  hangStop: boolean;
  slowStart: boolean;
  diskFull: boolean;
  fence: "ok" | "fail" | "hang";
  /** Kill the daemon at the n-th call it makes into the world from now; null: no. */
  killAfterActs: number | null;
  /** The node's heartbeats claim a lease and stop bound this many times longer (a liar). */
  inflateClaims: number;
  /** This member dies again shortly after every start (its probe keeps failing). */
  crashloop: string | null;
  /** This member's start exits 1. */
  startFails: string | null;
  /** This member's stop hangs. */
  stopHangs: string | null;
  /** Every monitor_check here vetoes (exit 1). */
  vetoCheck: boolean;
}

/** One simulated node: its machine (powered or not), daemon, guard, disk and faults. */
export interface SimNode {
  name: NodeId;
  rate: number;
  offset: number;
  /** The daemon process runs (false after a crash or kill -9). */
  daemonUp: boolean;
  /** The machine is powered (false after a crash). */
  powered: boolean;
  paused: boolean;
  /** Bumped on every daemon start and death so that stale callbacks are dropped. */
  incarnation: number;
  runtime: NodeRuntime | null;
  guard: SimGuard | null;
  /** State-file texts by resource: what survives a restart. */
  disk: Map<string, string>;
  /** This node's settings of each resource (a reload changes them). */
  settings: Map<string, ResourceSettings>;
  faults: NodeFaults;
  /** Work that arrived while the daemon was frozen, in order. */
  backlog: (() => void)[];
  /** A SIGTERM is being handled: the daemon exits once everything quiesced. */
  terminating: boolean;
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
  private services = new Map<string, Map<string, MemberModel>>();
  /** Start hooks in flight, by resource/node: the guard kills them before it stops. */
  private starts = new Map<string, Set<() => void>>();
  readonly transcript: TranscriptLine[] = [];
  private transcriptLimit: number;

  constructor(readonly opts: ClusterOptions) {
    this.rng = new Rng(opts.seed);
    this.resources = [...opts.settings.keys()];
    this.transcriptLimit = opts.transcriptLimit ?? 200;
    const names = new Set<NodeId>();
    for (const perNode of opts.settings.values()) for (const n of perNode.keys()) names.add(n);
    for (const name of names) {
      const settings = new Map<string, ResourceSettings>();
      for (const [r, perNode] of opts.settings) {
        const s = perNode.get(name);
        if (s) settings.set(r, s);
      }
      this.nodes.set(name, {
        name,
        rate: 1 + this.rng.range(0, opts.clockSkew * 0.99),
        offset: this.rng.range(0, 1e6),
        daemonUp: false,
        powered: true,
        paused: false,
        incarnation: 0,
        runtime: null,
        guard: null,
        disk: new Map(),
        settings,
        faults: {
          hangStatus: false,
          hangStop: false,
          slowStart: false,
          diskFull: false,
          fence: "ok",
          killAfterActs: null,
          inflateClaims: 1,
          crashloop: null,
          startFails: null,
          stopHangs: null,
          vetoCheck: false,
        },
        backlog: [],
        terminating: false,
      });
    }
    this.checker = new Checker(this, opts.settings);
  }

  /** A node's local clock at real time t. */
  local(node: SimNode, t = this.now): number {
    return node.offset + node.rate * t;
  }

  /** The real time at which `node`'s clock shows `local` (never before now). */
  realAt(node: SimNode, local: Time): number {
    return Math.max(this.now, (local - node.offset) / node.rate);
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

  /** The members of `resource` on `node`, as modelled processes. */
  private members(resource: string, node: NodeId): Map<string, MemberModel> {
    const key = `${resource}/${node}`;
    let s = this.services.get(key);
    if (!s) this.services.set(key, s = new Map());
    return s;
  }

  private member(resource: string, node: NodeId, member: string): MemberModel {
    const all = this.members(resource, node);
    let m = all.get(member);
    if (!m) all.set(member, m = { running: false, active: false });
    return m;
  }

  /** Is any member of the resource active on the node? */
  isActive(resource: string, node: NodeId): boolean {
    for (const m of this.members(resource, node).values()) if (m.active) return true;
    return false;
  }

  /** Does every member of the resource run on the node? */
  isRunning(resource: string, node: NodeId): boolean {
    const settings = this.nodes.get(node)?.settings.get(resource);
    if (!settings) return false;
    return settings.members.every((m) => this.member(resource, node, m.name).running);
  }

  // -------------------------------------------------------------------------
  // Daemon life cycle and faults

  /**
   * Start the daemon on `name`, with the state on its disk; with `loseState`, none (a new
   * state_dir); with `damageState`, every state lost as a damaged journal says so.
   */
  startDaemon(
    name: NodeId,
    opts: { loseState?: boolean; damageState?: boolean; stateTexts?: Map<string, string> } = {},
  ) {
    const node = this.nodes.get(name)!;
    if (!node.powered) {
      node.powered = true;
      for (const r of this.resources) this.allStopped(r, name);
    }
    if (opts.loseState) node.disk.clear();
    if (opts.damageState) {
      for (const r of this.resources) node.disk.set(r, lostState(r, "simulated damage"));
    }
    if (opts.stateTexts) { for (const [r, t] of opts.stateTexts) node.disk.set(r, t); }
    node.daemonUp = true;
    node.paused = false;
    node.terminating = false;
    node.incarnation++;
    node.backlog = [];
    this.checker.onDaemonStart(name);
    const how = opts.loseState ? " (state lost)" : opts.damageState ? " (state damaged)" : "";
    this.note(name, `daemon start${how}`);
    node.guard = new SimGuard(this.guardWorld(node));
    const io = new SimIo(this, node, node.incarnation);
    const runtime = new NodeRuntime(io, { defects: this.opts.defects });
    node.runtime = runtime;
    for (const r of this.resources) {
      const settings = node.settings.get(r);
      // The daemon may die while it starts (kill-between counts its first acts too).
      if (!settings || node.runtime !== runtime) continue;
      runtime.add(settings, node.disk.get(r) ?? null);
    }
  }

  /** Power loss: daemon, guard and services die at once. */
  crash(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.powered) return;
    this.note(name, "CRASH (node and its services)");
    node.powered = false;
    node.guard?.kill();
    this.killDaemonProcess(node);
    for (const r of this.resources) this.allStopped(r, name, "node crashed");
  }

  /** kill -9 of the daemon: services survive; the guard process stops them. */
  killDaemon(name: NodeId, why = "") {
    const node = this.nodes.get(name)!;
    if (!node.daemonUp) return;
    this.note(name, `KILL -9 daemon${why ? ` (${why})` : ""}`);
    this.killDaemonProcess(node);
    this.notifyPeersDown(name);
    node.guard?.daemonGone();
  }

  private killDaemonProcess(node: SimNode) {
    node.daemonUp = false;
    node.paused = false;
    node.incarnation++;
    node.runtime = null;
    node.backlog = [];
  }

  private notifyPeersDown(name: NodeId) {
    for (const other of this.nodes.values()) {
      if (other.name === name || !other.daemonUp) continue;
      const inc = other.incarnation;
      this.at(this.now + this.opts.net.maxDelayMs, () => {
        this.toDaemon(other, inc, () => {
          for (const r of this.resources) this.checker.onPeerDown(r, other.name, name);
          other.runtime?.peerDown(name);
        });
      });
    }
  }

  /** SIGTERM: the daemon hands over or stops what runs, then exits (its guard with it). */
  terminate(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.daemonUp || node.terminating) return;
    this.note(name, "SIGTERM");
    node.terminating = true;
    const inc = node.incarnation;
    this.toDaemon(node, inc, () => node.runtime?.shutdown());
  }

  /** Every resource quiesced after SIGTERM: the daemon exits cleanly. */
  onQuiesced(node: SimNode) {
    if (!node.terminating || !node.runtime?.quiesced) return;
    const inc = node.incarnation;
    // As the daemon does: wait for the last writes and messages, then exit.
    this.at(this.now + 100, () => {
      if (node.incarnation !== inc || !node.daemonUp) return;
      this.note(node.name, "daemon exits (SIGTERM)");
      this.killDaemonProcess(node);
      this.notifyPeersDown(node.name);
      node.guard?.daemonGone(); // whatever is still armed (a stop that failed) it stops
    });
  }

  /** SIGSTOP; `resume` is SIGCONT. */
  pause(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.daemonUp || node.paused) return;
    this.note(name, "SIGSTOP");
    node.paused = true;
  }

  resume(name: NodeId) {
    const node = this.nodes.get(name)!;
    if (!node.paused) return;
    this.note(name, "SIGCONT");
    node.paused = false;
    const backlog = node.backlog;
    node.backlog = [];
    for (const work of backlog) {
      if (!node.daemonUp || node.paused) break;
      work();
    }
    if (node.daemonUp) node.runtime?.wake();
  }

  /** SIGHUP with new settings for this node (from `change` of its current ones). */
  reload(name: NodeId, change: (s: ResourceSettings) => ResourceSettings) {
    const node = this.nodes.get(name)!;
    for (const [r, s] of node.settings) node.settings.set(r, change(s));
    if (!node.daemonUp) return;
    this.note(name, "SIGHUP (settings changed)");
    const inc = node.incarnation;
    this.toDaemon(node, inc, () => {
      for (const s of node.settings.values()) node.runtime?.reconfigure(s);
    });
  }

  /** Run `work` in the daemon of incarnation `inc`: now, at SIGCONT, or never if it died. */
  toDaemon(node: SimNode, inc: number, work: () => void) {
    if (node.incarnation !== inc || !node.daemonUp) return;
    if (node.paused) {
      node.backlog.push(() => {
        if (node.incarnation === inc && node.daemonUp) work();
      });
      return;
    }
    work();
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

  /** The service processes die on their own (the daemon only learns it from status). */
  serviceDies(name: NodeId) {
    this.note(name, "service process dies");
    for (const r of this.resources) {
      for (const m of this.members(r, name).values()) m.running = false;
      this.checker.onRunning(r);
    }
  }

  /** One member's process dies on its own (the daemon learns it from its probe). */
  memberDies(name: NodeId, resource: string, member: string) {
    if (!this.member(resource, name, member).running) return;
    this.note(name, `member ${member} dies`);
    this.setRunning(resource, name, member, false);
  }

  /** Switch a hook behaviour of a node. */
  setHang(name: NodeId, what: "status" | "stop" | "start", on: boolean) {
    const f = this.nodes.get(name)!.faults;
    if (what === "status") f.hangStatus = on;
    else if (what === "stop") f.hangStop = on;
    else f.slowStart = on;
  }

  /** An operator command on one node. */
  command(name: NodeId, resource: string, command: RoleCommand) {
    const node = this.nodes.get(name)!;
    this.note(
      name,
      `ctl role ${command.role}${command.force ? " --force" : ""}${
        command.to ? ` --to ${command.to}` : ""
      } ${resource}`,
    );
    this.toDaemon(node, node.incarnation, () => node.runtime?.command(resource, command));
  }

  /** A scha_control request on one node (as a fault monitor or an operator would send it). */
  request(name: NodeId, resource: string, request: SchaRequest) {
    const node = this.nodes.get(name)!;
    const what = `scha_control ${request.optag}${request.member ? ` -R ${request.member}` : ""}`;
    this.note(name, what);
    this.toDaemon(node, node.incarnation, () =>
      node.runtime?.request(resource, request, (r) => {
        if (node.daemonUp) this.note(name, `${what}: ${r.code} (${r.message})`);
      }));
  }

  // -------------------------------------------------------------------------
  // The simulated world the Io reaches

  /** A frame from one daemon to another: the real decoder, delay, loss, order per link. */
  sendFrame(from: NodeId, to: NodeId, messages: Message[]) {
    const sender = this.nodes.get(from)!;
    const out = sender.faults.inflateClaims === 1
      ? messages
      : messages.map((m) =>
        m.type === "heartbeat"
          ? {
            ...m,
            leaseMs: m.leaseMs * sender.faults.inflateClaims,
            stopTimeoutMs: m.stopTimeoutMs * sender.faults.inflateClaims,
          }
          : m
      );
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
    // Through the real decoder (which copies and checks every field); the JSON text
    // itself is left out: it costs a third of a run and proves nothing more.
    const body = batchBody(out);
    this.at(at, () => {
      if (this.blocked.has(key) || !dest.daemonUp) return;
      this.toDaemon(dest, dest.incarnation, () => {
        const batch = parseBatch(body);
        if (batch instanceof Error) throw batch; // we built it: a bug
        for (const msg of batch.messages) this.checker.onDeliver(msg.resource, from, to, msg);
        dest.runtime?.receive(from, batch.messages);
        this.noteLeases(dest);
      });
    });
  }

  /** Tell the checker of the leases a node's machines hold now (the truth the margins need). */
  private noteLeases(node: SimNode) {
    for (const r of this.resources) {
      const m = node.runtime?.machine(r);
      if (!m || m.role !== "primary" || m.leaseUntil === null || !Number.isFinite(m.leaseUntil)) {
        continue;
      }
      const end = this.realAt(node, m.leaseUntil);
      const stoppedBy = this.realAt(node, m.leaseUntil + m.settings.stopTimeoutMs);
      this.checker.onLease(r, node.name, end, stoppedBy);
    }
  }

  /** A state file written atomically, after an fsync's time; refused when the disk is full. */
  writeState(
    node: SimNode,
    inc: number,
    resource: string,
    text: string,
    done: (error: string | null) => void,
  ) {
    const ms = this.rng.range(0.5, 3) / node.rate;
    this.at(this.now + ms, () => {
      // A daemon killed before its rename leaves the old file.
      if (node.incarnation !== inc || !node.daemonUp) return;
      if (node.faults.diskFull) {
        this.toDaemon(node, inc, () => done("No space left on device (os error 28)"));
        return;
      }
      node.disk.set(resource, text);
      this.toDaemon(node, inc, () => done(null));
    });
  }

  /** A hook process: its duration and outcome, and what it does to the service. */
  runHook(
    node: SimNode,
    inc: number,
    resource: string,
    fx: HookEffect,
    done: (outcome: HookOutcome) => void,
  ): () => void {
    const rate = node.rate;
    const f = node.faults;
    let over = false;
    const finish = (localMs: number, outcome: () => HookOutcome | null) => {
      this.at(this.now + localMs / rate, () => {
        if (over) return;
        const o = outcome();
        if (o === null) return;
        over = true;
        this.toDaemon(node, inc, () => done(o));
      });
    };
    const member = fx.member ?? resource;
    switch (fx.method) {
      case "status":
        if (f.hangStatus) finish(fx.timeoutMs, () => ({ kind: "timeout" }));
        else {
          finish(this.rng.range(...this.opts.hooks.statusMs), () => ({
            kind: "exit",
            code: this.member(resource, node.name, member).running ? 0 : 1,
          }));
        }
        return () => {};
      case "start": {
        this.note(
          node.name,
          `start ${resource}${member !== resource ? `/${member}` : ""} (epoch ${fx.epoch})`,
        );
        this.beginActive(resource, node.name, member);
        // A slow start may run past the lease; the daemon kills it then (cancel).
        const settings = node.settings.get(resource)!;
        const ms = f.slowStart
          ? this.rng.range(3, 8) * leaseOf(settings)
          : this.rng.range(...this.opts.hooks.startMs);
        const key = `${resource}/${node.name}`;
        const inFlight = this.starts.get(key) ?? new Set();
        this.starts.set(key, inFlight);
        finish(Math.min(ms, fx.timeoutMs), () => {
          inFlight.delete(kill);
          if (ms > fx.timeoutMs) return { kind: "timeout" };
          if (f.startFails === member) return { kind: "exit", code: 1 };
          this.setRunning(resource, node.name, member, true);
          if (f.crashloop === member) {
            const I = settings.heartbeatIntervalMs;
            this.at(this.now + this.rng.range(0.3 * I, 1.5 * I) / rate, () => {
              if (this.member(resource, node.name, member).running) {
                this.note(node.name, `member ${member} dies`);
                this.setRunning(resource, node.name, member, false);
              }
            });
          }
          return { kind: "exit", code: 0 };
        });
        const kill = () => {
          if (over) return;
          over = true;
          inFlight.delete(kill);
          this.note(node.name, `start ${resource} killed`);
          // The group dies within the grace; the daemon hears of it then.
          this.at(this.now + 1 / rate, () => {
            this.toDaemon(node, inc, () => done({ kind: "killed", signal: "SIGTERM" }));
          });
        };
        inFlight.add(kill);
        return kill;
      }
      case "stop":
        this.note(node.name, `stop ${resource}${member !== resource ? `/${member}` : ""}`);
        if (f.hangStop || f.stopHangs === member) {
          this.checker.onStopHung(resource, node.name, !!node.settings.get(resource)?.hasPanic);
          finish(fx.timeoutMs, () => ({ kind: "timeout" }));
        } else {
          const d = Math.min(this.rng.range(...this.opts.hooks.stopMs), fx.timeoutMs * 0.9);
          finish(d, () => {
            this.memberStopped(resource, node.name, member, "stopped");
            return { kind: "exit", code: 0 };
          });
        }
        return () => {};
      case "panic":
        this.note(node.name, "panic: node goes down");
        this.at(this.now + 1, () => this.crash(node.name));
        return () => {};
      case "fence": {
        const target = fx.args[0];
        this.note(node.name, `fence ${target} (${f.fence})`);
        if (f.fence === "hang") finish(fx.timeoutMs, () => ({ kind: "timeout" }));
        else {
          finish(this.rng.range(...this.opts.hooks.statusMs), () => {
            if (f.fence === "fail") return { kind: "exit", code: 1 };
            if (target && this.nodes.has(target)) {
              // A fence power-cycles its target (STONITH): down now, back a little later.
              this.checker.onFenced(target);
              this.crash(target);
              const back = 5 * (node.settings.get(resource)?.heartbeatIntervalMs ?? 1000);
              this.at(this.now + back, () => {
                if (!this.nodes.get(target)!.powered) this.startDaemon(target);
              });
            }
            return { kind: "exit", code: 0 };
          });
        }
        return () => {};
      }
      case "monitor_check":
        finish(this.rng.range(...this.opts.hooks.statusMs), () => ({
          kind: "exit",
          code: f.vetoCheck ? 1 : 0,
          ...(f.vetoCheck ? { output: "simulated veto" } : {}),
        }));
        return () => {};
      default:
        // Notifications and the monitor methods: a quick script that says nothing back.
        finish(0.1, () => ({ kind: "exit", code: 0 }));
        return () => {};
    }
  }

  private setRunning(resource: string, node: NodeId, member: string, running: boolean) {
    const m = this.member(resource, node, member);
    if (m.running === running) return;
    m.running = running;
    this.checker.onRunning(resource);
  }

  private beginActive(resource: string, node: NodeId, member: string) {
    const was = this.isActive(resource, node);
    this.member(resource, node, member).active = true;
    if (!was) this.checker.onActive(resource, node, true);
  }

  /** A member's stop completed (by the daemon or its guard). */
  private memberStopped(resource: string, node: NodeId, member: string, why: string) {
    const m = this.member(resource, node, member);
    this.setRunning(resource, node, member, false);
    if (!m.active) return;
    m.active = false;
    if (!this.isActive(resource, node)) {
      this.note(node, `inactive ${resource} (${why})`);
      this.checker.onActive(resource, node, false);
    }
  }

  /** The node died or rebooted: nothing of it runs. */
  private allStopped(resource: string, node: NodeId, why?: string) {
    const wasActive = this.isActive(resource, node);
    for (const m of this.members(resource, node).values()) {
      m.running = false;
      m.active = false;
    }
    this.checker.onRunning(resource);
    if (wasActive && why) {
      this.note(node, `inactive ${resource} (${why})`);
      this.checker.onActive(resource, node, false);
    }
  }

  /** What a node's guard process can do. */
  private guardWorld(node: SimNode) {
    return {
      realAt: (local: Time) => this.realAt(node, local),
      localNow: () => this.local(node),
      at: (at: number, fn: () => void) => this.at(at, fn),
      slackMs: (resource: string) => guardSlackMs(node.settings.get(resource)?.timeoutMs ?? 0),
      daemonFrozen: () => node.daemonUp && node.paused,
      stop: (resource: string, why: string, panicAllowed: boolean) =>
        this.guardStop(node, resource, why, panicAllowed),
      panic: (resource: string, why: string) => {
        if (!node.settings.get(resource)?.hasPanic) return;
        this.note(node.name, `${why}: panic, node goes down`);
        this.crash(node.name);
      },
    };
  }

  /** The guard stops every member, in reverse order, within stop_timeout; panic if that fails. */
  private guardStop(node: SimNode, resource: string, why: string, panicAllowed: boolean) {
    const settings = node.settings.get(resource);
    if (!settings || !node.powered || !this.isActive(resource, node.name)) return;
    this.note(node.name, `${why}: stop ${resource}`);
    // As the real guard does: a start still running is killed before the stop.
    for (const kill of [...(this.starts.get(`${resource}/${node.name}`) ?? [])]) kill();
    const hangs = node.faults.hangStop ||
      settings.members.some((m) => m.name === node.faults.stopHangs);
    if (hangs) {
      this.checker.onStopHung(resource, node.name, settings.hasPanic);
      this.at(this.now + settings.stopTimeoutMs / node.rate, () => {
        if (this.isActive(resource, node.name) && settings.hasPanic && panicAllowed) {
          this.note(node.name, "guard: stop failed: panic, node goes down");
          this.crash(node.name);
        }
      });
      return;
    }
    let t = this.now;
    for (const m of [...settings.members].reverse()) {
      const d = Math.min(this.rng.range(...this.opts.hooks.stopMs), settings.stopTimeoutMs * 0.9) /
        settings.members.length;
      t += d / node.rate;
      this.at(t, () => {
        if (node.powered) this.memberStopped(resource, node.name, m.name, "stopped by guard");
      });
    }
  }

  /** Nodes on which the service runs now (every member). */
  runningNodes(resource: string): NodeId[] {
    return [...this.nodes.keys()].filter((n) => this.isRunning(resource, n));
  }

  /** Nodes on which the resource is active now. */
  activeNodes(resource: string): NodeId[] {
    return [...this.nodes.keys()].filter((n) => this.isActive(resource, n));
  }
}
