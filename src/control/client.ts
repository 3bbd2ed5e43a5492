/**
 * The one control client: `hastmon ctl` and the console talk to a daemon
 * through it, and nothing else opens the control socket.
 *
 *   const client = await ControlClient.connect(path, { timeoutMs: 5000 });
 *   try {
 *     const response = await client.request({ type: "status" });
 *   } finally {
 *     await client.close();
 *   }
 */
import { FrameError, FrameReader, writeFrame } from "../wire/frame.ts";
import type {
  ControlErrorCode,
  ControlRequest,
  ControlResponse,
  DaemonEvent,
  EventsResult,
} from "./protocol.ts";
import { connectWithin } from "./socket_file.ts";

/** Why a control call failed. */
export type ControlClientErrorKind =
  /** Nothing listens on the socket: no such file, or connection refused. */
  | "no_daemon"
  /** The socket exists but this user may not use it (it is 0600). */
  | "permission"
  /** The daemon did not answer in time. */
  | "timeout"
  /** The daemon answered something that is not the protocol, or closed mid-request. */
  | "protocol"
  /** The daemon ended a follow stream. */
  | "closed"
  /** The daemon refused a follow request; `code` says why. */
  | "daemon_error";

/** A failed control call; the message names the socket path. */
export class ControlClientError extends Error {
  /** Construct with the reason, the socket path and, for `daemon_error`, the daemon's code. */
  constructor(
    readonly kind: ControlClientErrorKind,
    readonly path: string,
    message: string,
    readonly code?: ControlErrorCode,
  ) {
    super(message);
    this.name = "ControlClientError";
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A request as the caller writes it; the client adds the version and the id. */
export type ControlRequestInput = DistributiveOmit<ControlRequest, "v" | "id">;

/** Options of {@linkcode ControlClient.connect}. */
export interface ControlClientOptions {
  /** Bound on connecting, and on each request's write and answer (default 5 s). */
  timeoutMs?: number;
  /** Largest answer accepted (default 64 MiB: status of a thousand resources is large). */
  maxResponseBytes?: number;
}

/** Options of one {@linkcode ControlClient.request}. */
export interface RequestOptions {
  /**
   * Bound on the answer, replacing the connection's `timeoutMs` for this
   * request; null waits as long as the daemon takes (scha_control blocks
   * until the group is back online, however long its start takes).
   */
  timeoutMs?: number | null;
}

/** Options of {@linkcode ControlClient.follow}. */
export interface FollowOptions {
  /** How many recent events to receive first (the daemon's default when absent). */
  limit?: number;
}

/** A reader without a deadline (a follower, an unbounded request) waits in slices of this length. */
const UNBOUNDED_READ_SLICE_MS = 60_000;

/** One connection to a daemon's control socket. */
export class ControlClient {
  /** The socket's path, for messages. */
  readonly path: string;
  #conn: Deno.UnixConn;
  #reader: FrameReader;
  #timeoutMs: number;
  #nextId = 1;
  /** Requests run one after the other, so each answer is the next frame. */
  #queue: Promise<unknown> = Promise.resolve();
  #following = false;
  #closed = false;

  private constructor(path: string, conn: Deno.UnixConn, options: ControlClientOptions) {
    this.path = path;
    this.#conn = conn;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#reader = new FrameReader(conn, {
      maxBodyBytes: options.maxResponseBytes ?? 64 * 1024 * 1024,
    });
  }

