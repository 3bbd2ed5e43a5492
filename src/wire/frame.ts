/**
 * The one frame codec of hastmon, for peer connections and the control socket.
 *
 * A frame is an 8-byte header and a body:
 *
 * ```
 * bytes 0-2  magic "HMF"
 * byte  3    frame format version (1)
 * bytes 4-7  body length, unsigned 32-bit big-endian, 1..maxBodyBytes
 * body       UTF-8 JSON text of one object
 * ```
 *
 * The decoder checks each header byte as soon as it arrives, so garbage (five
 * zero bytes, an HTTP request, a huge length) is rejected before anything is
 * allocated for it. Every error is a {@linkcode FrameError}: the caller closes
 * that one connection and nothing else.
 *
 * Reads and writes on a connection always carry a timeout: {@linkcode FrameReader}
 * races each read against a timer (Deno has no read-timeout API), and
 * {@linkcode writeAllWithTimeout} bounds each write (the timeouts share one
 * timer: deadlines.ts).
 */
import { raceTimeout, settledSoon } from "./deadlines.ts";

/** ASCII "HMF": hastmon frame. */
export const FRAME_MAGIC: Uint8Array = Uint8Array.of(0x48, 0x4d, 0x46);
/** Version of the frame format (not of the messages inside). */
export const FRAME_VERSION = 1;
/** Bytes before the body. */
export const FRAME_HEADER_BYTES = 8;
/** Default cap on the body length. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The JSON object carried by one frame. */
export type FrameBody = Record<string, unknown>;

/** Why a frame could not be read or written. */
export type FrameErrorKind =
  /** The first bytes are not the frame magic. */
  | "bad_magic"
  /** Right magic, unsupported frame version. */
  | "bad_version"
  /** A length of zero. */
  | "empty"
  /** A length over the cap (reading), or a body over the cap (writing). */
  | "too_large"
  /** A body that is not UTF-8 JSON of an object. */
  | "bad_body"
  /** The stream ended in the middle of a frame. */
  | "truncated"
  /** The stream ended (or was closed locally) between frames. */
  | "closed"
  /** A read or write did not finish in time. */
  | "timeout"
  /** Any other I/O error (reset, broken pipe…). */
  | "io";

