/**
 * Process spawns, paced. Starting a process is a synchronous call that holds
 * the event loop (a few milliseconds each on our machines): a thousand status
 * probes spawned in one go would freeze the daemon for seconds, and heartbeats
 * and lease renewals would wait behind them. So hooks do not spawn where they
 * are asked for; they queue here, and each turn of the event loop spawns for
 * at most a slice of time before it yields to timers and sockets.
 *
 * Order: what ends activity (stop, monitor_stop, panic, fence) first; then the
 * probes that something waits on (a start's confirmation, a stop's check, a
 * giveover's monitor_check), so that what was begun is finished before more is
 * begun: when a thousand resources start at once, each is confirmed running
 * about a heartbeat after its start instead of after the last start of all;
 * then start and monitor_start; then routine probes (they may wait); then
 * notifications. A rank that has waited over a second still gets a spawn in
 * every slice, so that none waits for ever behind another.
 */
import type { HookEffect } from "../core/types.ts";

/** Longest run of spawns in one turn of the event loop. */
const SLICE_MS = 8;

/** Ranks: 0 goes first. */
const RANKS = 5;
/** Notifications: they wait behind everything else by design. */
const NOTIFY = RANKS - 1;

/**
 * A rank whose oldest has waited this long gets one spawn in every slice
 * before the ranks above it (stops aside): a stream of probes that things wait
 * on must not hold starts back for ever, nor starts the routine probes.
 */
const AGED_MS = 1000;

function rank(hook: Pick<HookEffect, "method" | "deferrableMs">): number {
  const method = hook.method;
  switch (method) {
    case "stop":
    case "monitor_stop":
    case "panic":
    case "fence":
      return 0;
    case "status":
    case "monitor_check":
      return hook.deferrableMs === undefined ? 1 : 3;
    case "start":
    case "monitor_start":
      return 2;
    case "role":
    case "connect":
    case "disconnect":
    case "complain":
      return NOTIFY;
    default:
      // A method added to HookMethod must be given its rank here.
      return ((m: never) => m)(method);
  }
}

interface Waiting {
  /** When it was queued (performance.now()). */
  since: number;
  spawn: () => void;
}

/** Spawns waiting, by rank, drained a slice at a time. */
export class SpawnQueue {
  #queues: Waiting[][] = Array.from({ length: RANKS }, () => []);
  #scheduled = false;

  /** `agedMs`: a rank waiting this long gets a spawn in every slice ({@link AGED_MS}). */
  constructor(readonly agedMs = AGED_MS) {}

  /** Run `spawn` (a function that starts one process for `hook`) soon, in the hook's rank. */
  push(hook: Pick<HookEffect, "method" | "deferrableMs">, spawn: () => void): void {
    this.#queues[rank(hook)].push({ since: performance.now(), spawn });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.#drain(), 0);
    }
  }

  /** Spawns waiting now. */
  get waiting(): number {
    return this.#queues.reduce((n, q) => n + q.length, 0);
  }

  /**
   * How long the start, stop or probe that has waited longest to be spawned
   * has waited, ms (0: none waits). Notifications are left out: they wait
   * behind the others by design.
   */
  oldestWaitMs(): number {
    let oldest = Infinity;
    for (const q of this.#queues.slice(0, RANKS - 1)) {
      if (q.length > 0) oldest = Math.min(oldest, q[0].since);
    }
    return oldest === Infinity ? 0 : performance.now() - oldest;
  }

  #drain(): void {
    this.#scheduled = false;
    const start = performance.now();
    const until = start + SLICE_MS;
    const aged = start - this.agedMs;
    const served: boolean[] = [];
    for (let q = this.#next(aged, served); q !== null; q = this.#next(aged, served)) {
      if (performance.now() >= until) {
        this.#scheduled = true;
        setTimeout(() => this.#drain(), 0);
        return;
      }
      q.shift()!.spawn();
    }
  }

  /**
   * The queue to spawn from next in this slice: stops; then one of each rank
   * whose oldest has waited since `aged` (once a slice: `served`); then by rank.
   */
  #next(aged: number, served: boolean[]): Waiting[] | null {
    const queues = this.#queues;
    if (queues[0].length > 0) return queues[0];
    for (let r = 1; r < NOTIFY; r++) {
      const head = queues[r][0];
      if (head && head.since <= aged && !served[r]) {
        served[r] = true;
        return queues[r];
      }
    }
    return queues.find((q) => q.length > 0) ?? null;
  }
}
