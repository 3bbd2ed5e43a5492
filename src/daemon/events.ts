/**
 * The daemon's ordered event stream (`ctl events`, the console): a ring
 * buffer of recent events and the subscribers that follow new ones.
 */
import type { DaemonEvent } from "../control/protocol.ts";

/** Events kept for `ctl events` without `--follow`. */
export const EVENT_BUFFER = 1000;

/** Recent events and their followers. */
export class EventLog {
  #events: DaemonEvent[] = [];
  #seq = 0;
  #subscribers = new Set<(e: DaemonEvent) => void>();

  constructor(readonly node: string) {}

  /** Record an event and hand it to every follower. */
  emit(
    resource: string | null,
    kind: DaemonEvent["kind"],
    level: DaemonEvent["level"],
    message: string,
    extra: Partial<DaemonEvent> = {},
  ): void {
    const e: DaemonEvent = {
      seq: ++this.#seq,
      time: new Date().toISOString(),
      node: this.node,
      resource,
      kind,
      level,
      message,
      ...extra,
    };
    this.#events.push(e);
    if (this.#events.length > EVENT_BUFFER) {
      this.#events.splice(0, this.#events.length - EVENT_BUFFER);
    }
    for (const fn of this.#subscribers) {
      try {
        fn(e);
      } catch { /* a broken subscriber must not stop the daemon */ }
    }
  }

  /** The most recent `limit` events, oldest first. */
  recent(limit = EVENT_BUFFER): DaemonEvent[] {
    // Not slice(-limit): -0 is 0, and a limit of 0 gave every event.
    return this.#events.slice(Math.max(0, this.#events.length - limit));
  }

  /** Call `fn` for every new event until the returned function is called. */
  subscribe(fn: (e: DaemonEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
}
