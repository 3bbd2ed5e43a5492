/**
 * Where the console's data comes from: a set of daemons behind one
 * interface, so that the components can be tested with fixed snapshots and
 * run against live daemons through {@link LiveCluster}.
 */
import type { ControlRequestInput } from "../src/control/client.ts";
import type { ControlResponse } from "../src/control/protocol.ts";
import { DaemonLink, type LinkOptions } from "./link.ts";
import type { DaemonSnapshot } from "./model.ts";

/** What the console reads and sends. */
export interface ClusterSource {
  /** Call `fn` after every change; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** The daemons as known now; the same array until something changes. */
  snapshot(): readonly DaemonSnapshot[];
  /**
   * Send `request` to the daemon `daemon` (its id), waiting up to `timeoutMs`
   * for the answer (default: the link's bound); rejects when it cannot be delivered.
   */
  send(daemon: string, request: ControlRequestInput, timeoutMs?: number): Promise<ControlResponse>;
}

/** The daemons on the given control sockets, kept connected. */
export class LiveCluster implements ClusterSource {
  #links: DaemonLink[];
  #listeners = new Set<() => void>();
  #snapshot: readonly DaemonSnapshot[] = [];

  /** Links to every socket in `paths` (duplicates once); call {@link start}, then {@link close}. */
  constructor(paths: readonly string[], opts: LinkOptions = {}) {
    this.#links = [...new Set(paths)].map((p) => new DaemonLink(p, () => this.#changed(), opts));
    this.#snapshot = this.#links.map((l) => l.snapshot());
  }

  /** Begin connecting to every daemon. */
  start(): void {
    for (const l of this.#links) l.start();
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  snapshot(): readonly DaemonSnapshot[] {
    return this.#snapshot;
  }

  send(daemon: string, request: ControlRequestInput, timeoutMs?: number): Promise<ControlResponse> {
    const link = this.#links.find((l) => l.id === daemon);
    if (!link) return Promise.reject(new Error(`no daemon ${daemon} in this console`));
    return link.request(request, timeoutMs);
  }

  /** Close every connection. */
  async close(): Promise<void> {
    this.#listeners.clear();
    await Promise.all(this.#links.map((l) => l.close()));
  }

  #changed() {
    this.#snapshot = this.#links.map((l) => l.snapshot());
    for (const fn of this.#listeners) fn();
  }
}
