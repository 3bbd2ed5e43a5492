/**
 * The daemon's logger: one record per line, written to a sink (stderr in the
 * foreground, a file otherwise, memory in tests), as text
 * (`2026-11-25T10:00:00.123Z [INFO] [resource] message`) or, with
 * `--log-format json`, as one JSON object per line for machines:
 *
 *     {"time":"…","level":"info","node":"alpha","resource":"web",
 *      "event":"role_change","message":"role secondary -> primary (epoch 4)",
 *      "reason":"takeover: 4 complaints …","from":"secondary","to":"primary","epoch":4}
 *
 * `event` is `role_change` for a role change (with `reason`, `from`, `to`,
 * `epoch`), `repeated` for a summary of suppressed repeats (with `count` and
 * `window_s`), and `log` for everything else.
 *
 * Repeats: with `repeatWindowMs`, a record identical to one written less than
 * that long ago (same level, resource and message: a refused connection, a
 * failing hook, every interval) is counted instead of written, and once the
 * window is over one line says "[repeated N times in the last 60s]". A flood
 * thus costs a line a minute, and the first occurrence is never delayed.
 *
 * Verbosity: 0 shows error, warning and info; each `-d` raises it by one and
 * shows debug records of that depth.
 */
import { openNoFollowSync } from "./safe_open.ts";
import type { LogLevel, Role } from "../core/types.ts";
import type { LogLoss } from "../control/protocol.ts";

/** Where formatted lines go. A line comes without its newline. */
export interface LogSink {
  write(line: string): void;
  close(): void;
  /** Lines it accepted and then lost (a queued write that failed), when it queues any. */
  readonly dropped?: SinkLoss | null;
  /** Write what it queued, waiting `ms` at most (a log that does not drain), when it queues. */
  flush?(ms: number): Promise<void>;
}

/** What a queueing sink lost after it accepted it. */
export interface SinkLoss {
  lines: number;
  /** When (performance.now) it last lost some. */
  at: number;
  /** Why. */
  error: string;
}

/** The two renderings of a record. */
export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Options of a {@link Logger}. */
export interface LoggerOptions {
  /** The number of `-d` flags. */
  verbosity?: number;
  /** The wall clock of the records' time, replaceable in tests. */
  now?: () => Date;
  /** text (default) or json. */
  format?: LogFormat;
  /** This node's name, in every JSON record. */
  node?: string;
  /** Summarise identical records within this many ms (0, the default: write every one). */
  repeatWindowMs?: number;
  /** The monotonic clock of the repeat windows, in ms; performance.now by default. */
  clock?: () => number;
  /**
   * Write summaries when their window ends even if nothing else is logged
   * (an unref'd timer). Off by default: then they are written with the next
   * record or by {@link Logger.flush}.
   */
  summaryTimer?: boolean;
}

/** A role change, as the core's transition effect describes it. */
export interface TransitionRecord {
  from: Role;
  to: Role;
  epoch: number;
  reason: string;
}

/** One record before formatting. */
interface LogRecord {
  level: LogLevel;
  message: string;
  resource?: string;
  event: "log" | "role_change" | "repeated";
  extra?: Record<string, string | number>;
}

interface Repeat {
  record: LogRecord;
  /** When the record was last written in full (clock ms). */
  since: number;
  /** Identical records suppressed since. */
  count: number;
}

/**
 * Leveled logging to one sink. A sink that throws (its reader gone, the disk
 * full) never stops the caller: the daemon acts on what it logs about, and an
 * exception here would cut an effect short (or end the daemon and its guard,
 * and leave a service running with nobody watching). The record is counted as
 * lost; the first record the sink takes again is preceded by one that says
 * how many were lost and why.
 */
