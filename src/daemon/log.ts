/**
 * The daemon's logger: one line per record,
 * `2026-11-25T10:00:00.123Z [INFO] [resource] message`, written to a sink
 * (stderr in the foreground, a file otherwise, memory in tests).
 *
 * Verbosity: 0 shows error, warning and info; each `-d` raises it by one and
 * shows debug records of that depth.
 */
import { openNoFollowSync } from "./safe_open.ts";
import type { LogLevel } from "../core/types.ts";

/** Where formatted lines go. A line comes without its newline. */
export interface LogSink {
  write(line: string): void;
  close(): void;
}

/** Options of a {@link Logger}. */
export interface LoggerOptions {
  /** The number of `-d` flags. */
  verbosity?: number;
  /** The wall clock, replaceable in tests. */
  now?: () => Date;
}

/** Leveled logging to one sink. */
export class Logger {
  /** Raised by `-d`; may change on reload. */
  verbosity: number;
  readonly #now: () => Date;

  constructor(readonly sink: LogSink, opts: LoggerOptions = {}) {
    this.verbosity = opts.verbosity ?? 0;
    this.#now = opts.now ?? (() => new Date());
  }

  /** Whether a record of `level` (and, for debug, `depth`) would be written. */
  enabled(level: LogLevel, depth = 1): boolean {
    return level !== "debug" || depth <= this.verbosity;
  }

  /** Write one record if its level is enabled. */
  log(level: LogLevel, message: string, resource?: string, depth = 1): void {
    if (!this.enabled(level, depth)) return;
    this.sink.write(formatLogLine(this.#now(), level, message, resource));
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

/** Lines to stderr (foreground). */
export function stderrSink(): LogSink {
  return { write: (line) => writeAllSync(Deno.stderr, line), close: () => {} };
}

/** Lines appended to a file, created 0640 if missing; a symlink at the path is refused. */
export class FileSink implements LogSink {
  #file: Deno.FsFile;

  constructor(readonly path: string) {
    this.#file = FileSink.#open(path);
  }

  write(line: string): void {
    writeAllSync(this.#file, line);
  }

  /**
   * Open the path again, e.g. on SIGHUP after log rotation moved the file away.
   * If the new path cannot be opened (or is a planted symlink), logging goes on
   * into the old file, which says why.
   */
  reopen(): void {
    let next: Deno.FsFile;
    try {
      next = FileSink.#open(this.path);
    } catch (e) {
      this.write(
        `${new Date().toISOString()} [ERROR] cannot reopen the log, writing on here: ${
          (e as Error).message
        }`,
      );
      return;
    }
    this.#file.close();
    this.#file = next;
  }

  close(): void {
    this.#file.close();
  }

  static #open(path: string): Deno.FsFile {
    // Never through a symlink planted at the path (safe_open.ts).
    return openNoFollowSync(path, { append: true, mode: 0o640 });
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

function writeAllSync(out: { writeSync(p: Uint8Array): number }, line: string): void {
  const bytes = new TextEncoder().encode(line + "\n");
  for (let done = 0; done < bytes.length;) done += out.writeSync(bytes.subarray(done));
}
