/**
 * The transport between daemons: an outbound connect, and the authenticated
 * connection it and the listener (peer_listener.ts) produce.
 *
 * - Every connection starts with the handshake of handshake.ts. With a key,
 *   frames are sealed (auth.ts).
 * - Every read has a deadline: the handshake has `timeoutMs`, and an
 *   established connection that receives no complete frame for
 *   `idleTimeoutMs` is closed. Each side sends an empty batch as a keepalive
 *   after `keepaliveMs` without sending, so a quiet but healthy link stays up.
 * - Malformed, oversized, unauthenticated or replayed input closes that one
 *   connection with a logged reason. No exception from a connection reaches
 *   the listener or the process.
 *
 * Outbound connections are the caller's: the daemon keeps at most one per
 * peer. Two nodes that dial each other so hold one connection per direction;
 * both are full duplex and equally valid, and the core does not care which
 * one a message arrived on. The intended use is to send on the connection
 * you dialled and to receive on all.
 */
import type { LogLevel, Message, NodeId } from "../core/types.ts";
import { AuthError, type Opener, type PeerAuth, type Sealer } from "./auth.ts";
import { batchBody, MAX_BATCH_MESSAGES, parseBatch, parseMessage } from "./codec.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  encodeFrame,
  type FrameBody,
  FrameError,
  FrameReader,
  writeAllWithTimeout,
} from "./frame.ts";
import { after } from "./deadlines.ts";
import { connectorHandshake, HANDSHAKE_MAX_BODY_BYTES, type Handshaken } from "./handshake.ts";

/** Where log lines go. */
export type PeerLog = (level: LogLevel, message: string) => void;

/** Settings shared by the listener and outbound connections. */
export interface PeerOptions {
  /** This node's name, sent in the hello. */
  self: NodeId;
  /** The shared secret (see `importSecret`) or the node keys, or null: access by address only. */
  auth: PeerAuth | null;
  /** Bound on connect, on the whole handshake, and on each write. */
  timeoutMs: number;
  /** An established connection that receives nothing for this long is closed. */
  idleTimeoutMs: number;
  /** Send an empty batch after this long without sending (default idleTimeoutMs / 2; 0 = never). */
  keepaliveMs?: number;
  /** Largest frame body accepted or sent (default 1 MiB). */
  maxFrameBytes?: number;
  /** Receives every connect, refusal and close, with its reason. */
  log: PeerLog;
}

/** Messages received from one peer in one frame. */
export interface PeerBatch {
  /** The authenticated node name of the sender. */
  from: NodeId;
  /** Validated messages, in the order sent; never empty. */
  messages: Message[];
}

/** A connect or handshake failure of {@linkcode connectPeer}. */
export class PeerError extends Error {
  /** Construct with the reason. */
  constructor(message: string) {
    super(message);
    this.name = "PeerError";
  }
}

/** Batches a consumer may fall behind by before reading pauses (TCP then pushes back). */
const MAX_QUEUED_BATCHES = 64;
/** Upper bound on JSON.stringify's growth of a JSON text (every `"` and `\` escaped), plus envelope. */
const SEAL_OVERHEAD_BYTES = 160;

const utf8 = new TextEncoder();

/** Format an address for logs. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}

/** Log through `log`; a logger that throws is ignored. */
export function safeLog(log: PeerLog, level: LogLevel, message: string): void {
  try {
    log(level, message);
  } catch {
    // A broken logger must not take a connection down with it.
  }
}

/**
 * An authenticated connection to one peer node. Receive with
 * `for await (const batch of conn)`; the iteration ends when the connection
 * closes, and leaving it early closes the connection.
 */
export class PeerConnection implements AsyncIterable<PeerBatch> {
  /** The peer's node name, as proved in the handshake. */
  readonly node: NodeId;
  /** "connector" if this node dialled, "acceptor" if the listener accepted it. */
  readonly side: "connector" | "acceptor";
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Whether frames are sealed with a session key (and, with node keys, encrypted). */
  readonly keyed: boolean;
  /** With node keys: the configured public key the peer proved (`ed25519:…`); else null. */
  readonly peerKey: string | null;

  #conn: Deno.Conn;
  #reader: FrameReader;
  #sealer: Sealer | null;
  #opener: Opener | null;
  #options: PeerOptions;
  #maxFrameBytes: number;
  #queue: PeerBatch[] = [];
  #wakeConsumer: (() => void) | null = null;
  #wakeReader: (() => void) | null = null;
  #writes: Promise<unknown> = Promise.resolve();
  /** Cancels the pending keepalive check; null when none is pending. */
  #keepalive: (() => void) | null = null;
  #lastSentAt = 0;
  #readLoop: Promise<void>;
  #closeReason: string | null = null;
  #closing: Promise<void> | null = null;
  #closed = false;
  #closeHandlers: ((reason: string) => void)[] = [];

