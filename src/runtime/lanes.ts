/**
 * Ordering of hook runs (PRODUCT.md §3.4: start and stop of one resource never
 * overlap). Each resource has lanes, each a FIFO queue that runs one task at
 * a time; lanes run alongside each other:
 *
 * - `control`: start, stop, monitor_start, monitor_stop, panic, fence — the
 *   runs that change what is active;
 * - `status:MEMBER`: one member's probes, one at a time, beside a start or stop;
 * - `check`: a giveover candidate's monitor_check runs (Solaris lets them run
 *   beside anything else of the resource);
 * - `notify`: role, connect, disconnect, complain — in the order they happened.
 *
 * Callback-based, not promise-based, so that the simulator can drive it
 * synchronously on its virtual clock: a task is called with `done` and must
 * call it exactly once, later or at once.
 */
import type { HookMethod } from "../core/types.ts";

/** The lane a method's runs are queued in (per resource; probes per member). */
export function laneOf(method: HookMethod, member: string | null): string {
  switch (method) {
    case "start":
    case "stop":
    case "monitor_start":
    case "monitor_stop":
    case "panic":
    case "fence":
      return "control";
    case "monitor_check":
      return "check";
    case "status":
      return `status:${member ?? ""}`;
    case "role":
    case "connect":
    case "disconnect":
    case "complain":
      return "notify";
  }
}

/** A unit of work in a lane. */
export type LaneTask = (done: () => void) => void;

interface Lane {
  running: boolean;
  queue: LaneTask[];
}

/** Per-resource, per-lane FIFO queues of hook runs. */
export class Lanes {
  #lanes = new Map<string, Lane>();

  /** Run `task` once every earlier task of the same resource and lane is done. */
  run(resource: string, lane: string, task: LaneTask): void {
    const key = `${resource}\u0000${lane}`;
    let l = this.#lanes.get(key);
    if (!l) this.#lanes.set(key, l = { running: false, queue: [] });
    l.queue.push(task);
    if (!l.running) this.#next(key, l);
  }

  /** Tasks queued or running in `lane` of `resource`. */
  pending(resource: string, lane: string): number {
    const l = this.#lanes.get(`${resource}\u0000${lane}`);
    return l ? l.queue.length + (l.running ? 1 : 0) : 0;
  }

  /** Are all lanes empty? */
  get idle(): boolean {
    return this.#lanes.size === 0;
  }

  #next(key: string, l: Lane) {
    const task = l.queue.shift();
    if (!task) {
      l.running = false;
      this.#lanes.delete(key); // an idle lane is forgotten: the map holds only busy lanes
      return;
    }
    l.running = true;
    let called = false;
    try {
      task(() => {
        if (called) return;
        called = true;
        this.#next(key, l);
      });
    } catch (e) {
      // A task that throws must not wedge its lane.
      if (!called) {
        called = true;
        this.#next(key, l);
      }
      throw e;
    }
  }
}
