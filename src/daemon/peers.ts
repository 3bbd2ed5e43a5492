/**
 * The daemon's links to its peers: a listener for inbound connections and a
 * dialer per `remote` address, over src/wire/peer.ts. Frames received go to
 * the node runtime as they come; frames to send go out on whichever
 * connection to that node is open (both sides dial, so two may be).
 *
 * Who may connect, and as whom, is PeerAccess's (peer_access.ts): the address
 * rule, the handshake slots reserved for configured nodes, a name bound to its
 * addresses or proved by its node key. A reload applies it to the next
 * connection and closes the ones whose node or key the configuration dropped.
 *
 * Frames to one peer are coalesced: the runtime sends one frame per peer per
 * batch of events, and with a thousand resources a batch is often one state
 * write that ended (its acknowledgement may go out now). So what is sent in
 * one turn of the event loop, and what comes while the frame before is still
 * being sealed and written, leaves as one frame: one MAC and one write, not
 * a thousand. The messages keep their order; of the heartbeats (and of the
 * acknowledgements) of one resource waiting together, only the last goes
 * ({@link latestOnly}).
 */
import type { Message, NodeId } from "../core/types.ts";
import type { EffectiveConfig } from "../config/mod.ts";
import { formatPeerAddress } from "../config/address.ts";
import { connectPeer, type PeerConnection } from "../wire/peer.ts";
import { listenPeers, type PeerListener } from "../wire/peer_listener.ts";
import type { Logger } from "./log.ts";
import type { PeerAccess } from "./peer_access.ts";

/** What the links deliver, and to whom. */
export interface PeersDeps {
  node: NodeId;
  logger: Logger;
  /** Who may connect as whom, and the handshake's keys. */
  access: PeerAccess;
  /** A frame of messages from `from`. */
  onMessages(from: NodeId, messages: Message[]): void;
  /** The last connection to `node` closed. */
  onDown(node: NodeId): void;
}

/** Listener, dialers and open connections of one daemon. */
export class Peers {
  #conns = new Map<NodeId, Set<PeerConnection>>();
  /** Per peer: messages waiting for the next frame, and whether a frame is on its way. */
  #outbox = new Map<NodeId, { messages: Message[]; busy: boolean }>();
  #listener: PeerListener | null = null;
  #dialers = new Map<string, { stop: AbortController; done: Promise<void> }>();
  #lifetime = new AbortController();
  #cfg: EffectiveConfig;
  #stopped = false;
  /** Waiting for every outbox to be written (close). */
  #drained: (() => void)[] = [];

  constructor(cfg: EffectiveConfig, private readonly deps: PeersDeps) {
    this.#cfg = cfg;
  }

