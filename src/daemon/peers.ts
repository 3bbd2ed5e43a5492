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
 */
import type { Message, NodeId } from "../core/types.ts";
import type { EffectiveConfig } from "../config/mod.ts";
import { connectPeer, listenPeers, type PeerConnection, type PeerListener } from "../wire/peer.ts";
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
  #listener: PeerListener | null = null;
  #dialers = new Map<string, { stop: AbortController; done: Promise<void> }>();
  #lifetime = new AbortController();
  #cfg: EffectiveConfig;
  #stopped = false;

  constructor(cfg: EffectiveConfig, private readonly deps: PeersDeps) {
    this.#cfg = cfg;
  }

  /** Bind the listener of `listen`. Throws when the address cannot be bound. */
  listen(): void {
    const listen = this.#cfg.global.listen;
    this.#listener = listenPeers({
      hostname: listen.host,
      port: listen.port,
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
  }

  /** The port the listener is bound to (useful with port 0). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Send a frame to `to` over an open connection; dropped (and said at -d) when none is. */
  send(to: NodeId, messages: Message[]): void {
    const conn = this.#connectionTo(to);
    if (!conn) {
      this.deps.logger.debug(`no connection to ${to}: ${messages.length} message(s) dropped`);
      return;
    }
    try {
      conn.send(messages).catch(() => {});
    } catch (e) {
      // The codec refused a message we built: a bug, logged, never fatal.
      this.deps.logger.error(`cannot send to ${to}: ${(e as Error).message}`);
    }
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
