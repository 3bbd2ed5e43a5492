/**
 * The control server: the daemon's end of the control socket.
 *
 * Each connection carries requests, one frame each, answered in order with
 * the request's id. An `events` request with `follow` turns its connection
 * into a one-way stream of {@linkcode EventFrame}s until the client leaves.
 * Nothing a client sends can throw out of here: a bad request gets a
 * `bad_request` answer, an unreadable frame closes that one connection, and
 * the server goes on serving everyone else.
 */
import type { LogLevel } from "../core/types.ts";
import { encodeFrame, FrameError, FrameReader, writeAllWithTimeout } from "../wire/frame.ts";
import {
  type ControlErrorCode,
  type ControlHandler,
  ControlRefusal,
  type ControlRequest,
  type ControlResponse,
  type DaemonEvent,
  type EventFrame,
  type EventsResult,
} from "./protocol.ts";
import { parseRequest } from "./request.ts";
import { listenUnixPrivate } from "./socket_file.ts";

export { SocketFileError, type SocketFileErrorKind } from "./socket_file.ts";

/** Receives every refused connection, bad request and failure, with its reason. */
export type ControlLog = (level: LogLevel, message: string) => void;

/** Limits of a {@linkcode ControlServer}; the defaults suit a daemon. */
export interface ControlServerOptions {
  /** A client that sends no complete request for this long is closed (followers excepted). */
  idleTimeoutMs?: number;
  /** Bound on writing one response or event. */
  writeTimeoutMs?: number;
  /** Largest request frame body accepted. */
  maxRequestBytes?: number;
  /** Largest response body sent (status of many resources is large). */
  maxResponseBytes?: number;
  /** Connections open at once; more are closed at once. */
  maxConnections?: number;
  /** Events waiting for a slow follower; past this the follower is dropped. */
  maxQueuedEvents?: number;
  /** How long to wait for an existing socket to answer before calling it live. */
  probeTimeoutMs?: number;
}

const DEFAULTS: Required<ControlServerOptions> = {
  idleTimeoutMs: 30_000,
  writeTimeoutMs: 5_000,
  maxRequestBytes: 1024 * 1024,
  maxResponseBytes: 64 * 1024 * 1024,
  maxConnections: 64,
  maxQueuedEvents: 10_000,
  probeTimeoutMs: 1_000,
};

/** Reads of a follower are only there to notice that it left: no deadline is needed. */
const FOLLOW_READ_SLICE_MS = 60_000;

/** The control socket of one daemon. */
export class ControlServer {
  /** The socket's path. */
  readonly path: string;
  #listener: Deno.UnixListener;
  #handler: ControlHandler;
  #log: ControlLog;
  #options: Required<ControlServerOptions>;
  #sessions = new Map<Session, Promise<void>>();
  #stopped = false;
  #acceptLoop: Promise<void>;

  private constructor(
    path: string,
    listener: Deno.UnixListener,
    handler: ControlHandler,
    log: ControlLog,
    options: Required<ControlServerOptions>,
  ) {
    this.path = path;
    this.#listener = listener;
    this.#handler = handler;
    this.#log = log;
    this.#options = options;
    this.#acceptLoop = this.#accept();
  }

  /**
   * Create the socket at `path` (mode 0600, a stale file replaced) and serve
   * `handler` on it. Throws a SocketFileError when a daemon already listens
   * there or the socket cannot be created.
   */
  static async listen(
    path: string,
    handler: ControlHandler,
    log: ControlLog,
    options: ControlServerOptions = {},
  ): Promise<ControlServer> {
    const opts = { ...DEFAULTS, ...options };
    const listener = await listenUnixPrivate(path, opts.probeTimeoutMs);
    return new ControlServer(path, listener, handler, log, opts);
  }

