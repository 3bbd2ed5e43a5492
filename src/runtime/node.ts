/**
 * The node runtime: one node's machines, its one clock of wake-ups, its outbox,
 * and the one effect interpreter. The daemon and the simulator both run this
 * code; they differ only in the `Io` they give it (real sockets, processes,
 * files and guard; or a virtual clock, network, processes and disk).
 *
 * - **One tick per node.** Each machine's next wake-up sits in one min-heap;
 *   a wake steps only the machines that are due, never a scan of all.
 * - **One frame per peer per tick.** Messages go to an outbox and leave once
 *   per batch of events (a wake, a received frame, a hook that ended), one
 *   `send` per peer, whatever the number of resources.
 * - **Effects run in the order the machine returns them**, with one rule for
 *   the disk: a persist comes before anything announced or started after it
 *   (messages, start, notification hooks, fence wait until the state is
 *   written), and never before stopping (stop, cancel, panic, the guard and
 *   probes do not wait for a disk).
 * - **Hooks go through lanes** (lanes.ts): start and stop of a resource never
 *   overlap; a start waits until the guard has been told that it may begin.
 *
 * Callback-based: every `Io` callback must come later, never from inside the
 * call that asked for it. The runtime never reads a clock or a machine field
 * to decide anything; it only executes what the machines return.
 */
import { createMachine, type Defects, type Machine, step, wakeAt } from "../core/machine.ts";
import { type ResourceStatus, statusOf } from "../core/status.ts";
import { SCHA_ERR } from "../core/scha.ts";
import type {
  Effect,
  Event,
  GiveoverPlan,
  GuardCommand,
  HookEffect,
  HookMethod,
  HookOutcome,
  LogLevel,
  MemberStatusValue,
  Message,
  NodeId,
  PersistedState,
  ResourceSettings,
  RoleCommand,
  SchaRequest,
  Time,
} from "../core/types.ts";
import { TRACKED_METHODS } from "../core/types.ts";
import { MinHeap } from "../lib/min_heap.ts";
import { encodeState, parseState } from "./state_file.ts";
import { laneOf, Lanes } from "./lanes.ts";
import { DEFAULT_LAG_LIMIT_MS, type LoadStatus, Shedder, type ShedNote } from "./shedding.ts";

export { DEFAULT_NOTIFY_PER_SECOND, type LoadStatus } from "./shedding.ts";

/** Everything the runtime needs from the world. */
export interface Io {
  /** Monotonic milliseconds of this node. */
  now(): Time;
  /** Wall-clock milliseconds (restart windows and pingpong marks outlive a restart in it). */
  wall(): number;
  /** Call the runtime's `wake` at local time `at` (replacing the previous request); null: never. */
  setWake(at: Time | null): void;
  /** Send messages to a peer as one frame. */
  send(to: NodeId, messages: Message[]): void;
  /** Run a hook and call `done` with its outcome later; returns a function that kills it. */
  runHook(resource: string, hook: HookEffect, done: (outcome: HookOutcome) => void): () => void;
  /** Write a resource's state (one line) atomically; `done(null)` once durable, or with the error. */
  writeState(resource: string, text: string, done: (error: string | null) => void): void;
  /** Tell the guard process; `done` once it has been written to it. */
  guard(resource: string, command: GuardCommand, done: () => void): void;
  log(level: LogLevel, message: string, resource: string | null): void;
  /** A role change (for the event stream, the process title, the checker). */
  transition(resource: string, effect: Effect & { type: "transition" }): void;
  /** A resource has nothing active any more after shutdown or removal. */
  quiesced(resource: string): void;
  /**
   * How long the oldest hook waiting to be started has waited, ms (a daemon
   * paces its process spawns); a sign of overload like a late timer. Optional.
   */
  hookBacklogMs?(): number;
}

/** How a runtime is set up. */
export interface RuntimeOptions {
  /** Planted defects of the core (tests and the simulator only). */
  defects?: Defects;
  /** Node-wide budget of notification hooks per second (burst the same). */
  notifyPerSecond?: number;
  /** Lateness that counts as a sign of overload (shedding.ts), ms. */
  lagLimitMs?: number;
  /** Renders a wall-clock time in status sentences (default: hours and minutes, UTC). */
  clock?: (wallMs: number) => string;
}

/** Hooks that announce or start something: they wait until the state before them is written. */
const GATED = new Set<HookMethod>(["start", "role", "connect", "disconnect", "complain", "fence"]);

