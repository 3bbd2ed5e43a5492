/**
 * Timeouts that share one timer.
 *
 * In Deno 2.9 a cleared timer still wakes the process at its deadline (a
 * script that sets and clears five timers a second wakes three times a
 * second more, `strace`). A daemon arms a timeout for every frame it reads or
 * writes and for every hook it runs, and clears nearly all of them: each was
 * a wake-up, most of an idle daemon's CPU on a virtual machine. Here every
 * deadline waits in one heap under one real timer, armed for the earliest
 * deadline and moved only when it fires or an earlier one comes; a cleared
 * deadline is only marked, and costs nothing until the timer reaches it.
 */
import { MinHeap } from "../lib/min_heap.ts";

/** A pending deadline. */
interface Deadline {
  at: number;
  fire: () => void;
  live: boolean;
}

/** Longest delay a timer takes; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const heap = new MinHeap<Deadline>((a, b) => a.at < b.at);
let live = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let timerAt = Infinity;

/**
 * Call `fire` once, `ms` from now, unless the returned function is called
 * first. Like setTimeout, an exception thrown by `fire` is uncaught.
 */
export function after(ms: number, fire: () => void): () => void {
  // As setTimeout does, NaN counts as 0; Infinity is "never".
  const wait = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  const deadline: Deadline = { at: performance.now() + wait, fire, live: true };
  heap.push(deadline);
  live++;
  if (deadline.at < timerAt) arm(deadline.at);
  return () => {
    if (!deadline.live) return;
    deadline.live = false;
    live--;
    // Nothing left to wait for: no timer may keep the process (or a test) alive.
    if (live === 0) reset();
    else if (heap.size > 64 && heap.size > 4 * live) heap.retain((d) => d.live);
  };
}

/**
 * `promise`'s value if it settles within a few microtask turns (a socket write
 * with room in the buffer does), else `pending`: a caller then arms a timeout
 * only for the rare slow case. `promise` must not reject.
 */
export async function settledSoon<T, P>(promise: Promise<T>, pending: P): Promise<T | P> {
  let result: { value: T } | null = null;
  promise.then((value) => result = { value });
  for (let turn = 0; turn < 8 && result === null; turn++) await null;
  return result === null ? pending : (result as { value: T }).value;
}

/** Resolves after `ms` (on the shared timer). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => after(ms, resolve));
}

/**
 * `promise`'s value, or "timeout" after `ms`; the deadline is always cleared,
 * so nothing outlives the call. `promise` must not reject.
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let cancel = () => {};
  const expired = new Promise<"timeout">((resolve) => {
    cancel = after(ms, () => resolve("timeout"));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    cancel();
  }
}

/** Deadlines waiting, cleared ones included (for tests). */
export function pendingDeadlines(): { live: number; queued: number; armed: boolean } {
  return { live, queued: heap.size, armed: timer !== undefined };
}

function arm(at: number) {
  clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(onTimer, Math.min(Math.max(at - performance.now(), 0), MAX_TIMER_MS));
}

function reset() {
  clearTimeout(timer);
  timer = undefined;
  timerAt = Infinity;
  heap.clear();
}

function onTimer() {
  timer = undefined;
  timerAt = Infinity;
  const now = performance.now();
  const due: Deadline[] = [];
  for (let d = heap.peek(); d !== undefined && (!d.live || d.at <= now); d = heap.peek()) {
    heap.pop();
    if (!d.live) continue;
    d.live = false;
    live--;
    due.push(d);
  }
  const next = heap.peek();
  if (next !== undefined) arm(next.at);
  // Each on its own, as separate timers would: one that throws does not stop the others.
  for (const d of due) queueMicrotask(d.fire);
}
