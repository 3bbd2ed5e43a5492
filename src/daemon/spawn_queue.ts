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
 * soon after its start instead of after the last start of all;
 * then start and monitor_start; then routine probes (they may wait); then
 * notifications. The ranks between stops and notifications that have waited
 * over a second take turns at the first spawn of each slice, so that none of
 * them waits for ever behind another. Notifications have no such turn: they
 * are coalesced per resource and dropped over a node-wide budget instead.
 */
import type { HookEffect } from "../core/types.ts";

/** Longest run of spawns in one turn of the event loop. */
const SLICE_MS = 8;

/**
 * Spawns under way at once. A spawn no longer holds the event loop
 * (native_spawn.ts), so it is this bound, not the loop's time, that paces
 * them: as many as the processes a small machine execs at once, and the queue's
 * order decides which goes next. Unbounded, a thousand starts would all be
 * begun within a second, every one of them then slowed by all the others,
 * against timeouts that count from the spawn. Stops, panics and fences are
 * spawned whatever is under way.
 */
export const MAX_SPAWNING = 2;

/** Ranks: 0 goes first. */
const RANKS = 5;
/** Notifications: they wait behind everything else by design. */
const NOTIFY = RANKS - 1;

/**
 * A rank whose oldest has waited this long takes its turn at the first spawn
 * of a slice, before the ranks above it (stops aside): a stream of probes that
 * things wait on must not hold starts back for ever, nor starts the routine
 * probes.
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
      // A method added to HookMethod must be given its rank here (a type error until it is).
      return unranked(method);
  }
}

function unranked(method: never): never {
  throw new Error(`spawn queue: hook method ${String(method)} has no rank`);
}

/** Starts one process; calls `spawned` once, when the spawn is over (started or not). */
export type SpawnFn = (spawned: () => void) => void;

interface Waiting {
  /** When it was queued (the queue's clock). */
  since: number;
  spawn: SpawnFn;
}

/** Spawns waiting, by rank, drained a slice at a time. */
export class SpawnQueue {
  #queues: Waiting[][] = Array.from({ length: RANKS }, () => []);
  #scheduled = false;

  /** The aged rank served last (ranks 1 to NOTIFY - 1 take turns). */
  #agedTurn = 0;

  /** Spawns begun and not over yet. */
  #spawning = 0;

  /**
   * `agedMs`: a rank waiting this long gets spawns in turn ({@link AGED_MS});
   * `now`: the clock (tests give their own); `maxSpawning`: {@link MAX_SPAWNING}.
   */
  constructor(
    readonly agedMs = AGED_MS,
    private readonly now: () => number = () => performance.now(),
    readonly maxSpawning = MAX_SPAWNING,
  ) {}

  /** Run `spawn` (a function that starts one process for `hook`) soon, in the hook's rank. */
  push(hook: Pick<HookEffect, "method" | "deferrableMs">, spawn: SpawnFn): void {
    this.#queues[rank(hook)].push({ since: this.now(), spawn });
    this.#schedule();
  }

  /** A drain at the next turn of the event loop (one at a time). */
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => this.#drain(), 0);
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
    for (const q of this.#queues.slice(0, NOTIFY)) {
      if (q.length > 0) oldest = Math.min(oldest, q[0].since);
    }
    return oldest === Infinity ? 0 : this.now() - oldest;
  }

  #drain(): void {
    this.#scheduled = false;
    const start = this.now();
    const until = start + SLICE_MS;
    // Once a slice, the next rank in turn whose oldest has waited too long goes first
    // (after stops): each such rank gets a spawn every few slices, however slow spawns are.
    let aged = this.#agedRank(start - this.agedMs);
    for (;;) {
      const q = this.#queues[0].length > 0
        ? this.#queues[0]
        : aged !== null
        ? this.#queues[aged]
        : this.#queues.find((q) => q.length > 0);
      if (q === undefined) return;
      // The next drain comes when a spawn is over. What ends activity never waits for a place:
      // two spawns held by a hung file system must not hold every stop back.
      if (this.#spawning >= this.maxSpawning && q !== this.#queues[0]) return;
      if (this.now() >= until) return this.#schedule();
      if (q !== this.#queues[0]) aged = null;
      this.#spawning++;
      let over = false;
      q.shift()!.spawn(() => {
        if (over) return;
        over = true;
        this.#spawning--;
        if (this.waiting > 0) this.#schedule();
      });
    }
  }

  /** The next rank, after the last one served so, whose oldest has waited since `before`. */
  #agedRank(before: number): number | null {
    for (let i = 1; i < NOTIFY; i++) {
      const r = 1 + (this.#agedTurn + i - 1) % (NOTIFY - 1);
      const head = this.#queues[r][0];
      if (head && head.since <= before) {
        this.#agedTurn = r;
        return r;
      }
    }
    return null;
  }
}