interface Waiting {
  gate: number;
  run: () => void;
  drop: () => void;
}

interface HookRun {
  cancelled: boolean;
  kill: (() => void) | null;
}

/** A routine probe held back while the node sheds load, until `at` at the latest. */
interface HeldProbe {
  at: Time;
  rt: Rt;
  /** Queue it: `urgent` when something now waits on it (it is no longer routine). */
  run: (urgent: boolean) => void;
}

/** One resource as the runtime runs it. */
interface Rt {
  name: string;
  machine: Machine;
  wakeAt: Time;
  wakeGen: number;
  /** Persists issued, and the highest one durably written. */
  persistIssued: number;
  persistDone: number;
  writing: boolean;
  /** The newest state waiting for the write in progress (older ones are superseded). */
  nextWrite: { seq: number; state: PersistedState } | null;
  /** A state the disk refused: nothing is announced until a retry writes it. */
  refused: { seq: number; state: PersistedState } | null;
  waiting: Waiting[];
  hooks: Map<number, HookRun>;
  guardInFlight: number;
  guardWaiters: (() => void)[];
  /** Routine probes of this resource held back while the node sheds load. */
  held: number;
  /** Notification hooks queued and not yet begun, by method: a newer one replaces their args. */
  queuedNotes: Map<HookMethod, HookEffect>;
  removing: boolean;
  /** Configured again while being removed: started afresh once quiesced. */
  readd: ResourceSettings | null;
  /** The last state persisted (what a fresh machine restores from after a re-add). */
  lastState: PersistedState | null;
  quiesced: boolean;
  /** Who waits for the answer to each request and setstatus, by id. */
  replies: Map<number, (r: Reply) => void>;
}

/** The answer to a request: a SCHA_ERR number, in words, and a giveover's plan. */
export interface Reply {
  code: number;
  message: string;
  plan?: GiveoverPlan;
}

/** The runtime of one node. */
export class NodeRuntime {
  readonly #io: Io;
  readonly #defects: Defects;
  readonly #resources = new Map<string, Rt>();
  readonly #heap = new MinHeap<{ at: Time; rt: Rt; gen: number }>((a, b) => a.at < b.at);
  readonly #outbox = new Map<NodeId, Message[]>();
  readonly #lanes = new Lanes();
  #later: (() => void)[] = [];
  #depth = 0;
  #armedWake: Time | null = null;
  /** When the timer was last set (local time). */
  #armedWhen: Time = -Infinity;
  readonly #shed: Shedder;
  readonly #held = new MinHeap<HeldProbe>((a, b) => a.at < b.at);
  #requestSeq = 0;
  readonly #clock: ((wallMs: number) => string) | undefined;

