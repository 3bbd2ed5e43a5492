/**
 * The simulated `Io` of one daemon incarnation: the node runtime above it is
 * the daemon's own (src/runtime/node.ts); only the clock, the network, the
 * processes, the disk and the guard process are simulated here, by the
 * cluster. An incarnation that died (kill -9, crash, a kill between two
 * effects) does nothing any more, whatever its runtime still tries.
 */
import type { Io } from "../runtime/node.ts";
import type {
  Effect,
  GuardCommand,
  HookEffect,
  HookOutcome,
  LogLevel,
  Message,
  NodeId,
  Time,
} from "../core/types.ts";
import type { Cluster, SimNode } from "./cluster.ts";

/** The world of one daemon process of the simulation. */
/** The wall-clock ms at which every simulation starts (runs stay reproducible). */
const SIM_WALL_START = 1_767_225_600_000;

export class SimIo implements Io {
  #wakeToken = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly node: SimNode,
    readonly incarnation: number,
  ) {}

  /** Is this daemon process still the one that runs? */
  get alive(): boolean {
    return this.node.incarnation === this.incarnation && this.node.daemonUp;
  }

  /**
   * Every call that reaches the world counts: the "kill between two effects"
   * fault ends the process at the n-th one, leaving the rest of the batch
   * undone as a real kill -9 would.
   */
  #act(): boolean {
    if (!this.alive) return false;
    const f = this.node.faults;
    if (f.killAfterActs !== null) {
      f.killAfterActs -= 1;
      if (f.killAfterActs <= 0) {
        f.killAfterActs = null;
        this.cluster.killDaemon(this.node.name, "between two effects");
        return false;
      }
    }
    return true;
  }

  now(): Time {
    return this.cluster.local(this.node);
  }

  /** A wall clock that starts at a fixed date (2026-01-01) when the simulation starts. */
  wall(): number {
    return SIM_WALL_START + this.cluster.now;
  }

  setWake(at: Time | null): void {
    const token = ++this.#wakeToken;
    if (at === null || !this.alive) return;
    this.cluster.at(this.cluster.realAt(this.node, at) + 0.001, () => {
      if (token !== this.#wakeToken) return;
      this.cluster.toDaemon(this.node, this.incarnation, () => this.node.runtime?.wake());
    });
  }

  send(to: NodeId, messages: Message[]): void {
    if (!this.#act()) return;
    this.cluster.sendFrame(this.node.name, to, messages);
  }

  runHook(resource: string, hook: HookEffect, done: (outcome: HookOutcome) => void): () => void {
    if (!this.#act()) return () => {};
    return this.cluster.runHook(this.node, this.incarnation, resource, hook, done);
  }

  writeState(resource: string, text: string, done: (error: string | null) => void): void {
    if (!this.#act()) return;
    this.cluster.writeState(this.node, this.incarnation, resource, text, done);
  }

  guard(resource: string, command: GuardCommand, done: () => void): void {
    if (!this.#act()) return;
    this.node.guard?.apply(resource, command);
    this.cluster.at(
      this.cluster.now + 0.01,
      () => this.cluster.toDaemon(this.node, this.incarnation, done),
    );
  }

  log(level: LogLevel, message: string, _resource: string | null): void {
    if (!this.alive) return;
    if (level === "error" || level === "warning" || Deno.env.get("SIMDEBUG")) {
      this.cluster.note(this.node.name, `${level}: ${message}`);
    }
  }

  transition(resource: string, e: Effect & { type: "transition" }): void {
    if (!this.alive) return;
    this.cluster.note(this.node.name, `role ${e.from} -> ${e.to} (epoch ${e.epoch}): ${e.reason}`);
    this.cluster.checker.onTransition(resource, this.node.name, e.to, e.cause);
  }

  quiesced(_resource: string): void {
    if (this.alive) this.cluster.onQuiesced(this.node);
  }
}
