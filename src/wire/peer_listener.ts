/**
 * The daemon's peer listener: it accepts connections from other daemons
 * (peer.ts: the connection each accepted handshake becomes).
 *
 * - In every mode it admits only addresses its `allowed` predicate accepts
 *   (the configured `remote`, `friends` and node addresses), checked before a
 *   single byte is read.
 * - Admission is bounded so that nobody can starve the configured peers: at
 *   most `maxHandshakesPerAddress` handshakes in progress per source address,
 *   at most `maxHandshakes` in all from addresses that are not `reserved`
 *   (addresses of configured nodes have their own per-address slots and never
 *   wait for strangers' ones), and a caller must say hello within
 *   `helloTimeoutMs` (at most 1 s, never more than the timeout).
 * - Refusals are logged as one line at once, then one summary line per
 *   interval, however many there are.
 *
 * Duplicate connections: the listener keeps one inbound connection per peer
 * node, the newest, and closes the older one ("superseded") once the newer
 * one has completed its handshake (never before: a caller that proves
 * nothing replaces nothing) — a peer that restarted after kill -9 reconnects
 * before its old socket times out, and the new socket is the live one.
 */
import type { LogLevel, NodeId } from "../core/types.ts";
import { FrameReader } from "./frame.ts";
import { after, raceTimeout } from "./deadlines.ts";
import { printable } from "./text.ts";
import {
  type AcceptNode,
  acceptorHandshake,
  HANDSHAKE_MAX_BODY_BYTES,
  type Handshaken,
} from "./handshake.ts";
import {
  closeQuietly,
  formatAddr,
  PeerConnection,
  type PeerOptions,
  safeLog,
  trySetNoDelay,
} from "./peer.ts";

/** Options of {@linkcode listenPeers}. */
export interface ListenPeersOptions extends PeerOptions {
  /** Address to bind; always give one (Deno's default is 0.0.0.0). */
  hostname: string;
  /** Port to bind; 0 picks a free one (see `PeerListener.port`). */
  port: number;
  /**
   * Address rule, checked before anything is read, in every mode: the
   * configured `remote`, `friends` and node addresses.
   */
  allowed: (remote: Deno.NetAddr) => boolean;
  /**
   * Addresses with slots of their own (configured nodes): they are not
   * counted against `maxHandshakes`. Default: none.
   */
  reserved?: (remote: Deno.NetAddr) => boolean;
  /**
   * Name rule, checked on the hello: why `node` may not connect from
   * `remote` (not a configured node, not its address), or null to accept.
   */
  acceptNode?: (node: NodeId, remote: Deno.NetAddr) => string | null;
  /** Called with every connection that completed its handshake. */
  onConnection: (conn: PeerConnection) => void;
  /** Handshakes in progress at once from addresses that are not `reserved` (default 32). */
  maxHandshakes?: number;
  /** Handshakes in progress at once from one source address (default 8). */
  maxHandshakesPerAddress?: number;
  /** How long a caller may take to say hello (default and cap: min(1 s, timeoutMs)). */
  helloTimeoutMs?: number;
  /**
   * Refusals after the first are summed up in one log line per interval
   * (default 10 s; 0 logs every one, for tests).
   */
  refusalSummaryMs?: number;
}

/** A caller that says nothing is dropped after this long, whatever the timeout. */
export const MAX_HELLO_TIMEOUT_MS = 1000;

/** Bind and start accepting peers. Throws if the address cannot be bound. */
export function listenPeers(options: ListenPeersOptions): PeerListener {
  return new PeerListener(options);
}

/** Accepts peer connections; see the module comment for the duplicate rule. */
export class PeerListener {
  /** The bound address. */
  readonly hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;

  #listener: Deno.TcpListener;
  #options: ListenPeersOptions;
  #handshakes = new Map<Deno.Conn, Promise<void>>();
  /** Handshakes in progress per source address. */
  #pendingFrom = new Map<string, number>();
  /** Handshakes in progress from addresses that are not reserved. */
  #pendingUnreserved = 0;
  #refusals: RefusalLog;
  /** The newest inbound connection per node. */
  #live = new Map<NodeId, PeerConnection>();
  /** Every accepted connection until it has closed, superseded ones included. */
  #accepted = new Set<PeerConnection>();
  #stopped = false;
  #stop!: () => void;
  #stopSignal = new Promise<void>((resolve) => this.#stop = resolve);
  #acceptLoop: Promise<void>;

