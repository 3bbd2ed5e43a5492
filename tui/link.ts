/**
 * The console's connection to one daemon, through the one control client:
 * a `status` request when connected, an `events` follow stream, and a new
 * `status` whenever an event arrives. A daemon that goes away is marked
 * unreachable (its last answer kept) and dialled again with backoff; nothing
 * here throws at the console.
 */
import { ControlClient, type ControlRequestInput } from "../src/control/client.ts";
import type { ControlResponse, DaemonEvent, StatusResult } from "../src/control/protocol.ts";
import type { DaemonSnapshot } from "./model.ts";

/** Options of a {@link DaemonLink}. */
export interface LinkOptions {
  /** Bound on connecting and on each answer (default 3 s). */
  timeoutMs?: number;
  /** First and longest wait between reconnection attempts (default 250 ms, 5 s). */
  backoffMs?: { first: number; max: number };
  /**
   * The safety refresh (default 1 s; 0 turns it off). Peer connectivity,
   * complaint counts and lease renewals change with every heartbeat, and
   * heartbeats are not events: a peer that falls silent shows only in the
   * next status answer. One status request a second bounds how stale the
   * connected/disconnected column and the complaint bars can get (a status is
   * a pure query of the daemon's machines); everything else is driven by events.
   */
  refreshMs?: number;
  /** How many of its events the link keeps (default 200). */
  maxEvents?: number;
  /** The console's clock (default performance.now). */
  clock?: () => number;
}

/** One daemon, kept connected for the console. Create, then {@link start}; {@link close} at the end. */
export class DaemonLink {
  readonly id: string;
  #onChange: () => void;
  #timeoutMs: number;
  #backoff: { first: number; max: number };
  #refreshMs: number;
  #maxEvents: number;
  #clock: () => number;
  #snapshot: DaemonSnapshot;
  #eventKeys = new Set<string>();
  #requests: ControlClient | null = null;
  #events: ControlClient | null = null;
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;
  #closed = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  /** A link to the daemon whose control socket is `path`; `onChange` is called after every change. */
  constructor(path: string, onChange: () => void, opts: LinkOptions = {}) {
    this.id = path;
    this.#onChange = onChange;
    this.#timeoutMs = opts.timeoutMs ?? 3000;
    this.#backoff = opts.backoffMs ?? { first: 250, max: 5000 };
    this.#refreshMs = opts.refreshMs ?? 1000;
    this.#maxEvents = opts.maxEvents ?? 200;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#snapshot = {
      id: path,
      phase: "connecting",
      status: null,
      receivedAt: null,
      error: null,
      downSince: null,
      events: [],
    };
  }

  /** The current knowledge of the daemon (a new object after every change). */
  snapshot(): DaemonSnapshot {
    return this.#snapshot;
  }

  /** Begin connecting (and reconnecting, until {@link close}). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Send one request (a role change, a giveover) to this daemon and refresh
   * its status after. A request whose answer may take longer than the link's
   * bound (`timeoutMs`) goes on a connection of its own, so that it holds up
   * nothing else. Throws when the daemon is not connected or does not answer.
   */
  async request(request: ControlRequestInput, timeoutMs?: number): Promise<ControlResponse> {
    const client = this.#requests;
    if (!client || this.#snapshot.phase !== "connected") {
      throw new Error(`the daemon on ${this.id} is not connected`);
    }
    let response: ControlResponse;
    if (timeoutMs !== undefined && timeoutMs > this.#timeoutMs) {
      const own = await ControlClient.connect(this.id, { timeoutMs });
      try {
        response = await own.request(request);
      } finally {
        await own.close();
      }
    } else {
      try {
        response = await client.request(request);
      } catch (e) {
        // A request connection that timed out or broke is closed: reconnect, as a failed
        // status does, rather than refuse every later request.
        if (client === this.#requests) await this.#dropClients();
        throw e;
      }
    }
    this.refresh();
    return response;
  }

  /** Ask for the status again (coalesced: at most one request in flight, one queued). */
  refresh(): void {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        await this.#fetchStatus();
      } while (this.#refreshAgain && !this.#closed);
    })().finally(() => this.#refreshing = null);
  }

  /** Stop: close the connections and end the reconnection loop. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#dropClients();
    await this.#loop;
    await this.#refreshing;
  }

  #update(change: Partial<DaemonSnapshot>) {
    this.#snapshot = { ...this.#snapshot, ...change };
    if (!this.#closed) this.#onChange();
  }

  async #run(): Promise<void> {
    let wait = this.#backoff.first;
    while (!this.#closed) {
      let lost: unknown = null;
      let safety: ReturnType<typeof setInterval> | null = null;
      try {
        this.#requests = await ControlClient.connect(this.id, { timeoutMs: this.#timeoutMs });
        this.#events = await ControlClient.connect(this.id, { timeoutMs: this.#timeoutMs });
        const status = await this.#ask(this.#requests);
        this.#update({
          phase: "connected",
          status,
          receivedAt: this.#clock(),
          error: null,
          downSince: null,
        });
        wait = this.#backoff.first;
        if (this.#refreshMs > 0) safety = setInterval(() => this.refresh(), this.#refreshMs);
        await this.#events.follow((e) => this.#onEvent(e), { limit: this.#maxEvents });
        lost = new Error(`connection to ${this.id} closed`);
      } catch (e) {
        lost = e;
      } finally {
        if (safety !== null) clearInterval(safety);
      }
      await this.#dropClients();
      if (this.#closed) break;
      const why = lost instanceof Error ? lost.message : String(lost);
      this.#update({
        phase: "unreachable",
        error: why,
        downSince: this.#snapshot.downSince ?? this.#clock(),
      });
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, wait);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
      wait = Math.min(this.#backoff.max, wait * 2);
    }
  }

  async #ask(client: ControlClient): Promise<StatusResult> {
    const response = await client.request({ type: "status" });
    const result = response.result as StatusResult | undefined;
    if (!response.ok || !result || !Array.isArray(result.resources)) {
      throw new Error(
        response.ok
          ? `unexpected status answer from ${this.id}`
          : `the daemon refused status: ${response.error.message}`,
      );
    }
    return result;
  }

  async #fetchStatus(): Promise<void> {
    const client = this.#requests;
    if (!client || this.#closed) return;
    try {
      const status = await this.#ask(client);
      if (client === this.#requests) this.#update({ status, receivedAt: this.#clock() });
    } catch {
      // The follow stream is the one that notices a lost daemon; end it so the loop reconnects.
      if (client === this.#requests) await this.#dropClients();
    }
  }

  #onEvent(e: DaemonEvent) {
    // After a reconnection the daemon's history repeats: keep each event once.
    const key = `${e.seq}\0${e.time}`;
    if (this.#eventKeys.has(key)) return;
    this.#eventKeys.add(key);
    const events = [...this.#snapshot.events, e];
    while (events.length > this.#maxEvents) {
      const old = events.shift()!;
      this.#eventKeys.delete(`${old.seq}\0${old.time}`);
    }
    this.#update({ events });
    this.refresh();
  }

  async #dropClients() {
    const clients = [this.#requests, this.#events];
    this.#requests = null;
    this.#events = null;
    await Promise.all(clients.map((c) => c?.close()));
  }
}