  /**
   * Connect to the daemon at `path`. Throws a {@linkcode ControlClientError}:
   * `no_daemon` when nothing listens there, `permission`, or `timeout`.
   */
  static async connect(path: string, options: ControlClientOptions = {}): Promise<ControlClient> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const outcome = await connectWithin(path, timeoutMs);
    if (outcome === "timeout") {
      throw new ControlClientError(
        "timeout",
        path,
        `no answer from the daemon's control socket ${path} within ${timeoutMs} ms`,
      );
    }
    if ("error" in outcome) throw connectError(path, outcome.error);
    return new ControlClient(path, outcome.conn, options);
  }

  /**
   * Send one request and return the daemon's response (which may be an error
   * response: check `ok`). Throws a ControlClientError when no valid response
   * arrives in time (`options.timeoutMs`, else the connection's); the
   * connection is then closed. The write is always bounded.
   */
  request(request: ControlRequestInput, options: RequestOptions = {}): Promise<ControlResponse> {
    const timeoutMs = options.timeoutMs === undefined ? this.#timeoutMs : options.timeoutMs;
    const run = this.#queue.then(() => this.#roundTrip(request, timeoutMs));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Ask for the event stream: `onEvent` gets the recent events, then every
   * new one, in order. Resolves when {@linkcode close} ends the stream;
   * rejects with a ControlClientError when the daemon refuses or ends it, or
   * with whatever `onEvent` throws. The connection serves nothing else after.
   */
  async follow(onEvent: (event: DaemonEvent) => void, options: FollowOptions = {}): Promise<void> {
    const response = await this.request({
      type: "events",
      follow: true,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    if (!response.ok) {
      await this.close();
      throw new ControlClientError(
        "daemon_error",
        this.path,
        `the daemon refused the event stream: ${response.error.message}`,
        response.error.code,
      );
    }
    const id = response.id;
    this.#following = true;
    try {
      const recent = (response.result as Partial<EventsResult> | null)?.events;
      if (!Array.isArray(recent) || !recent.every(isEvent)) {
        throw new ControlClientError(
          "protocol",
          this.path,
          `unexpected answer to the event request on ${this.path}`,
        );
      }
      for (const event of recent) onEvent(event);
      for (;;) {
        let frame;
        try {
          frame = await this.#readFrame(null);
        } catch (e) {
          if (this.#closed) return;
          if (e instanceof FrameError && e.kind === "closed") {
            throw new ControlClientError(
              "closed",
              this.path,
              `the daemon closed the event stream on ${this.path}`,
            );
          }
          throw this.#protocolError(e);
        }
        if (frame.v !== 1 || frame.id !== id || !isEvent(frame.event)) {
          throw new ControlClientError(
            "protocol",
            this.path,
            `unexpected frame on the event stream of ${this.path}: ${
              JSON.stringify(frame).slice(0, 200)
            }`,
          );
        }
        onEvent(frame.event);
      }
    } finally {
      await this.close();
    }
  }

  /** Close the connection (ends a follow stream); safe to call more than once. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#reader.settle();
  }

  async #roundTrip(
    request: ControlRequestInput,
    timeoutMs: number | null,
  ): Promise<ControlResponse> {
    if (this.#closed || this.#following) {
      throw new ControlClientError(
        "protocol",
        this.path,
        `control connection to ${this.path} is ${this.#closed ? "closed" : "following events"}`,
      );
    }
    const id = this.#nextId++;
    try {
      await writeFrame(this.#conn, { ...request, v: 1, id }, this.#timeoutMs);
      const body = await this.#readFrame(timeoutMs);
      if (body.v !== 1 || body.id !== id || typeof body.ok !== "boolean") {
        throw new ControlClientError(
          "protocol",
          this.path,
          `unexpected answer from ${this.path}: ${JSON.stringify(body).slice(0, 200)}`,
        );
      }
      return body as unknown as ControlResponse;
    } catch (e) {
      await this.close();
      if (e instanceof ControlClientError) throw e;
      if (e instanceof FrameError && e.kind === "timeout") {
        throw new ControlClientError(
          "timeout",
          this.path,
          `the daemon on ${this.path} did not answer within ${timeoutMs ?? this.#timeoutMs} ms`,
        );
      }
      throw this.#protocolError(e);
    }
  }

  /** The next frame within `timeoutMs`, or whenever it comes (null). */
  async #readFrame(timeoutMs: number | null) {
    if (timeoutMs !== null) return await this.#reader.read(timeoutMs);
    for (;;) {
      try {
        return await this.#reader.read(UNBOUNDED_READ_SLICE_MS);
      } catch (e) {
        // A slice ran out: the read stays in flight and a partial frame stays buffered.
        if (!(e instanceof FrameError && e.kind === "timeout")) throw e;
      }
    }
  }

  #protocolError(e: unknown): ControlClientError {
    const why = e instanceof FrameError && e.kind === "closed"
      ? "the daemon closed the connection"
      : e instanceof Error
      ? e.message
      : String(e);
    return new ControlClientError("protocol", this.path, `control socket ${this.path}: ${why}`);
  }
}

function isEvent(v: unknown): v is DaemonEvent {
  return typeof v === "object" && v !== null && typeof (v as DaemonEvent).seq === "number";
}

function connectError(path: string, error: unknown): ControlClientError {
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
    const why = error instanceof Deno.errors.NotFound ? "no such socket" : "connection refused";
    return new ControlClientError(
      "no_daemon",
      path,
      `no daemon is listening on ${path} (${why}); is \`hastmon daemon\` running?`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ControlClientError(
      "permission",
      path,
      `permission denied on ${path}: the control socket is private to the daemon's user`,
    );
  }
  const why = error instanceof Error ? error.message : String(error);
  return new ControlClientError("no_daemon", path, `cannot connect to ${path}: ${why}`);
}