  /** Bind the listener of `listen`. Throws, naming the address, when it cannot be bound. */
  listen(): void {
    const { host, port } = this.#cfg.global.listen;
    try {
      this.#listener = listenPeers({
        hostname: host,
        port,
        self: this.deps.node,
        auth: this.deps.access.auth,
        timeoutMs: this.#minTimeoutMs(),
        idleTimeoutMs: this.#idleTimeoutMs(),
        allowed: (remote) => this.deps.access.allowed(remote),
        reserved: (remote) => this.deps.access.reserved(remote),
        acceptNode: (node, remote) => this.deps.access.acceptNode(node, remote),
        onConnection: (conn) => this.#adopt(conn),
        log: (level, msg) => this.deps.logger.log(level, `peer: ${msg}`),
      });
    } catch (e) {
      // Say which of the daemon's addresses it is: control and metrics_listen are bound too.
      throw new Error(`listen ${formatPeerAddress({ host, port })}: ${(e as Error).message}`);
    }
  }

  /** The port the listener is bound to (useful with port 0). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /**
   * Send messages to `to`, in the next frame to it (this turn's, or the one
   * after the frame being written); dropped (and said at -d) when no
   * connection is open then.
   */
  send(to: NodeId, messages: Message[]): void {
    let box = this.#outbox.get(to);
    if (!box) this.#outbox.set(to, box = { messages: [], busy: false });
    box.messages.push(...messages);
    if (box.busy) return;
    box.busy = true;
    setTimeout(() => this.#flush(to, box), 0);
  }

  async #flush(to: NodeId, box: { messages: Message[]; busy: boolean }): Promise<void> {
    while (box.messages.length > 0 && !this.#stopped) {
      const messages = latestOnly(box.messages.splice(0));
      const conn = this.#connectionTo(to);
      if (!conn) {
        this.deps.logger.debug(`no connection to ${to}: ${messages.length} message(s) dropped`);
        continue;
      }
      try {
        await conn.send(messages);
      } catch {
        // The codec refused a message we built: a bug, logged, never fatal, and never at the
        // cost of the others in the frame (every resource's heartbeats): they go one by one.
        for (const m of messages) {
          try {
            await conn.send([m]);
          } catch (e) {
            this.deps.logger.error(`cannot send to ${to}: ${(e as Error).message}`);
          }
        }
      }
    }
    box.messages = [];
    box.busy = false;
    if (!this.sending) { for (const f of this.#drained.splice(0)) f(); }
  }

  /** Whether a connection to `node` is open. */
  connectedTo(node: NodeId): boolean {
    return this.#connectionTo(node) !== null;
  }

  /** Whether a frame is waiting or being written to some peer. */
  get sending(): boolean {
    for (const box of this.#outbox.values()) if (box.busy) return true;
    return false;
  }

  /**
   * A new configuration: who may connect (and with which keys), and which
   * addresses to dial. Connections whose node or key it no longer lists are
   * closed. Returns warnings for what needs a restart (another mode or shared key).
   */
  async reconfigure(cfg: EffectiveConfig): Promise<string[]> {
    this.#cfg = cfg;
    const warnings = await this.deps.access.update(cfg);
    await this.#closeStale();
    this.#reconcileDialers();
    return warnings;
  }

  /** Close the connections, inbound and dialled, that the access rules now refuse. */
  async #closeStale(): Promise<void> {
    const stale = (c: PeerConnection) => this.deps.access.stale(c);
    await this.#listener?.closeWhere(stale);
    for (const set of this.#conns.values()) {
      for (const c of set) {
        const why = stale(c);
        if (why !== null && !c.closed) await c.close(why);
      }
    }
  }

  /** Start dialing every remote address of this node's resources. */
  dial(): void {
    this.#reconcileDialers();
  }

  /** Close everything: dialers, the listener, every connection. */
  async close(): Promise<void> {
    // What is queued goes first (a shutdown's releases name the successor, which then need
    // not wait out the lease), for a second at most.
    if (this.sending) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained.push(resolve)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
    }
    this.#stopped = true;
    this.#lifetime.abort();
    await Promise.all([...this.#dialers.values()].map((d) => d.done));
    await this.#listener?.close();
    for (const set of this.#conns.values()) for (const c of set) await c.close("shutting down");
  }

  #adopt(conn: PeerConnection) {
    let set = this.#conns.get(conn.node);
    if (!set) this.#conns.set(conn.node, set = new Set());
    set.add(conn);
    this.deps.logger.debug(`connected to ${conn.node} (${conn.side})`);
    conn.onClose((reason) => {
      set!.delete(conn);
      this.deps.logger.debug(`connection to ${conn.node} closed: ${reason}`);
      if (set!.size === 0 && !this.#stopped) this.deps.onDown(conn.node);
    });
    (async () => {
      try {
        for await (const batch of conn) this.deps.onMessages(batch.from, batch.messages);
      } catch (e) {
        this.deps.logger.debug(`connection to ${conn.node}: ${(e as Error).message}`);
      }
    })();
  }

  #connectionTo(node: NodeId): PeerConnection | null {
    for (const c of this.#conns.get(node) ?? []) if (!c.closed) return c;
    return null;
  }

  /** Dial every remote address of this node's resources, until it goes away from the config. */
  #reconcileDialers() {
    const wanted = new Map<string, { host: string; port: number }>();
    for (const res of this.#cfg.resources) {
      const remote = res.self?.remote;
      if (!Array.isArray(remote)) continue;
      for (const a of remote) wanted.set(`${a.host}:${a.port}`, a);
    }
    for (const [key, d] of this.#dialers) {
      if (!wanted.has(key)) {
        d.stop.abort();
        this.#dialers.delete(key);
      }
    }
    for (const [key, addr] of wanted) {
      if (this.#dialers.has(key)) continue;
      const stop = new AbortController();
      this.#lifetime.signal.addEventListener("abort", () => stop.abort(), { once: true });
      this.#dialers.set(key, { stop, done: this.#dial(addr, stop.signal) });
    }
  }

  async #dial(addr: { host: string; port: number }, stop: AbortSignal) {
    let failures = 0;
    while (!stop.aborted) {
      let conn: PeerConnection;
      try {
        conn = await connectPeer({
          hostname: addr.host,
          port: addr.port,
          self: this.deps.node,
          auth: this.deps.access.auth,
          timeoutMs: this.#minTimeoutMs(),
          idleTimeoutMs: this.#idleTimeoutMs(),
          log: (level, msg) =>
            this.deps.logger.log(level === "info" ? "debug" : level, `peer: ${msg}`),
        });
      } catch (e) {
        if (failures++ === 0) {
          this.deps.logger.info(`cannot reach ${addr.host}:${addr.port}: ${(e as Error).message}`);
        }
        // Retry soon at first, then every interval.
        await sleep(Math.min(this.#minIntervalMs(), 200 * 2 ** Math.min(failures, 6)), stop);
        continue;
      }
      if (this.deps.access.dialled(conn.node) !== null) {
        this.deps.logger.warning(`${addr.host}:${addr.port} is ${conn.node}, not a node of ours`);
        await conn.close("not a configured node");
        await sleep(this.#minIntervalMs(), stop);
        continue;
      }
      failures = 0;
      this.#adopt(conn);
      // Nothing to do while it lives: wait for its end (or ours), then dial again.
      await new Promise<void>((resolve) => {
        const done = () => {
          stop.removeEventListener("abort", done);
          resolve();
        };
        conn.onClose(done);
        stop.addEventListener("abort", done);
      });
      if (stop.aborted) {
        if (!conn.closed) await conn.close("remote removed from configuration");
        return;
      }
      await sleep(100, stop);
    }
  }

  #minIntervalMs(): number {
    let i = Infinity;
    for (const r of this.#cfg.resources) if (r.self) i = Math.min(i, r.self.heartbeatIntervalMs);
    return Number.isFinite(i) ? i : 10_000;
  }

  #minTimeoutMs(): number {
    let t = Infinity;
    for (const r of this.#cfg.resources) if (r.self) t = Math.min(t, r.self.timeoutMs);
    return Number.isFinite(t) ? t : 5_000;
  }

  /** A connection that carries nothing for two intervals plus a timeout is dead. */
  #idleTimeoutMs(): number {
    let i = 0;
    for (const r of this.#cfg.resources) {
      if (r.self) i = Math.max(i, 2 * r.self.heartbeatIntervalMs + r.self.timeoutMs);
    }
    return i || 25_000;
  }
}

/**
 * `messages` without the heartbeats and acknowledgements that a later one of
 * the same kind, for the same resource, supersedes. A heartbeat is this node's
 * latest word on a resource and a lease request: the peer answers the last, and
 * an older one would only earn an older lease. An acknowledgement answers a
 * request: the claimant counts the newest one it gets, and a refusal after a
 * grant is what holds. A thousand resources waiting for a disk write that ends
 * late (one grant, then a request every quarter interval meanwhile) made
 * frames of ten thousand acknowledgements where a thousand said it all. Every
 * other message (release, fenced, complaint, a giveover's check) is kept.
 */
export function latestOnly(messages: readonly Message[]): Message[] {
  const seen = new Set<string>();
  const out: Message[] = [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.type === "heartbeat" || m.type === "ack") {
      const key = `${m.type}\u0000${m.resource}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(m);
  }
  return out.reverse();
}

/** Wait `ms`, or less if `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
