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

/** A pending deadline. */
interface Deadline {
  at: number;
  fire: () => void;
  live: boolean;
}

/** Longest delay a timer takes; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const heap: Deadline[] = [];
let live = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let timerAt = Infinity;

/**
 * Call `fire` once, `ms` from now, unless the returned function is called
 * first. Like setTimeout, an exception thrown by `fire` is uncaught.
 */
export function after(ms: number, fire: () => void): () => void {
  const deadline: Deadline = { at: performance.now() + Math.max(0, ms), fire, live: true };
  push(deadline);
  live++;
  if (deadline.at < timerAt) arm(deadline.at);
  return () => {
    if (!deadline.live) return;
    deadline.live = false;
    live--;
    // Nothing left to wait for: no timer may keep the process (or a test) alive.
    if (live === 0) reset();
    else if (heap.length > 64 && heap.length > 4 * live) compact();
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
  return { live, queued: heap.length, armed: timer !== undefined };
}

function arm(at: number) {
  clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(onTimer, Math.min(Math.max(at - performance.now(), 0), MAX_TIMER_MS));
}

/** Drop cleared deadlines, so that a heap under steady traffic stays as small as what is live. */
function compact() {
  const kept = heap.filter((d) => d.live);
  heap.length = 0;
  for (const d of kept) push(d);
}

function reset() {
  clearTimeout(timer);
  timer = undefined;
  timerAt = Infinity;
  heap.length = 0;
}

function onTimer() {
  timer = undefined;
  timerAt = Infinity;
  const now = performance.now();
  const due: Deadline[] = [];
  while (heap.length > 0 && (!heap[0].live || heap[0].at <= now)) {
    const d = pop();
    if (!d.live) continue;
    d.live = false;
    live--;
    due.push(d);
  }
  if (heap.length > 0) arm(heap[0].at);
  // Each on its own, as separate timers would: one that throws does not stop the others.
  for (const d of due) queueMicrotask(d.fire);
}

// A binary min-heap on `at`.

function push(d: Deadline) {
  heap.push(d);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent].at <= heap[i].at) break;
    [heap[parent], heap[i]] = [heap[i], heap[parent]];
    i = parent;
  }
}

function pop(): Deadline {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < heap.length && heap[l].at < heap[least].at) least = l;
      if (r < heap.length && heap[r].at < heap[least].at) least = r;
      if (least === i) break;
      [heap[least], heap[i]] = [heap[i], heap[least]];
      i = least;
    }
  }
  return top;
}
