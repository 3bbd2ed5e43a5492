/**
 * Process spawns, paced. Starting a process is a synchronous call that holds
 * the event loop (a few milliseconds each on our machines): a thousand status
 * probes spawned in one go would freeze the daemon for seconds, and heartbeats
 * and lease renewals would wait behind them. So hooks do not spawn where they
 * are asked for; they queue here, and each turn of the event loop spawns for
 * at most a slice of time before it yields to timers and sockets.
 *
 * Order: what changes what is active (start, stop, the monitor methods that go
 * with them, panic, fence) first, then probes and a giveover's monitor_check,
 * then notifications.
 */
import type { HookMethod } from "../core/types.ts";

/** Longest run of spawns in one turn of the event loop. */
const SLICE_MS = 8;

function rank(method: HookMethod): 0 | 1 | 2 {
  switch (method) {
    case "start":
    case "stop":
    case "monitor_start":
    case "monitor_stop":
    case "panic":
    case "fence":
      return 0;
    case "status":
    case "monitor_check":
      return 1;
    default:
      return 2;
  }
}

/** Spawns waiting, by rank, drained a slice at a time. */
export class SpawnQueue {
  #queues: (() => void)[][] = [[], [], []];
  #scheduled = false;

  /** Run `spawn` (a function that starts one process) soon, in its method's rank. */
  push(method: HookMethod, spawn: () => void): void {
    this.#queues[rank(method)].push(spawn);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.#drain(), 0);
    }
  }

  /** Spawns waiting now. */
  get waiting(): number {
    return this.#queues.reduce((n, q) => n + q.length, 0);
  }

  #drain(): void {
    this.#scheduled = false;
    const until = performance.now() + SLICE_MS;
    for (const q of this.#queues) {
      while (q.length > 0) {
        if (performance.now() >= until) {
          this.#scheduled = true;
          setTimeout(() => this.#drain(), 0);
          return;
        }
        q.shift()!();
      }
    }
  }
}