  /** Internal: use {@linkcode connectPeer} or {@linkcode listenPeers}. */
  constructor(
    conn: Deno.Conn,
    reader: FrameReader,
    handshaken: Handshaken,
    side: "connector" | "acceptor",
    options: PeerOptions,
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.#sealer = handshaken.sealer;
    this.#opener = handshaken.opener;
    this.#options = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_BODY_BYTES;
    reader.decoder.maxBodyBytes = this.#maxFrameBytes;
    this.node = handshaken.node;
    this.side = side;
    this.remoteAddr = conn.remoteAddr as Deno.NetAddr;
    this.keyed = this.#sealer !== null;
    this.peerKey = handshaken.peerKey;
    this.#armKeepalive();
    this.#readLoop = this.#receive();
  }

  /** Whether the connection is closed or closing. */
  get closed(): boolean {
    return this.#closeReason !== null;
  }

  /** Why the connection closed, or null while it is open. */
  get closeReason(): string | null {
    return this.#closeReason;
  }

  /**
   * Send messages to the peer, as one frame (or several, over the batch or
   * size caps), in order with earlier sends. Resolves true once written,
   * false if the connection is or becomes closed (a failed write closes it).
   * An empty list sends an empty batch (a keepalive). Never rejects.
   * Throws a TypeError at once for a message the codec would refuse: that is
   * a bug of the caller, not of the peer.
   */
  send(messages: readonly Message[]): Promise<boolean> {
    // Validated copies: a caller mutating its objects after send() changes nothing.
    const copies = messages.map((msg) => {
      const checked = parseMessage(msg);
      if (checked instanceof Error) {
        throw new TypeError(`refusing to send an invalid message: ${checked.message}`);
      }
      return checked;
    });
    if (this.closed) return Promise.resolve(false);
    const chunks = this.#split(copies);
    const done = this.#writes.then(async () => {
      if (this.closed) return false;
      try {
        for (const chunk of chunks) {
          let body: FrameBody = batchBody(chunk);
          if (this.#sealer) body = { ...await this.#sealer.seal(body) };
          const bytes = encodeFrame(body, { maxBodyBytes: this.#maxFrameBytes });
          await writeAllWithTimeout(this.#conn, bytes, this.#options.timeoutMs);
        }
      } catch (e) {
        if (!this.closed) void this.#shutdown(`write failed: ${(e as Error).message}`, "warning");
        return false;
      }
      this.#armKeepalive();
      return true;
    });
    this.#writes = done;
    return done;
  }

  /** Call `handler(reason)` once when the connection closes (at once if it already has). */
  onClose(handler: (reason: string) => void): void {
    if (this.#closed) {
      queueMicrotask(() => this.#callCloseHandler(handler, this.#closeReason ?? "closed"));
    } else {
      this.#closeHandlers.push(handler);
    }
  }

  /** Close the connection; resolves when every read, write and timer of it has ended. */
  close(reason = "closed locally"): Promise<void> {
    return this.#shutdown(reason, "info");
  }

  /** Received batches, in order; ends when the connection closes. One consumer only. */
  [Symbol.asyncIterator](): AsyncIterator<PeerBatch> {
    return {
      next: () => this.#next(),
      return: async () => {
        await this.close("receiver stopped reading");
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<PeerBatch>> {
    for (;;) {
      const batch = this.#queue.shift();
      if (batch) {
        this.#wakeReader?.();
        return { done: false, value: batch };
      }
      if (this.closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
    }
  }

  /** Split a send into chunks that fit the batch cap and the frame size cap. */
  #split(messages: Message[]): Message[][] {
    const limit = this.#sealer
      ? Math.floor((this.#maxFrameBytes - SEAL_OVERHEAD_BYTES) / 2)
      : this.#maxFrameBytes;
    const out: Message[][] = [];
    const fit = (list: Message[]) => {
      const size = utf8.encode(JSON.stringify(batchBody(list))).length;
      if (list.length <= MAX_BATCH_MESSAGES && size <= limit) {
        out.push(list);
      } else if (list.length > 1) {
        const half = Math.ceil(list.length / 2);
        fit(list.slice(0, half));
        fit(list.slice(half));
      } else {
        throw new TypeError(`a single message of ${size} bytes exceeds the frame cap`);
      }
    };
    fit(messages);
    return out;
  }

  /**
   * After each send: note the time. The one pending check is not moved (each
   * move would cost a wake-up, see deadlines.ts); when it comes due it sends
   * a keepalive only if nothing was sent since, else waits again.
   */
  #armKeepalive(): void {
    this.#lastSentAt = performance.now();
    if (this.#keepalive === null) this.#scheduleKeepalive();
  }

  #scheduleKeepalive(): void {
    // Half the idle timeout: a link that carries heartbeats every interval needs none.
    const every = this.#options.keepaliveMs ?? this.#options.idleTimeoutMs / 2;
    if (every <= 0 || this.closed) return;
    this.#keepalive = after(this.#lastSentAt + every - performance.now(), () => {
      this.#keepalive = null;
      if (this.closed) return;
      if (performance.now() - this.#lastSentAt >= every) void this.send([]);
      else this.#scheduleKeepalive();
    });
  }

  #cancelKeepalive(): void {
    this.#keepalive?.();
    this.#keepalive = null;
  }

  async #receive(): Promise<void> {
    try {
      for (;;) {
        while (this.#queue.length >= MAX_QUEUED_BATCHES && !this.closed) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
        }
        if (this.closed) return;
        const failure = await this.#receiveOne();
        if (failure) {
          if (!this.closed) void this.#shutdown(failure.reason, failure.level);
          return;
        }
      }
    } catch (e) {
      // A bug here must not escape: close this connection and say so.
      void this.#shutdown(`internal error while reading: ${(e as Error).stack ?? e}`, "error");
    }
  }

  /** Read, authenticate and decode one frame; a reason to close, or null. */
  async #receiveOne(): Promise<{ reason: string; level: LogLevel } | null> {
    let body: FrameBody;
    try {
      body = await this.#reader.read(this.#options.idleTimeoutMs);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      switch (e.kind) {
        case "closed":
          return { reason: "closed by peer", level: "info" };
        case "timeout":
          return {
            reason: `idle: no complete frame for ${this.#options.idleTimeoutMs} ms`,
            level: "warning",
          };
        default:
          return { reason: `bad input: ${e.message}`, level: "warning" };
      }
    }
    if (this.#opener) {
      const opened = await this.#opener.open(body);
      if (opened instanceof AuthError) {
        return { reason: `unauthenticated frame: ${opened.message}`, level: "warning" };
      }
      body = opened;
    }
    const batch = parseBatch(body);
    if (batch instanceof Error) {
      return { reason: `bad frame: ${batch.message}`, level: "warning" };
    }
    if (batch.invalid.length > 0) {
      // Dropped alone: the other messages of the frame (other resources) still count.
      safeLog(
        this.#options.log,
        "warning",
        `peer ${this.node}: dropped ${batch.invalid.length} invalid message(s): ${
          batch.invalid[0]
        }`,
      );
    }
    if (batch.messages.length > 0 && !this.closed) {
      this.#queue.push({ from: this.node, messages: batch.messages });
      this.#wakeConsumer?.();
    }
    return null;
  }

  #shutdown(reason: string, level: LogLevel): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closeReason = reason;
    this.#cancelKeepalive();
    safeLog(
      this.#options.log,
      level,
      `peer ${this.node} (${
        formatAddr(this.remoteAddr)
      }, ${this.side}): connection closed: ${reason}`,
    );
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
    this.#wakeReader?.();
    this.#wakeConsumer?.();
    this.#closing = (async () => {
      await this.#reader.settle();
      await this.#readLoop;
      await this.#writes;
      this.#cancelKeepalive();
      this.#closed = true;
      this.#wakeConsumer?.();
      for (const handler of this.#closeHandlers.splice(0)) this.#callCloseHandler(handler, reason);
    })();
    return this.#closing;
  }