  constructor(io: Io, opts: RuntimeOptions = {}) {
    this.#io = io;
    this.#defects = opts.defects ?? {};
    this.#clock = opts.clock;
    this.#shed = new Shedder(
      io.now(),
      opts.notifyPerSecond,
      opts.lagLimitMs ?? DEFAULT_LAG_LIMIT_MS,
    );
  }

  // ---------------------------------------------------------------------------
  // Entry points: each runs its work as one batch, then flushes and re-arms.

  /**
   * Add a resource, with the text of its state file (null when there is none;
   * a text that does not parse makes the machine distrust it).
   */
  add(settings: ResourceSettings, stateText: string | null): void {
    this.#batch(() => {
      let restored: PersistedState | null | "invalid" = null;
      if (stateText !== null) {
        try {
          restored = parseState(stateText, settings.name);
        } catch (e) {
          this.#io.log("warning", `state file not trusted: ${(e as Error).message}`, settings.name);
          restored = "invalid";
        }
      }
      const now = this.#io.now();
      const { machine, effects } = createMachine(
        settings,
        now,
        restored,
        this.#defects,
        this.#io.wall() - now,
      );
      const rt: Rt = {
        name: settings.name,
        machine,
        wakeAt: -Infinity,
        wakeGen: 0,
        persistIssued: 0,
        persistDone: 0,
        writing: false,
        nextWrite: null,
        refused: null,
        waiting: [],
        hooks: new Map(),
        guardInFlight: 0,
        guardWaiters: [],
        held: 0,
        queuedNotes: new Map(),
        removing: false,
        readd: null,
        lastState: restored === "invalid" ? null : restored,
        quiesced: false,
        replies: new Map(),
      };
      this.#resources.set(settings.name, rt);
      this.#execute(rt, effects);
      this.#scheduleWake(rt);
    });
  }

  /** New settings for a resource (a reload); an unknown one is added with its state file's text. */
  reconfigure(settings: ResourceSettings, stateText: string | null = null): void {
    const rt = this.#resources.get(settings.name);
    if (!rt) return this.add(settings, stateText);
    if (rt.removing) {
      // Removed and added back before it stopped: it starts afresh once it has.
      rt.readd = settings;
      return;
    }
    this.#batch(() => this.#feed(rt, { type: "reconfigure", now: this.#io.now(), settings }));
  }

  /** The resource left the configuration: it is stopped, then dropped. */
  remove(name: string): void {
    const rt = this.#resources.get(name);
    if (!rt) return;
    this.#batch(() => {
      rt.removing = true;
      this.#releaseHeldOf(rt);
      this.#feed(rt, { type: "remove", now: this.#io.now() });
    });
  }

  /** A frame of messages from a peer. A message for an unknown resource is dropped alone. */
  receive(from: NodeId, messages: readonly Message[]): void {
    this.#batch(() => {
      const now = this.#io.now();
      for (const msg of messages) {
        const rt = this.#resources.get(msg.resource);
        if (!rt) {
          this.#io.log("debug", `message for unknown resource ${msg.resource} from ${from}`, null);
          continue;
        }
        this.#feed(rt, { type: "message", now, from, msg });
      }
    });
  }

  /** The transport lost every connection to `peer`. */
  peerDown(peer: NodeId): void {
    this.#batch(() => {
      const now = this.#io.now();
      for (const rt of this.#resources.values()) {
        if (rt.machine.settings.peers.includes(peer)) {
          this.#feed(rt, { type: "peer_down", now, peer });
        }
      }
    });
  }

  /** An operator's role command for one resource. */
  command(name: string, command: RoleCommand): void {
    const rt = this.#resources.get(name);
    if (!rt) return;
    this.#batch(() => this.#feed(rt, { type: "command", now: this.#io.now(), command }));
  }

  /**
   * A scha_control request for resource `name`; `reply` is called once, when
   * the machine answers (maybe much later: a restart waits until the group
   * is online again). False when there is no such resource.
   */
  request(name: string, request: SchaRequest, reply: (r: Reply) => void): boolean {
    const rt = this.#resources.get(name);
    if (!rt || rt.removing) return false;
    const id = ++this.#requestSeq;
    rt.replies.set(id, reply);
    this.#batch(() => this.#feed(rt, { type: "request", now: this.#io.now(), id, request }));
    return true;
  }

  /** scha_resource_setstatus for a member of `name`; false when there is no such resource. */
  setStatus(
    name: string,
    member: string,
    status: MemberStatusValue,
    message: string,
    reply: (r: Reply) => void,
  ): boolean {
    const rt = this.#resources.get(name);
    if (!rt || rt.removing) return false;
    const id = ++this.#requestSeq;
    rt.replies.set(id, reply);
    this.#batch(() =>
      this.#feed(rt, { type: "setstatus", now: this.#io.now(), id, member, status, message })
    );
    return true;
  }

  /** Stop or hand over everything: every machine is told, then quiesces. */
  shutdown(): void {
    this.#batch(() => {
      // Held probes go now: the daemon waits for every hook to end before it exits.
      this.#releaseWhere(() => true);
      const now = this.#io.now();
      for (const rt of this.#resources.values()) this.#feed(rt, { type: "shutdown", now });
    });
  }

  /** The timer asked for with `setWake` has come: step every machine that is due. */
  wake(): void {
    this.#batch(() => {
      const now = this.#io.now();
      // How late the timer fired (after the time asked for, or after it was asked for if
      // that was already past), and how long hooks wait to start: the signs of overload.
      const late = this.#armedWake === null ? 0 : now - Math.max(this.#armedWake, this.#armedWhen);
      this.#armedWake = null;
      this.#say(this.#shed.observe(now, late, this.#io.hookBacklogMs?.() ?? 0));
      this.#say(this.#shed.settle(now));
      this.#releaseDue(now);
      const due: Rt[] = [];
      for (;;) {
        const top = this.#heap.peek();
        if (!top || top.at > now + 1) break;
        this.#heap.pop();
        if (top.gen !== top.rt.wakeGen || !this.#resources.has(top.rt.name)) continue;
        top.rt.wakeAt = Infinity;
        due.push(top.rt);
      }
      for (const rt of due) this.#feed(rt, { type: "tick", now });
    });
  }

  // ---------------------------------------------------------------------------
  // Queries: they change nothing.

  /** Names of the resources this node runs. */
  names(): string[] {
    return [...this.#resources.keys()];
  }

  /** The status view of a resource now, or null when there is no such resource. */
  status(name: string): ResourceStatus | null {
    const rt = this.#resources.get(name);
    return rt ? statusOf(rt.machine, this.#io.now(), this.#clock) : null;
  }

  /**
   * A machine as of now, read-only, for pure queries (a plan, a check): a
   * shallow copy whose clock is now, so that nothing of the machine changes.
   */
  machine(name: string): Readonly<Machine> | null {
    const m = this.#resources.get(name)?.machine;
    if (!m) return null;
    const now = this.#io.now();
    return now > m.now ? { ...m, now } : m;
  }

  /** Notification hooks dropped by the node-wide budget (or while shedding) since start. */
  get notificationsDropped(): number {
    return this.load().notificationsDropped;
  }

  /** The node's load: lateness, what it sheds now, and what it dropped or postponed so far. */
  load(): LoadStatus {
    return this.#shed.status(this.#io.now(), this.#held.size);
  }

  /** Has every resource quiesced (after `shutdown`)? */
  get quiesced(): boolean {
    for (const rt of this.#resources.values()) if (!rt.quiesced) return false;
    return true;
  }

  /** Is nothing left to run: no hook in a lane, no state being written, no guard write? */
  get idle(): boolean {
    if (!this.#lanes.idle || this.#held.size > 0) return false;
    for (const rt of this.#resources.values()) {
      if (rt.writing || rt.guardInFlight > 0) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------------------
  // The interpreter.

  #batch(work: () => void) {
    if (this.#depth > 0) {
      this.#later.push(work);
      return;
    }
    this.#depth++;
    try {
      work();
      while (this.#later.length > 0) this.#later.shift()!();
    } finally {
      this.#depth--;
    }
    this.#flush();
    this.#armWake();
  }

  #feed(rt: Rt, ev: Event) {
    let fx: Effect[];
    try {
      fx = step(rt.machine, ev);
    } catch (e) {
      // A transition the machine does not expect is a bug: logged, never fatal, and whoever
      // waits for an answer to this event gets one.
      this.#io.log("error", `internal error on ${ev.type}: ${(e as Error).stack ?? e}`, rt.name);
      if (ev.type === "request" || ev.type === "setstatus") {
        const reply = rt.replies.get(ev.id);
        rt.replies.delete(ev.id);
        reply?.({ code: SCHA_ERR.INTERNAL, message: `internal error: ${(e as Error).message}` });
      }
      return;
    }
    this.#execute(rt, fx);
    this.#scheduleWake(rt);
  }

  #execute(rt: Rt, fx: Effect[]) {
    // A state the disk refused is tried again before anything new is announced.
    if (rt.refused && !rt.writing) this.#write(rt, rt.refused.seq, rt.refused.state);
    for (const e of fx) {
      switch (e.type) {
        case "persist":
          rt.lastState = e.state;
          this.#persist(rt, e.state);
          break;
        case "send": {
          const msg = e.msg, to = e.to;
          this.#afterState(rt, () => this.#enqueue(to, msg), () => {});
          break;
        }
        case "hook":
          this.#hook(rt, e);
          break;
        case "cancel": {
          const run = rt.hooks.get(e.id);
          if (run) {
            run.cancelled = true;
            run.kill?.();
          }
          break;
        }
        case "guard":
          rt.guardInFlight++;
          this.#io.guard(rt.name, e.command, () => {
            if (--rt.guardInFlight === 0) {
              for (const w of rt.guardWaiters.splice(0)) w();
            }
          });
          break;
        case "log":
          this.#io.log(e.level, e.message, rt.name);
          break;
        case "transition":
          // A held probe of this resource goes now: its machine waits for nothing
          // routine once its role changes (a takeover's start waits for probes in flight).
          this.#releaseHeldOf(rt);
          this.#io.transition(rt.name, e);
          break;
        case "reply": {
          // Answered once what it changed (a restart counted, a pingpong mark) is on disk.
          const reply = rt.replies.get(e.id);
          rt.replies.delete(e.id);
          if (!reply) break;
          const r: Reply = {
            code: e.code,
            message: e.message,
            ...(e.plan ? { plan: e.plan } : {}),
          };
          this.#afterState(rt, () => reply(r), () =>
            reply({
              code: SCHA_ERR.INTERNAL,
              message: `${r.message}; but the state could not be written to disk`,
            }));
          break;
        }
        case "quiesced":
          rt.quiesced = true;
          if (rt.removing) {
            this.#resources.delete(rt.name);
            // Nobody will answer what still waits: the group is gone from this node.
            for (const reply of rt.replies.values()) {
              reply({
                code: SCHA_ERR.RG,
                message: `${rt.name} was removed from the configuration`,
              });
            }
            rt.replies.clear();
            const again = rt.readd;
            if (again) {
              const text = rt.lastState ? encodeState(rt.name, rt.lastState) : null;
              this.#later.push(() => this.add(again, text));
            }
          }
          this.#io.quiesced(rt.name);
          break;
      }
    }
  }

  /** Run `run` once every persist issued so far is on disk; `drop` if the disk refused it. */
  #afterState(rt: Rt, run: () => void, drop: () => void) {
    if (rt.refused) return drop();
    if (rt.persistDone >= rt.persistIssued) return run();
    rt.waiting.push({ gate: rt.persistIssued, run, drop });
  }

  #persist(rt: Rt, state: PersistedState) {
    const seq = ++rt.persistIssued;
    if (rt.writing) {
      rt.nextWrite = { seq, state }; // supersedes an older one not yet begun
      return;
    }
    this.#write(rt, seq, state);
  }

  #write(rt: Rt, seq: number, state: PersistedState) {
    let text: string;
    try {
      text = encodeState(rt.name, state);
    } catch (e) {
      // A state we could not read back is a bug: refuse it like a full disk.
      this.#io.log(
        "error",
        `refusing to persist an invalid state: ${(e as Error).message}`,
        rt.name,
      );
      this.#written(rt, seq, state, "invalid state");
      return;
    }
    rt.writing = true;
    this.#io.writeState(rt.name, text, (error) => {
      this.#batch(() => {
        rt.writing = false;
        this.#written(rt, seq, state, error);
      });
    });
  }

  #written(rt: Rt, seq: number, state: PersistedState, error: string | null) {
    if (error === null) {
      rt.persistDone = Math.max(rt.persistDone, seq);
      if (rt.refused && rt.refused.seq <= seq) {
        rt.refused = null;
        this.#io.log("info", "state written again: announcing resumes", rt.name);
      }
      const ready = rt.waiting.filter((w) => w.gate <= rt.persistDone);
      rt.waiting = rt.waiting.filter((w) => w.gate > rt.persistDone);
      for (const w of ready) w.run();
    } else {
      if (!rt.refused) {
        this.#io.log(
          "error",
          `cannot persist state (nothing is announced until it can): ${error}`,
          rt.name,
        );
      }
      rt.refused = { seq, state };
      // What waited on it is not announced, ever: the next heartbeat says it afresh.
      const dropped = rt.waiting.filter((w) => w.gate <= seq);
      rt.waiting = rt.waiting.filter((w) => w.gate > seq);
      for (const w of dropped) w.drop();
    }
    const next = rt.nextWrite;
    if (next && !rt.writing) {
      rt.nextWrite = null;
      this.#write(rt, next.seq, next.state);
    }
  }

  #enqueue(to: NodeId, msg: Message) {
    let box = this.#outbox.get(to);
    if (!box) this.#outbox.set(to, box = []);
    box.push(msg);
  }

  #flush() {
    for (const [to, messages] of this.#outbox) {
      if (messages.length > 0) this.#io.send(to, messages);
    }
    this.#outbox.clear();
  }

  #hook(rt: Rt, e: HookEffect) {
    const tracked = TRACKED_METHODS.includes(e.method);
    // Anything else the machine runs for this resource is not routine: what it held goes too.
    if (e.method !== "status" && tracked) this.#releaseHeldOf(rt);
    if (!tracked) {
      // Notifications are coalesced: one of a kind waits per resource, with the latest words.
      const queued = rt.queuedNotes.get(e.method);
      if (queued) {
        queued.args = e.args;
        queued.role = e.role;
        queued.epoch = e.epoch;
        return;
      }
      e = { ...e };
      rt.queuedNotes.set(e.method, e);
    }
    const run: HookRun = { cancelled: false, kill: null };
    rt.hooks.set(e.id, run);
    const finish = (outcome: HookOutcome, laneDone: () => void) => {
      rt.hooks.delete(e.id);
      laneDone();
      if (tracked) this.#batch(() => this.#feedHookDone(rt, e, outcome));
    };
    const queue = (urgent = false) =>
      this.#lanes.run(rt.name, laneOf(e.method, e.member), (laneDone) => {
        if (!tracked) {
          rt.queuedNotes.delete(e.method);
          // ...and rate-limited node-wide: what is optional gives way first under load.
          const now = this.#io.now();
          if (!this.#shed.takeNotification(now)) {
            this.#say(this.#shed.dropped(now, e.method), rt.name);
            return finish(
              { kind: "error", message: "dropped: notification rate exceeded" },
              laneDone,
            );
          }
        }
        const spawn = () => {
          if (run.cancelled) {
            return finish({ kind: "killed", signal: "SIGTERM" }, laneDone);
          }
          // A held probe that its resource now waits on is spawned as such (spawn_queue.ts).
          const hook = urgent ? { ...e, deferrableMs: undefined } : e;
          run.kill = this.#io.runHook(rt.name, hook, (outcome) => finish(outcome, laneDone));
        };
        const afterGuard = () => {
          // A start begins only once the guard knows it may (a kill -9 right after is covered).
          if (e.method === "start" && rt.guardInFlight > 0) rt.guardWaiters.push(spawn);
          else spawn();
        };
        if (!GATED.has(e.method)) return afterGuard();
        this.#afterState(
          rt,
          afterGuard,
          () => finish({ kind: "error", message: "state could not be persisted" }, laneDone),
        );
      });
    // A routine probe waits while the node sheds load, one probe interval at most. The
    // machine counts it in flight meanwhile: it is not asked for twice, and the next
    // one comes at the first slot after it ended (group.ts), so probing slows down.
    const now = this.#io.now();
    if (e.deferrableMs !== undefined && this.#shed.shedding(now)) {
      this.#shed.deferred();
      rt.held++;
      this.#held.push({ at: now + e.deferrableMs, rt, run: queue });
      return;
    }
    queue();
  }

  /** Run the held probes whose time has come (still routine). */
  #releaseDue(now: Time) {
    while (this.#held.size > 0 && this.#held.peek()!.at <= now + 1) {
      this.#run(this.#held.pop()!, false);
    }
  }

  /** Run at once the held probes that `which` picks (their node stops, or their resource acts). */
  #releaseWhere(which: (h: HeldProbe) => boolean) {
    const keep: HeldProbe[] = [];
    while (this.#held.size > 0) {
      const h = this.#held.pop()!;
      if (which(h)) this.#run(h, true);
      else keep.push(h);
    }
    for (const h of keep) this.#held.push(h);
  }

  /** Run at once the held probes of `rt`, if it has any. */
  #releaseHeldOf(rt: Rt) {
    if (rt.held > 0) this.#releaseWhere((h) => h.rt === rt);
  }

  #run(h: HeldProbe, urgent: boolean) {
    h.rt.held--;
    h.run(urgent);
  }

  /** Log a line of the load bookkeeping. */
  #say(note: ShedNote | null, resource: string | null = null) {
    if (note) this.#io.log(note.level, note.message, resource);
  }

  #feedHookDone(rt: Rt, e: HookEffect, outcome: HookOutcome) {
    if (!this.#resources.has(rt.name)) return;
    this.#feed(rt, { type: "hook_done", now: this.#io.now(), id: e.id, method: e.method, outcome });
  }

  #scheduleWake(rt: Rt) {
    if (!this.#resources.has(rt.name)) return;
    const at = wakeAt(rt.machine);
    if (at === rt.wakeAt) return;
    rt.wakeAt = at;
    rt.wakeGen++;
    this.#heap.push({ at, rt, gen: rt.wakeGen });
  }

  #armWake() {
    let top = this.#heap.peek();
    // Superseded wake-ups are dropped when they come to the top.
    while (top && (top.gen !== top.rt.wakeGen || !this.#resources.has(top.rt.name))) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    const held = this.#held.peek()?.at;
    const at = top === undefined ? held ?? null : Math.min(top.at, held ?? Infinity);
    if (at === this.#armedWake) return;
    this.#armedWake = at;
    this.#armedWhen = this.#io.now();
    this.#io.setWake(at);
  }
}