export class Logger {
  /** Raised by `-d`; may change on reload. */
  verbosity: number;
  readonly #now: () => Date;
  readonly #clock: () => number;
  readonly #format: LogFormat;
  readonly #node: string | undefined;
  readonly #window: number;
  readonly #timer: boolean;
  readonly #repeats = new Map<string, Repeat>();
  /** Earliest end of a window that has suppressed records. */
  #nextDue = Infinity;
  #timerId: ReturnType<typeof setTimeout> | null = null;
  /** The text line of the last role change, which the core also logs as text. */
  #transitionText: { resource: string; message: string } | null = null;
  #linesLost = 0;
  #lostError: string | null = null;
  /** When (the monotonic clock) the last line was lost. */
  #lostAt: number | null = null;
  /** Lost since the sink last took a record: told with the next one it takes. */
  #untold = 0;

  constructor(readonly sink: LogSink, opts: LoggerOptions = {}) {
    this.verbosity = opts.verbosity ?? 0;
    this.#now = opts.now ?? (() => new Date());
    this.#clock = opts.clock ?? (() => performance.now());
    this.#format = opts.format ?? "text";
    this.#node = opts.node;
    this.#window = opts.repeatWindowMs ?? 0;
    this.#timer = opts.summaryTimer ?? false;
  }

