/**
 * Ordering of hook runs per resource (PRODUCT.md §3.4: start and stop of one
 * resource never overlap). Each resource has three lanes, each a FIFO queue
 * that runs one task at a time; lanes run alongside each other:
 *
 * - `control`: start, stop, panic, fence — the runs that change what is active;
 * - `status`: probes, one at a time, beside a start or stop in progress;
 * - `notify`: role, connect, disconnect, complain — in the order they happened.
 */
import type { HookMethod } from "../core/types.ts";

/** A queue of one resource that runs one task at a time. */
export type HookLane = "control" | "status" | "notify";

/** The lane a method's runs are queued in. */
export function laneOf(method: HookMethod): HookLane {
  switch (method) {
    case "start":
    case "stop":
    case "panic":
    case "fence":
      return "control";
    case "status":
      return "status";
    case "role":
    case "connect":
    case "disconnect":
    case "complain":
      return "notify";
  }
}

/** Per-resource, per-lane FIFO queues of hook runs. */
export class HookSerializer {
  #lanes = new Map<string, { tail: Promise<void>; pending: number }>();

  /**
   * Run `task` once every earlier task of the same resource and lane has
   * settled. Resolves or rejects as `task` does; a failed task does not hold
   * up the queue.
   */
  run<T>(resource: string, method: HookMethod, task: () => Promise<T>): Promise<T> {
    const key = JSON.stringify([resource, laneOf(method)]);
    const lane = this.#lanes.get(key) ?? { tail: Promise.resolve(), pending: 0 };
    lane.pending++;
    const result = lane.tail.then(task).finally(() => {
      // An idle lane is forgotten, so the map holds only busy lanes.
      if (--lane.pending === 0) this.#lanes.delete(key);
    });
    lane.tail = result.then(noop, noop);
    this.#lanes.set(key, lane);
    return result;
  }

  /** Tasks queued or running in the lane of `method` for `resource`. */
  pending(resource: string, method: HookMethod): number {
    return this.#lanes.get(JSON.stringify([resource, laneOf(method)]))?.pending ?? 0;
  }

  /** Settles when every task queued so far, and any queued meanwhile, has settled. */
  async idle(): Promise<void> {
    while (this.#lanes.size > 0) {
      await Promise.all([...this.#lanes.values()].map((lane) => lane.tail));
    }
  }
}

function noop(): void {}
