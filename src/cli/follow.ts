/**
 * `hastmon ctl events --follow`: the daemon's event stream, kept open across
 * daemon restarts. A lost stream is said once on stderr and the socket is
 * dialled again with backoff; once back, only events not printed yet follow.
 */
import { ControlClient, ControlClientError } from "../control/client.ts";
import type { DaemonEvent } from "../control/protocol.ts";
import { CliError, EX } from "./exit.ts";
import type { CliIO } from "./main.ts";

/** How to follow. */
export interface FollowEventsOptions {
  /** Recent events to print first, on the first connection only. */
  limit?: number;
  /** Bound on connecting and on the answer to the events request. */
  timeoutMs: number;
  /** First and longest wait between reconnection attempts (defaults 100 ms and 2 s). */
  backoffMs?: { first: number; max: number };
  /** Ends the loop (tests); the process is otherwise ended by a signal. */
  signal?: AbortSignal;
}

/**
 * Print every event of the daemon on `path` until `signal` aborts. The first
 * connection must succeed (else a CliError: 69 no daemon, 77 permission); a
 * stream lost later is reconnected to. A daemon that refuses the stream is a
 * CliError (70).
 */
export async function followEvents(
  path: string,
  print: (e: DaemonEvent) => void,
  opts: FollowEventsOptions,
  io: CliIO,
): Promise<void> {
  const backoff = opts.backoffMs ?? { first: 100, max: 2000 };
  let last: { seq: number; time: string } | null = null;
  let connected = false;
  let lost: string | null = null;
  let wait = backoff.first;
  const onEvent = (e: DaemonEvent) => {
    // Back on the same daemon, its history repeats what was printed: an event is
    // old when both its number and its time are not past the last one printed.
    // A restarted daemon numbers from 1 again, but its times are later.
    if (last && e.seq <= last.seq && e.time <= last.time) return;
    last = { seq: e.seq, time: e.time };
    print(e);
  };
  while (!opts.signal?.aborted) {
    let client: ControlClient | null = null;
    try {
      client = await ControlClient.connect(path, { timeoutMs: opts.timeoutMs });
      const done = client.follow(
        onEvent,
        connected || opts.limit === undefined ? {} : {
          limit: opts.limit,
        },
      );
      if (lost !== null) io.err(`hastmon: reconnected to ${path}\n`);
      connected = true;
      lost = null;
      wait = backoff.first;
      const stop = () => client?.close();
      opts.signal?.addEventListener("abort", stop, { once: true });
      try {
        await done;
      } finally {
        opts.signal?.removeEventListener("abort", stop);
      }
      if (opts.signal?.aborted) return;
      throw new ControlClientError("closed", path, `the daemon closed the event stream on ${path}`);
    } catch (e) {
      await client?.close();
      if (!(e instanceof ControlClientError)) throw e;
      if (!connected || e.kind === "permission" || e.kind === "daemon_error") {
        throw new CliError(
          e.message,
          e.kind === "permission"
            ? EX.NOPERM
            : e.kind === "daemon_error" || e.kind === "protocol"
            ? EX.SOFTWARE
            : EX.UNAVAILABLE,
        );
      }
      if (lost === null) {
        lost = e.message;
        io.err(`hastmon: lost the event stream: ${e.message}; reconnecting\n`);
      }
    }
    await sleep(wait, opts.signal);
    wait = Math.min(backoff.max, wait * 2);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