  /** What the sink could not take since start, and how long ago it last lost a line. */
  get loss(): LogLoss {
    const sink = this.sink.dropped ?? null;
    // The later of the two says why.
    const last = sink !== null && (this.#lostAt === null || sink.at > this.#lostAt)
      ? { at: sink.at, error: sink.error }
      : { at: this.#lostAt, error: this.#lostError };
    return {
      linesLost: this.#linesLost + (sink?.lines ?? 0),
      error: last.error,
      lastLostAgoMs: last.at === null ? null : Math.max(0, Math.round(this.#clock() - last.at)),
    };
  }

  /** Whether a record of `level` (and, for debug, `depth`) would be written. */
  enabled(level: LogLevel, depth = 1): boolean {
    return level !== "debug" || depth <= this.verbosity;
  }

  /** Write one record if its level is enabled. */
  log(level: LogLevel, message: string, resource?: string, depth = 1): void {
    if (!this.enabled(level, depth)) return;
    const t = this.#transitionText;
    if (t !== null) {
      this.#transitionText = null;
      // Already written as the structured role change.
      if (t.resource === resource && t.message === message) return;
    }
    this.#emit({ level, message, resource, event: "log" });
  }

  /**
   * A role change, logged once with its reason. The core logs the same
   * change as a text line right after its transition effect; that line is
   * dropped here, so that each change appears once, structured.
   */
  transition(resource: string, t: TransitionRecord): void {
    const message = `role ${t.from} -> ${t.to} (epoch ${t.epoch})`;
    this.#write({
      level: "info",
      message: `${message}: ${t.reason}`,
      resource,
      event: "role_change",
      extra: { reason: t.reason, from: t.from, to: t.to, epoch: t.epoch },
    });
    this.#transitionText = { resource, message: `${message}: ${t.reason}` };
  }

  /** Something failed. */
  error(message: string, resource?: string): void {
    this.log("error", message, resource);
  }

  /** Something is wrong but the daemon carries on. */
  warning(message: string, resource?: string): void {
    this.log("warning", message, resource);
  }

  /** What an operator wants to see: transitions, hooks, peers. */
  info(message: string, resource?: string): void {
    this.log("info", message, resource);
  }

  /** Shown from `depth` `-d` flags on. */
  debug(message: string, resource?: string, depth = 1): void {
    this.log("debug", message, resource, depth);
  }

  /** Write the summaries of windows that are over (all of them with `all`). */
  flush(all = false): void {
    const now = this.#clock();
    if (!all && now < this.#nextDue) return;
    this.#nextDue = Infinity;
    for (const [key, r] of this.#repeats) {
      if (all || now - r.since >= this.#window) {
        this.#repeats.delete(key);
        if (r.count > 0) this.#summary(r, now);
      } else if (r.count > 0) {
        this.#nextDue = Math.min(this.#nextDue, r.since + this.#window);
      }
    }
    this.#arm();
  }

  /**
   * Before the process ends: {@link close}, then give the sink up to `flushMs` to
   * write what it queued.
   */
  async end(flushMs: number): Promise<void> {
    this.close();
    await this.sink.flush?.(flushMs);
  }

  /** Write every pending summary and stop the summary timer; the sink stays open. */
  close(): void {
    this.flush(true);
    if (this.#timerId !== null) clearTimeout(this.#timerId);
    this.#timerId = null;
  }

  #emit(record: LogRecord): void {
    if (this.#window <= 0) {
      this.#write(record);
      return;
    }
    this.flush();
    const now = this.#clock();
    const key = `${record.level}\0${record.resource ?? ""}\0${record.message}`;
    const seen = this.#repeats.get(key);
    if (seen && now - seen.since < this.#window) {
      if (seen.count++ === 0) {
        this.#nextDue = Math.min(this.#nextDue, seen.since + this.#window);
        this.#arm();
      }
      return;
    }
    // A record the sink lost opens no window: the next one like it is not a repeat of it.
    if (!this.#write(record)) return;
    this.#repeats.set(key, { record, since: now, count: 0 });
    // Distinct records are forgotten once their window is over (flush), so this stays small
    // unless thousands of different lines come within one window.
    if (this.#repeats.size > 10_000) this.#forgetQuiet(now);
  }

  #forgetQuiet(now: number): void {
    for (const [key, r] of this.#repeats) {
      if (r.count === 0 && now - r.since >= this.#window) this.#repeats.delete(key);
    }
    if (this.#repeats.size > 10_000) this.flush(true);
  }

  #summary(r: Repeat, now: number): void {
    const seconds = Math.round((now - r.since) / 1000);
    this.#write({
      ...r.record,
      message: `${r.record.message} [repeated ${r.count} time${
        r.count === 1 ? "" : "s"
      } in the last ${seconds}s]`,
      event: "repeated",
      extra: { count: r.count, window_s: seconds },
    });
  }

  #arm(): void {
    if (!this.#timer || this.#timerId !== null || !Number.isFinite(this.#nextDue)) return;
    const delay = Math.max(0, this.#nextDue - this.#clock());
    const id = setTimeout(() => {
      this.#timerId = null;
      this.flush();
    }, delay);
    Deno.unrefTimer(id);
    this.#timerId = id;
  }

  /** Hand the record to the sink; false when it was lost. */
  #write(r: LogRecord): boolean {
    const time = this.#now();
    if (this.#untold > 0) {
      const told = this.#untold;
      const lost: LogRecord = {
        level: "error",
        message: `log: ${told} line(s) could not be written (${this.#lostError}); ` +
          `writing again`,
        event: "log",
        extra: { lost: told },
      };
      if (!this.#put(this.#line(time, lost))) return this.#lose();
      this.#untold -= told;
    }
    if (this.#put(this.#line(time, r))) return true;
    return this.#lose();
  }

  #line(time: Date, r: LogRecord): string {
    return this.#format === "json"
      ? formatJsonRecord(time, this.#node, r)
      : formatLogLine(time, r.level, r.message, r.resource);
  }

  /** Give the sink a line; false (and why, kept) when it threw. */
  #put(line: string): boolean {
    try {
      this.sink.write(line);
      return true;
    } catch (e) {
      this.#lostError = e instanceof Error ? e.message : String(e);
      return false;
    }
  }

  #lose(): false {
    this.#lostAt = this.#clock();
    this.#linesLost++;
    this.#untold++;
    return false;
  }
}

/** One record as a JSON line (JSON escapes control characters: one record, one line). */
function formatJsonRecord(time: Date, node: string | undefined, r: LogRecord): string {
  return JSON.stringify({
    time: time.toISOString(),
    level: r.level,
    ...(node === undefined ? {} : { node }),
    resource: r.resource ?? null,
    event: r.event,
    message: r.message,
    ...r.extra,
  });
}

/** One record as a line. Control characters are escaped: one record, one line. */
export function formatLogLine(
  time: Date,
  level: LogLevel,
  message: string,
  resource?: string,
): string {
  const where = resource === undefined ? "" : ` [${escape(resource)}]`;
  return `${time.toISOString()} [${level.toUpperCase()}]${where} ${escape(message)}`;
}

function escape(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** Lines appended to a file, created 0640 if missing; a symlink at the path is refused. */
export class FileSink implements LogSink {
  #file: Deno.FsFile;
  #lines = new LineBytes();

  constructor(readonly path: string) {
    this.#file = FileSink.#open(path);
  }

  write(line: string): void {
    const { bytes } = this.#lines.frame(lineBytes([line]));
    let done = 0;
    try {
      while (done < bytes.length) done += this.#file.writeSync(bytes.subarray(done));
      this.#lines.ended(bytes, done);
    } catch (e) {
      this.#lines.ended(bytes, done, e);
      throw e;
    }
  }

  /**
   * Open the path again, e.g. on SIGHUP after log rotation moved the file away.
   * If the new path cannot be opened (or is a planted symlink), logging goes on
   * into the old file: returns why, for the caller to log there; null when done.
   */
  reopen(): string | null {
    let next: Deno.FsFile;
    try {
      next = FileSink.#open(this.path);
    } catch (e) {
      return (e as Error).message;
    }
    this.#file.close();
    this.#file = next;
    this.#lines = new LineBytes();
    return null;
  }

  close(): void {
    this.#file.close();
  }

  static #open(path: string): Deno.FsFile {
    // Never through a symlink planted at the path (safe_open.ts).
    return openNoFollowSync(path, { append: true, mode: 0o640 });
  }
}

/**
 * Whole lines as written: a write that failed part-way (a disk that filled up
 * mid-line) leaves the output inside a line, and the next write then starts
 * with a newline of its own rather than glued to the fragment.
 */
class LineBytes {
  #cut = false;

  /** `lines` (whole lines, each with its newline) as they are to be written, and the bytes led. */
  frame(lines: Uint8Array): { bytes: Uint8Array; lead: number } {
    if (!this.#cut) return { bytes: lines, lead: 0 };
    const bytes = new Uint8Array(lines.length + 1);
    bytes[0] = 0x0a;
    bytes.set(lines, 1);
    return { bytes, lead: 1 };
  }

  /** A write of `bytes` ended after `done` of them, with `error` if it failed. */
  ended(bytes: Uint8Array, done: number, error?: unknown): void {
    if (error === undefined) this.#cut = false;
    else if (done > 0) this.#cut = bytes[done - 1] !== 0x0a;
  }
}

/** Lines as bytes, each with its newline. */
function lineBytes(lines: readonly string[]): Uint8Array {
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** Newlines in `bytes` from `from` on: lines a write failed to finish. */
function newlinesFrom(bytes: Uint8Array, from: number): number {
  let n = 0;
  for (let i = from; i < bytes.length; i++) if (bytes[i] === 0x0a) n++;
  return n;
}

/** Where a {@link QueuedSink} writes: stderr or an open file. */
export interface AsyncWriter {
  write(p: Uint8Array): Promise<number>;
}

/**
 * Bytes a pipe takes in one piece (PIPE_BUF on Linux): the daemon and its
 * guard share the foreground daemon's stderr, and a longer write could be
 * split with the other's lines in between.
 */
const ATOMIC_WRITE = 4096;

/**
 * Where the piece of `bytes` that starts at `at` ends: after as many whole
 * lines as fit {@link ATOMIC_WRITE} bytes, or after one longer line alone.
 * (0x0a never occurs inside a UTF-8 sequence.)
 */
function pieceEnd(bytes: Uint8Array, at: number): number {
  const limit = Math.min(at + ATOMIC_WRITE, bytes.length);
  if (limit === bytes.length) return limit;
  const newline = bytes.lastIndexOf(0x0a, limit - 1);
  if (newline >= at) return newline + 1;
  const next = bytes.indexOf(0x0a, limit);
  return next < 0 ? bytes.length : next + 1;
}

/**
 * A sink that never makes its caller wait: lines queue, and one asynchronous
 * writer drains them, whole lines of at most {@link ATOMIC_WRITE} bytes a
 * write. The guard's, and the foreground daemon's stderr: a log that stops
 * draining (a terminal paused with Ctrl-S, a stalled journald, a hung disk)
 * made a synchronous write wait. The guard waited with the stop it was about
 * to run while a peer took over; the daemon froze, its guard stopped its
 * services and the node was lost (e2e_badinput_test: "a log that blocks").
 * Beyond `maxChars` characters held (queued or being written), `write` throws
 * and the Logger counts the line lost; a line the sink took and a write then
 * lost is counted in {@link QueuedSink.dropped} (and, unlike a refused one,
 * has already opened its repeat window: the Logger cannot know).
 */
export class QueuedSink implements LogSink {
  readonly #out: AsyncWriter;
  readonly #max: number;
  #queue: string[] = [];
  /** Characters of the lines queued or being written. */
  #held = 0;
  #pumping: Promise<void> | null = null;
  #dropped: SinkLoss | null = null;
  #error: string | null = null;
  #lines = new LineBytes();

  constructor(out: AsyncWriter, maxChars = 1 << 20) {
    this.#out = out;
    this.#max = maxChars;
  }

  /** Lines lost with a write that failed. */
  get dropped(): SinkLoss | null {
    return this.#dropped;
  }

  /** Characters queued or being written (0 once all is written or lost). */
  get held(): number {
    return this.#held;
  }

  write(line: string): void {
    if (this.#held + line.length + 1 > this.#max) {
      throw new Error(this.#error ?? `the log does not drain (${this.#held} characters waiting)`);
    }
    this.#queue.push(line);
    this.#held += line.length + 1;
    this.#pumping ??= this.#pump();
  }

  /** Wait until the queue is written, or `ms` have passed (a log that does not drain). */
  async flush(ms: number): Promise<void> {
    if (this.#pumping === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#pumping, new Promise((r) => timer = setTimeout(r, ms))]);
    clearTimeout(timer);
  }

  close(): void {}

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const { bytes, chars } = this.#takeAll();
        try {
          for (let at = 0; at < bytes.length;) {
            const end = pieceEnd(bytes, at);
            await this.#writePiece(bytes.subarray(at, end));
            at = end;
          }
        } finally {
          this.#held -= chars;
        }
      }
    } finally {
      // No await between the last look at the queue and this: a line queued after it starts
      // another writer.
      this.#pumping = null;
    }
  }

  /** All that waits, as one batch of bytes (the strings are let go at once), and its characters. */
  #takeAll(): { bytes: Uint8Array; chars: number } {
    const lines = this.#queue;
    this.#queue = [];
    return { bytes: lineBytes(lines), chars: lines.reduce((n, l) => n + l.length + 1, 0) };
  }

  /** Write one piece whole; when that fails, count the lines it did not finish (never throws). */
  async #writePiece(piece: Uint8Array): Promise<void> {
    const { bytes, lead } = this.#lines.frame(piece);
    let done = 0;
    try {
      while (done < bytes.length) done += await this.#out.write(bytes.subarray(done));
      this.#lines.ended(bytes, done);
      this.#error = null;
    } catch (e) {
      this.#lines.ended(bytes, done, e);
      this.#error = e instanceof Error ? e.message : String(e);
      this.#dropped = {
        lines: (this.#dropped?.lines ?? 0) + newlinesFrom(piece, Math.max(0, done - lead)),
        // The Logger's default clock (its repeat windows and loss times).
        at: performance.now(),
        error: this.#error,
      };
    }
  }
}

/** Lines kept in memory, for tests. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  close(): void {}
}