/** A typed frame error; `kind` says which rule was broken. */
export class FrameError extends Error {
  /** Construct with the rule that failed and a human-readable detail. */
  constructor(readonly kind: FrameErrorKind, message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** Options shared by the encoder, decoder and reader. */
export interface FrameOptions {
  /** Largest accepted body, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Encode one object as a frame. Throws a `too_large` FrameError over the cap. */
export function encodeFrame(body: FrameBody, options: FrameOptions = {}): Uint8Array {
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError("a frame body must be a JSON object");
  }
  const json = utf8Encoder.encode(JSON.stringify(body));
  if (json.length > max) {
    throw new FrameError("too_large", `frame body of ${json.length} bytes exceeds ${max}`);
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + json.length);
  frame.set(FRAME_MAGIC, 0);
  frame[3] = FRAME_VERSION;
  new DataView(frame.buffer).setUint32(4, json.length, false);
  frame.set(json, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder: {@linkcode push} bytes as they arrive, {@linkcode next}
 * to take complete frames. The first error is sticky: every later call throws
 * it again, because the stream cannot be resynchronised.
 */
export class FrameDecoder {
  /** Largest accepted body; may be raised after authentication. */
  maxBodyBytes: number;
  #buf = new Uint8Array(256);
  #start = 0;
  #end = 0;
  #error: FrameError | null = null;

  /** Create a decoder with an optional size cap. */
  constructor(options: FrameOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Append bytes (copied). Throws a FrameError as soon as a header is invalid. */
  push(bytes: Uint8Array): void {
    if (this.#error) throw this.#error;
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
    this.#checkHeader();
  }

  /** The next complete frame's body, or null if more bytes are needed. Throws a FrameError. */
  next(): FrameBody | null {
    if (this.#error) throw this.#error;
    const length = this.#checkHeader();
    if (length === null || this.buffered < FRAME_HEADER_BYTES + length) return null;
    const bodyStart = this.#start + FRAME_HEADER_BYTES;
    const body = this.#buf.subarray(bodyStart, bodyStart + length);
    this.#start = bodyStart + length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    let value: unknown;
    try {
      value = JSON.parse(utf8Decoder.decode(body));
    } catch (e) {
      throw this.#fail("bad_body", `frame body is not UTF-8 JSON: ${(e as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.#fail("bad_body", "frame body is not a JSON object");
    }
    return value as FrameBody;
  }

  /** Validate as much of the pending header as has arrived; its length once complete. */
  #checkHeader(): number | null {
    const have = this.buffered;
    const b = this.#buf;
    const s = this.#start;
    for (let i = 0; i < FRAME_MAGIC.length && i < have; i++) {
      if (b[s + i] !== FRAME_MAGIC[i]) {
        throw this.#fail("bad_magic", `not a hastmon frame (byte ${i} is 0x${hex2(b[s + i])})`);
      }
    }
    if (have > 3 && b[s + 3] !== FRAME_VERSION) {
      throw this.#fail("bad_version", `unsupported frame version ${b[s + 3]}`);
    }
    if (have < FRAME_HEADER_BYTES) return null;
    const length = new DataView(b.buffer, b.byteOffset + s + 4, 4).getUint32(0, false);
    if (length === 0) throw this.#fail("empty", "frame with an empty body");
    if (length > this.maxBodyBytes) {
      throw this.#fail("too_large", `frame body of ${length} bytes exceeds ${this.maxBodyBytes}`);
    }
    return length;
  }

  #fail(kind: FrameErrorKind, message: string): FrameError {
    this.#error = new FrameError(kind, message);
    this.#buf = new Uint8Array(0);
    this.#start = this.#end = 0;
    return this.#error;
  }

  /** Make room for `extra` bytes after #end, compacting before growing. */
  #reserve(extra: number): void {
    if (this.#end + extra <= this.#buf.length) return;
    const live = this.buffered;
    if (live + extra <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      let size = this.#buf.length * 2;
      while (size < live + extra) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = grown;
    }
    this.#start = 0;
    this.#end = live;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** The reading half of a connection (a `Deno.Conn` is one). */
export interface ByteReader {
  /** As `Deno.Conn.read`: bytes read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** The writing half of a connection (a `Deno.Conn` is one). */
export interface ByteWriter {
  /** As `Deno.Conn.write`: may write fewer bytes than given. */
  write(p: Uint8Array): Promise<number>;
}

type ReadResult = { n: number | null } | { error: unknown };

/**
 * A reader's first read buffer, and the most it grows to. A connection's
 * buffer lives as long as the connection, and after it (outside V8's heap,
 * so it hardly hastens a collection) until the next garbage collection,
 * which in an idle daemon may be minutes away: at 64 KiB from the start,
 * every `hastmon ctl` call (one small request) left 64 KiB behind, and an
 * idle daemon polled for its status grew by megabytes. A buffer that a read
 * fills doubles, so bulk transfers still read 64 KiB at a time.
 */
const READ_CHUNK_MIN_BYTES = 4 * 1024;
const READ_CHUNK_MAX_BYTES = 64 * 1024;

/**
 * Reads frames from a connection; every call has a deadline for one whole
 * frame, so neither silence nor a trickle of bytes can hold a reader forever.
 *
 * A read that timed out stays in flight and is reused by the next call; the
 * caller normally closes the connection on any error, after which
 * {@linkcode settle} waits for that read to finish.
 */
export class FrameReader {
  /** The decoder; its `maxBodyBytes` may be raised after authentication. */
  readonly decoder: FrameDecoder;
  #conn: ByteReader;
  #chunk = new Uint8Array(READ_CHUNK_MIN_BYTES);
  #pending: Promise<ReadResult> | null = null;
  #ended = false;

  /** Wrap a connection. */
  constructor(conn: ByteReader, options: FrameOptions = {}) {
    this.#conn = conn;
    this.decoder = new FrameDecoder(options);
  }

  /**
   * The next frame's body, within `timeoutMs`. Throws a FrameError: a decode
   * error, `timeout`, `closed` (end of stream between frames), `truncated` or `io`.
   */
  async read(timeoutMs: number): Promise<FrameBody> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const frame = this.decoder.next();
      if (frame) return frame;
      if (this.#ended) {
        throw this.decoder.buffered > 0
          ? new FrameError("truncated", `stream ended inside a frame`)
          : new FrameError("closed", "stream ended");
      }
      const left = deadline - performance.now();
      if (left <= 0) throw this.#timeout(timeoutMs);
      const result = await this.#readWithin(left);
      if (result === "timeout") throw this.#timeout(timeoutMs);
      if ("error" in result) throw ioError(result.error);
      if (result.n === null) this.#ended = true;
      else {
        this.decoder.push(this.#chunk.subarray(0, result.n));
        // No read is in flight here: the buffer may be replaced.
        if (result.n === this.#chunk.length && this.#chunk.length < READ_CHUNK_MAX_BYTES) {
          this.#chunk = new Uint8Array(this.#chunk.length * 2);
        }
      }
    }
  }

  /** Wait until no read is in flight (call after closing the connection). */
  async settle(): Promise<void> {
    if (this.#pending) await this.#pending;
  }

  #timeout(timeoutMs: number): FrameError {
    const partial = this.decoder.buffered > 0 ? " (a partial frame is pending)" : "";
    return new FrameError("timeout", `no complete frame within ${timeoutMs} ms${partial}`);
  }

  async #readWithin(ms: number): Promise<ReadResult | "timeout"> {
    this.#pending ??= this.#conn.read(this.#chunk).then((n) => ({ n }), (error) => ({ error }));
    const result = await raceTimeout(this.#pending, ms);
    if (result !== "timeout") this.#pending = null;
    return result;
  }
}

/** Map a read/write exception to a FrameError (a local close reads as `closed`). */
function ioError(error: unknown): FrameError {
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
    return new FrameError("closed", "connection closed");
  }
  return new FrameError("io", error instanceof Error ? error.message : String(error));
}

/**
 * Write all bytes within `timeoutMs`. Throws a FrameError (`timeout` or `io`).
 * After a timeout the write is still in flight: close the connection.
 */
export async function writeAllWithTimeout(
  conn: ByteWriter,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const writing = (async () => {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  })().then(() => null, (error) => ioError(error));
  // Most writes are done at once: a timeout is armed only for one that is not.
  const early = await settledSoon(writing, "pending" as const);
  const result = early === "pending" ? await raceTimeout(writing, timeoutMs) : early;
  if (result === "timeout") {
    throw new FrameError("timeout", `write not finished within ${timeoutMs} ms`);
  }
  if (result) throw result;
}

/** Encode `body` and write it as one frame within `timeoutMs` (see {@linkcode writeAllWithTimeout}). */
export function writeFrame(
  conn: ByteWriter,
  body: FrameBody,
  timeoutMs: number,
  options: FrameOptions = {},
): Promise<void> {
  return writeAllWithTimeout(conn, encodeFrame(body, options), timeoutMs);
}