  /** Connections open now, followers included. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Stop accepting, close every connection and remove the socket file; resolves when all ended. */
  async close(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      try {
        // Closing a Unix listener also removes its socket file.
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    await this.#acceptLoop;
    for (const session of this.#sessions.keys()) session.close();
    await Promise.all(this.#sessions.values());
  }

  async #accept(): Promise<void> {
    while (!this.#stopped) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#stopped) return;
        // E.g. out of file descriptors: say so, breathe, go on.
        safeLog(this.#log, "error", `control socket ${this.path}: accept failed: ${e}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (this.#stopped || !this.#makeRoom()) {
        safeLog(
          this.#log,
          "warning",
          `control socket: connection refused: ${
            this.#stopped
              ? "closing"
              : `${this.#options.maxConnections} already open, none waiting for a request`
          }`,
        );
        closeQuietly(conn);
        continue;
      }
      const session = new Session(conn, this.#handler, this.#log, this.#options);
      const run = session.run()
        .catch((e) => safeLog(this.#log, "error", `control connection: internal error: ${e}`))
        .finally(() => this.#sessions.delete(session));
      this.#sessions.set(session, run);
    }
  }

  /**
   * Whether a new connection fits: under the limit, or once the connection
   * that has waited longest on its client (for a request, or to take an
   * answer) is closed. Without that, clients that connect and say nothing, or
   * never read, held every slot for the idle or write timeout, and every
   * `hastmon ctl` was refused. Followers and answers being worked out are kept.
   */
  #makeRoom(): boolean {
    let open = 0;
    let idlest: Session | null = null;
    for (const session of this.#sessions.keys()) {
      if (session.closed) continue;
      open++;
      const since = session.stalledSince;
      if (since !== null && (idlest === null || since < idlest.stalledSince!)) idlest = session;
    }
    if (open < this.#options.maxConnections) return true;
    if (idlest === null) return false;
    safeLog(
      this.#log,
      "warning",
      `control socket: ${this.#options.maxConnections} connections open: ` +
        "closed the one idle longest",
    );
    idlest.close();
    return true;
  }
}

/** One client connection. */
class Session {
  #conn: Deno.UnixConn;
  #reader: FrameReader;
  #handler: ControlHandler;
  #log: ControlLog;
  #options: Required<ControlServerOptions>;
  #closed = false;
  /** Since when it waits on its client (performance.now), or null. */
  #stalledSince: number | null = null;
  #following = false;
  #onClose: (() => void) | null = null;
  /** Settles when the session closes: a long answer (a restart) is not waited for then. */
  #closing: Promise<null>;
  #markClosed: () => void = () => {};

  constructor(
    conn: Deno.UnixConn,
    handler: ControlHandler,
    log: ControlLog,
    options: Required<ControlServerOptions>,
  ) {
    this.#conn = conn;
    this.#reader = new FrameReader(conn, { maxBodyBytes: options.maxRequestBytes });
    this.#handler = handler;
    this.#log = log;
    this.#options = options;
    this.#closing = new Promise<null>((resolve) => this.#markClosed = () => resolve(null));
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Since when it has waited on its client, for a request or for room to
   * write an answer; null while it works out an answer or follows events.
   */
  get stalledSince(): number | null {
    return this.#stalledSince;
  }

  /** Close the connection; `run` then ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
    this.#markClosed();
    this.#onClose?.();
  }

  /** Serve requests until the client leaves, misbehaves or the server closes. */
  async run(): Promise<void> {
    try {
      while (!this.#closed) {
        let body;
        this.#stalledSince = performance.now();
        try {
          body = await this.#reader.read(this.#options.idleTimeoutMs);
        } catch (e) {
          await this.#readFailed(e);
          return;
        } finally {
          this.#stalledSince = null;
        }
        const parsed = parseRequest(body);
        if (!parsed.ok) {
          safeLog(this.#log, "warning", `control request refused: ${parsed.message}`);
          await this.#send(errorResponse(parsed.id, parsed.code, parsed.message));
          continue;
        }
        const request = parsed.request;
        if (request.type === "events" && request.follow) {
          await this.#follow(request);
          return;
        }
        // A server closing (shutdown) does not wait for an answer still to come.
        const response = await Promise.race([this.#answer(request), this.#closing]);
        if (response === null) return;
        await this.#send(response);
      }
    } finally {
      this.close();
      await this.#reader.settle();
    }
  }

  /** A read ended the connection: say why where useful. */
  async #readFailed(e: unknown): Promise<void> {
    if (!(e instanceof FrameError)) throw e;
    if (this.#closed || e.kind === "closed") return;
    if (e.kind === "timeout") {
      safeLog(this.#log, "debug", `control connection closed: idle (${e.message})`);
      return;
    }
    safeLog(this.#log, "warning", `control connection closed: ${e.message}`);
    // The frame was delimited but its body is not a JSON object: answer, then
    // close (the decoder cannot go on after an error).
    if (e.kind === "bad_body") await this.#send(errorResponse(0, "bad_request", e.message));
  }

  /**
   * The response to one non-follow request; handler failures become
   * `internal`. scha and setstatus may take long (a restart waits for the
   * group): this session waits, the others go on being served.
   */
  async #answer(request: ControlRequest): Promise<ControlResponse> {
    const id = request.id;
    try {
      switch (request.type) {
        case "status": {
          const { result, unknown } = this.#handler.status(request.resources);
          return withUnknown(id, result, unknown);
        }
        case "role": {
          const { result, unknown } = this.#handler.role(
            request.role,
            request.resources,
            request.force ?? false,
            request.to,
          );
          return withUnknown(id, result, unknown);
        }
        case "events": {
          const result: EventsResult = { events: this.#handler.recentEvents(request.limit) };
          return { v: 1, id, ok: true, result };
        }
        case "scha": {
          const result = await this.#handler.scha(
            request.group,
            request.optag,
            request.member,
            request.to,
          );
          return { v: 1, id, ok: true, result };
        }
        case "setstatus": {
          const result = await this.#handler.setStatus(
            request.group,
            request.member,
            request.status,
            request.message ?? "",
          );
          return { v: 1, id, ok: true, result };
        }
      }
    } catch (e) {
      if (e instanceof ControlRefusal) return errorResponse(id, "refused", e.message);
      safeLog(this.#log, "error", `control request ${request.type} failed: ${errorText(e)}`);
      return errorResponse(id, "internal", `the daemon failed: ${errorText(e)}`);
    }
  }

  /**
   * Answer with the recent events, then stream every new one. Subscribing
   * before reading the recent ones, and skipping what they already hold, means
   * no event is lost or repeated in between.
   */
  async #follow(request: ControlRequest & { type: "events" }): Promise<void> {
    this.#following = true;
    const queue: DaemonEvent[] = [];
    let overflow = false;
    let wake: (() => void) | null = null;
    const wakeWriter = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    let unsubscribe = () => {};
    let recent: DaemonEvent[];
    try {
      unsubscribe = this.#handler.subscribe((event) => {
        if (this.#closed || overflow) return;
        if (queue.length >= this.#options.maxQueuedEvents) overflow = true;
        else queue.push(event);
        wakeWriter();
      });
      recent = this.#handler.recentEvents(request.limit);
    } catch (e) {
      safeUnsubscribe(unsubscribe, this.#log);
      safeLog(this.#log, "error", `control events failed: ${errorText(e)}`);
      await this.#send(errorResponse(request.id, "internal", `the daemon failed: ${errorText(e)}`));
      return;
    }
    this.#onClose = wakeWriter;
    const listening = this.#watchForLeave(wakeWriter);
    try {
      const result: EventsResult = { events: recent };
      if (!await this.#send({ v: 1, id: request.id, ok: true, result })) return;
      let lastSeq = recent.length > 0 ? recent[recent.length - 1].seq : -Infinity;
      while (!this.#closed) {
        const event = queue.shift();
        if (event === undefined) {
          if (overflow) {
            safeLog(this.#log, "warning", "control event follower dropped: it reads too slowly");
            return;
          }
          await new Promise<void>((resolve) => wake = resolve);
          continue;
        }
        if (event.seq <= lastSeq) continue;
        lastSeq = event.seq;
        const frame: EventFrame = { v: 1, id: request.id, event };
        if (!await this.#send(frame)) return;
      }
    } finally {
      safeUnsubscribe(unsubscribe, this.#log);
      this.close();
      await listening;
    }
  }

  /** A follower sends nothing more; read only to notice that it has gone. */
  async #watchForLeave(wakeWriter: () => void): Promise<void> {
    try {
      while (!this.#closed) {
        try {
          await this.#reader.read(FOLLOW_READ_SLICE_MS);
          safeLog(this.#log, "debug", "control follower sent a frame; ignored");
        } catch (e) {
          if (e instanceof FrameError && e.kind === "timeout") continue;
          if (!(e instanceof FrameError) || (e.kind !== "closed" && !this.#closed)) {
            safeLog(this.#log, "warning", `control follower closed: ${errorText(e)}`);
          }
          return;
        }
      }
    } finally {
      this.close();
      wakeWriter();
    }
  }

  /** Write one frame; false (and the connection closed) if that failed. */
  async #send(body: ControlResponse | EventFrame): Promise<boolean> {
    if (this.#closed) return false;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(body as unknown as Record<string, unknown>, {
        maxBodyBytes: this.#options.maxResponseBytes,
      });
    } catch (e) {
      // Too large or not serialisable: the client still deserves an answer.
      const id = body.id;
      safeLog(this.#log, "error", `control response not sent: ${errorText(e)}`);
      bytes = encodeFrame(errorResponse(id, "internal", `response not sent: ${errorText(e)}`));
    }
    if (!this.#following) this.#stalledSince = performance.now();
    try {
      await writeAllWithTimeout(this.#conn, bytes, this.#options.writeTimeoutMs);
      return true;
    } catch (e) {
      if (!this.#closed) safeLog(this.#log, "debug", `control write failed: ${errorText(e)}`);
      this.close();
      return false;
    } finally {
      this.#stalledSince = null;
    }
  }
}

/** A success, or `unknown_resource` carrying the answer for the known ones. */
function withUnknown(id: number, result: unknown, unknown: string[]): ControlResponse {
  if (unknown.length === 0) return { v: 1, id, ok: true, result };
  return {
    v: 1,
    id,
    ok: false,
    error: {
      code: "unknown_resource",
      message: `unknown resource${unknown.length === 1 ? "" : "s"}: ${unknown.join(", ")}`,
      unknown,
    },
    result,
  };
}

function errorResponse(id: number, code: ControlErrorCode, message: string): ControlResponse {
  return { v: 1, id, ok: false, error: { code, message } };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function safeUnsubscribe(unsubscribe: () => void, log: ControlLog): void {
  try {
    unsubscribe();
  } catch (e) {
    safeLog(log, "error", `control events: unsubscribe failed: ${errorText(e)}`);
  }
}

function safeLog(log: ControlLog, level: LogLevel, message: string): void {
  try {
    log(level, message);
  } catch {
    // A broken logger must not take the control socket down with it.
  }
}
