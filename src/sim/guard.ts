/**
 * The simulated guard process of one daemon incarnation: the same commands
 * the real guard (src/daemon/guard.ts) gets from the same effects, with the
 * same rules — stop at the lease deadline plus the slack, stop everything when
 * the daemon is gone, panic when a stop it backs up does not end in time, and
 * never a second panic after the daemon ran one.
 */
import type { GuardCommand, Time } from "../core/types.ts";

/** What the guard can do to the world (the cluster provides it). */
export interface GuardWorld {
  /** Real time at which this node's local clock shows `local`. */
  realAt(local: Time): number;
  /** The node's local clock now. */
  localNow(): Time;
  /** Run `fn` at real time `at`. */
  at(at: number, fn: () => void): void;
  /** Stop the resource's service (every member); `panic` when the stop fails and one is allowed. */
  stop(resource: string, why: string, panicAllowed: boolean): void;
  /** Run panic for the resource (the node goes down). */
  panic(resource: string, why: string): void;
  /** The slack of a resource's arm (half its timeout), in local ms. */
  slackMs(resource: string): number;
  /** The daemon is stopped by SIGSTOP now (the real guard reads /proc). */
  daemonFrozen(): boolean;
}

/** How often the guard looks at a daemon that is stopping a resource (local ms), as the real one. */
const FROZEN_POLL_MS = 50;

interface Watched {
  token: number;
  /** False once the daemon ran panic itself. */
  panic: boolean;
}

/** One guard process. */
export class SimGuard {
  #watched = new Map<string, Watched>();
  #panicked = new Set<string>();
  #token = 0;
  alive = true;

  constructor(private readonly world: GuardWorld) {}

  /** A command from the daemon, as the real guard reads it from its pipe. */
  apply(resource: string, cmd: GuardCommand): void {
    if (!this.alive) return;
    switch (cmd.action) {
      case "arm": {
        const w: Watched = { token: ++this.#token, panic: !this.#panicked.has(resource) };
        this.#watched.set(resource, w);
        if (cmd.until === null) return;
        const deadline = cmd.until + this.world.slackMs(resource);
        const token = w.token;
        this.world.at(this.world.realAt(deadline), () => {
          if (this.#watched.get(resource)?.token !== token) return;
          this.#stop(resource, "guard: lease deadline passed without a new arm");
        });
        return;
      }
      case "stopping": {
        const w = this.#watched.get(resource);
        if (!w) return;
        w.token = ++this.#token;
        const token = w.token;
        const limit = cmd.timeoutMs + this.world.slackMs(resource);
        const end = this.world.localNow() + limit;
        this.world.at(this.world.realAt(end), () => {
          const now = this.#watched.get(resource);
          if (!this.alive || now?.token !== token) return;
          this.#watched.delete(resource);
          if (now.panic) this.world.panic(resource, "guard: the daemon's stop did not end in time");
        });
        // Frozen in the middle of the stop, the daemon would leave members running.
        const poll = () => {
          if (!this.alive || this.#watched.get(resource)?.token !== token) return;
          if (this.world.daemonFrozen()) {
            return this.#stop(resource, "guard: the daemon is frozen in the middle of its stop");
          }
          const next = this.world.localNow() + FROZEN_POLL_MS;
          if (next < end) this.world.at(this.world.realAt(next), poll);
        };
        this.world.at(this.world.realAt(this.world.localNow() + FROZEN_POLL_MS), poll);
        return;
      }
      case "panicking": {
        this.#panicked.add(resource);
        const w = this.#watched.get(resource);
        if (w) w.panic = false;
        return;
      }
      case "disarm":
        this.#panicked.delete(resource);
        this.#watched.delete(resource);
        return;
    }
  }

  /** The daemon is gone (its pipe closed): stop everything still watched. */
  daemonGone(): void {
    if (!this.alive) return;
    for (const resource of [...this.#watched.keys()]) {
      this.#stop(resource, "guard: the daemon is gone");
    }
  }

  /** The node lost power: the guard is gone too. */
  kill(): void {
    this.alive = false;
    this.#watched.clear();
  }

  #stop(resource: string, why: string) {
    const w = this.#watched.get(resource);
    if (!w) return;
    this.#watched.delete(resource);
    this.world.stop(resource, why, w.panic);
  }
}