  #callCloseHandler(handler: (reason: string) => void, reason: string): void {
    try {
      handler(reason);
    } catch (e) {
      safeLog(this.#options.log, "error", `peer ${this.node}: onClose handler threw: ${e}`);
    }
  }
}

/** Options of {@linkcode connectPeer}. */
export interface ConnectPeerOptions extends PeerOptions {
  /** The peer's host name or address. */
  hostname: string;
  /** The peer's listen port. */
  port: number;
  /** Refuse the connection unless the peer proves this name. */
  expectNode?: NodeId;
}

/** Dial a peer and run the handshake. Rejects with a PeerError (connect timeout, refusal…). */
export async function connectPeer(options: ConnectPeerOptions): Promise<PeerConnection> {
  const where = `${options.hostname}:${options.port}`;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: options.hostname,
      port: options.port,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (e) {
    throw new PeerError(`connect to ${where} failed: ${(e as Error).message}`);
  }
  trySetNoDelay(conn);
  const reader = new FrameReader(conn, { maxBodyBytes: HANDSHAKE_MAX_BODY_BYTES });
  try {
    const handshaken = await connectorHandshake(conn, reader, options);
    const peer = new PeerConnection(conn, reader, handshaken, "connector", options);
    safeLog(
      options.log,
      "info",
      `peer ${peer.node} (${where}): connected${peer.keyed ? " (keyed)" : ""}`,
    );
    return peer;
  } catch (e) {
    await closeQuietly(conn, reader);
    throw new PeerError(`peer ${where}: ${(e as Error).message}`);
  }
}

/** Ask for TCP_NODELAY; a socket that refuses it only costs latency. */
export function trySetNoDelay(conn: Deno.TcpConn): void {
  try {
    conn.setNoDelay(true);
  } catch {
    // Only latency is at stake.
  }
}

/** Close a connection and its reader, whatever state they are in. */
export async function closeQuietly(conn: Deno.Conn, reader: FrameReader): Promise<void> {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  await reader.settle();
}