  /** Internal: use {@linkcode listenPeers}. */
  constructor(options: ListenPeersOptions) {
    this.#options = options;
    this.#refusals = new RefusalLog(
      (message) => this.#log("warning", message),
      options.refusalSummaryMs ?? 10_000,
    );
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.hostname = this.#listener.addr.hostname;
    this.port = this.#listener.addr.port;
    this.#acceptLoop = this.#accept();
  }

  /** The established inbound connections, one per peer node. */
  get connections(): PeerConnection[] {
    return [...this.#live.values()];
  }

  /** Stop accepting and close every connection this listener accepted; resolves when all have ended. */
  async close(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#stop();
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    await this.#acceptLoop;
    for (const conn of this.#handshakes.keys()) {
      try {
        conn.close();
      } catch {
        // The handshake finished and closed it meanwhile.
      }
    }
    await Promise.all(this.#handshakes.values());
    await Promise.all([...this.#accepted].map((c) => c.close("listener closed")));
    this.#refusals.close();
  }

  /** Close every inbound connection for which `drop` gives a reason (e.g. its key was removed). */
  async closeWhere(drop: (conn: PeerConnection) => string | null): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const conn of this.#accepted) {
      const why = drop(conn);
      if (why !== null) closing.push(conn.close(why));
    }
    await Promise.all(closing);
  }

  #log(level: LogLevel, message: string): void {
    safeLog(this.#options.log, level, message);
  }

  async #accept(): Promise<void> {
    while (!this.#stopped) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#stopped) return;
        // E.g. out of file descriptors: say so, breathe, go on.
        this.#log("error", `peer listener ${this.hostname}:${this.port}: accept failed: ${e}`);
        await raceTimeout(this.#stopSignal, 100);
        continue;
      }
      try {
        this.#admit(conn);
      } catch (e) {
        this.#log("error", `peer listener: internal error admitting a connection: ${e}`);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const host = remote.hostname;
    const perAddress = this.#options.maxHandshakesPerAddress ?? 8;
    const max = this.#options.maxHandshakes ?? 32;
    let refusal: string | null = null;
    let reserved = false;
    if (this.#stopped) refusal = "listener closing";
    else if (!this.#check("allowed", remote)) {
      refusal = "address not allowed (not a configured node, remote or friend)";
    } else if ((this.#pendingFrom.get(host) ?? 0) >= perAddress) {
      refusal = `${perAddress} handshakes from this address already in progress`;
    } else if (!(reserved = this.#check("reserved", remote)) && this.#pendingUnreserved >= max) {
      refusal = `${max} handshakes from unreserved addresses already in progress`;
    }
    if (refusal) {
      this.#refusals.add(host, refusal);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    this.#pendingFrom.set(host, (this.#pendingFrom.get(host) ?? 0) + 1);
    if (!reserved) this.#pendingUnreserved++;
    trySetNoDelay(conn);
    const task = this.#handshake(conn, remote)
      .catch((e) =>
        this.#log("error", `peer ${formatAddr(remote)}: internal error in handshake: ${e}`)
      )
      .finally(() => {
        this.#handshakes.delete(conn);
        const left = (this.#pendingFrom.get(host) ?? 1) - 1;
        if (left > 0) this.#pendingFrom.set(host, left);
        else this.#pendingFrom.delete(host);
        if (!reserved) this.#pendingUnreserved--;
      });
    this.#handshakes.set(conn, task);
  }

  #check(which: "allowed" | "reserved", remote: Deno.NetAddr): boolean {
    const rule = this.#options[which];
    if (!rule) return false;
    try {
      return rule(remote) === true;
    } catch (e) {
      this.#log("error", `peer listener: ${which}() threw: ${e}`);
      return false;
    }
  }

  async #handshake(conn: Deno.TcpConn, remote: Deno.NetAddr): Promise<void> {
    const from = formatAddr(remote);
    const reader = new FrameReader(conn, { maxBodyBytes: HANDSHAKE_MAX_BODY_BYTES });
    const acceptNode = this.#options.acceptNode;
    const checkNode: AcceptNode | undefined = acceptNode && ((node) => {
      try {
        return acceptNode(node, remote);
      } catch (e) {
        return `internal error checking the name: ${e}`;
      }
    });
    const helloTimeoutMs = Math.min(
      this.#options.helloTimeoutMs ?? MAX_HELLO_TIMEOUT_MS,
      MAX_HELLO_TIMEOUT_MS,
      this.#options.timeoutMs,
    );
    let handshaken: Handshaken;
    try {
      handshaken = await acceptorHandshake(conn, reader, {
        ...this.#options,
        acceptNode: checkNode,
        helloTimeoutMs,
      });
    } catch (e) {
      this.#refusals.add(remote.hostname, (e as Error).message);
      await closeQuietly(conn, reader);
      return;
    }
    if (this.#stopped) {
      await closeQuietly(conn, reader);
      return;
    }
    const peer = new PeerConnection(conn, reader, handshaken, "acceptor", this.#options);
    this.#log("info", `peer ${peer.node} (${from}): accepted${peer.keyed ? " (keyed)" : ""}`);
    const older = this.#live.get(peer.node);
    this.#live.set(peer.node, peer);
    this.#accepted.add(peer);
    peer.onClose(() => {
      this.#accepted.delete(peer);
      if (this.#live.get(peer.node) === peer) this.#live.delete(peer.node);
    });
    if (older) void older.close(`superseded by a newer connection from ${from}`);
    try {
      this.#options.onConnection(peer);
    } catch (e) {
      this.#log("error", `peer ${peer.node}: onConnection threw: ${e}`);
    }
  }
}

/** Most distinct (address, reason) pairs a summary line names; the rest are counted. */
const SUMMARY_ENTRIES = 5;
/** Refusals logged at once per interval (each a new address and reason); the rest are summed up. */
const IMMEDIATE_PER_INTERVAL = 5;

/**
 * Refusals in the log: the first few distinct ones of an interval at once,
 * then one line per interval summing up the others, so that a flood of
 * connections writes a handful of lines, not one per connection.
 */
class RefusalLog {
  #write: (message: string) => void;
  #intervalMs: number;
  #counts = new Map<string, number>();
  #seen = new Set<string>();
  #total = 0;
  #cancel: (() => void) | null = null;

  constructor(write: (message: string) => void, intervalMs: number) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  add(host: string, reason: string): void {
    const key = `${host}: refused: ${printable(reason)}`;
    if (this.#intervalMs <= 0) {
      this.#write(`peer ${key}`);
      return;
    }
    if (this.#cancel === null) this.#arm();
    if (!this.#seen.has(key) && this.#seen.size < IMMEDIATE_PER_INTERVAL) {
      this.#seen.add(key);
      this.#write(
        `peer ${key}` +
          (this.#seen.size === 1
            ? ` (more refusals are summed up every ${this.#intervalMs / 1000} s)`
            : ""),
      );
      return;
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#total++;
  }

  #arm(): void {
    this.#cancel = after(this.#intervalMs, () => {
      this.#cancel = null;
      this.#seen.clear();
      if (this.#total === 0) return;
      const top = [...this.#counts].sort((a, b) => b[1] - a[1]);
      const named = top.slice(0, SUMMARY_ENTRIES).map(([k, n]) => `${n} × ${k}`);
      const rest = top.length > SUMMARY_ENTRIES
        ? `; and ${top.length - SUMMARY_ENTRIES} other kinds`
        : "";
      this.#write(
        `peer listener: ${this.#total} more refusal(s) in ${this.#intervalMs / 1000} s: ${
          named.join("; ")
        }${rest}`,
      );
      this.#counts.clear();
      this.#total = 0;
      this.#arm();
    });
  }

  close(): void {
    this.#cancel?.();
    this.#cancel = null;
  }
}
