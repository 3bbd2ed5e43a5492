/**
 * The control socket's file: make it 0600 from its first instant, tell a
 * stale file left by a crashed daemon (safe to remove) from a live one (never
 * to be stolen), and connect to it within a deadline.
 */
import { raceTimeout } from "../wire/deadlines.ts";

/** Why the control socket could not be created. */
export type SocketFileErrorKind =
  /** Something accepts connections on the path: a daemon is already running. */
  | "in_use"
  /** The path exists and is not a socket; it is left alone. */
  | "not_socket"
  /** Anything else: no such directory, permission denied… */
  | "io";

/** The control socket could not be created; the message names the path. */
export class SocketFileError extends Error {
  /** Construct with the reason and a message that names the path. */
  constructor(readonly kind: SocketFileErrorKind, readonly path: string, message: string) {
    super(message);
    this.name = "SocketFileError";
  }
}

/** What is at a socket path. */
export type SocketProbe = "absent" | "stale" | "live" | "not_socket";

/**
 * Look at `path` without changing it: nothing there, a socket nobody answers
 * on (stale), one that accepts a connection (live), or something else. A
 * connect that neither succeeds nor fails within `timeoutMs` counts as live:
 * a frozen daemon still owns its socket.
 */
export async function probeSocket(path: string, timeoutMs: number): Promise<SocketProbe> {
  let info: Deno.FileInfo;
  try {
    // lstat: a symlink to a socket is not ours to remove.
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "absent";
    throw ioError(path, "cannot inspect", e);
  }
  if (!info.isSocket) return "not_socket";
  const outcome = await connectWithin(path, timeoutMs);
  if (outcome === "timeout") return "live";
  if ("conn" in outcome) {
    outcome.conn.close();
    return "live";
  }
  if (outcome.error instanceof Deno.errors.ConnectionRefused) return "stale";
  throw ioError(path, "cannot probe", outcome.error);
}

/**
 * Connect to the Unix socket at `path`: the connection, the error, or
 * "timeout" after `timeoutMs` (a connection that comes later is closed).
 */
export async function connectWithin(
  path: string,
  timeoutMs: number,
): Promise<{ conn: Deno.UnixConn } | { error: unknown } | "timeout"> {
  const attempt = Deno.connect({ transport: "unix", path }).then(
    (conn) => ({ conn }),
    (error: unknown) => ({ error }),
  );
  const outcome = await raceTimeout(attempt, timeoutMs);
  if (outcome === "timeout") void attempt.then((late) => "conn" in late && late.conn.close());
  return outcome;
}

/**
 * Listen on a Unix socket at `path` with mode 0600 from the first instant,
 * after removing a stale socket file. Throws a {@linkcode SocketFileError}
 * when a live process answers on the path, when the path is not a socket, or
 * when the socket cannot be created.
 */
export async function listenUnixPrivate(
  path: string,
  probeTimeoutMs = 1000,
): Promise<Deno.UnixListener> {
  const found = await probeSocket(path, probeTimeoutMs);
  if (found === "live") {
    throw new SocketFileError(
      "in_use",
      path,
      `control socket ${path} is in use: a daemon is already listening on it`,
    );
  }
  if (found === "not_socket") {
    throw new SocketFileError(
      "not_socket",
      path,
      `control socket ${path} exists and is not a socket; not removing it`,
    );
  }
  if (found === "stale") {
    try {
      await Deno.remove(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw ioError(path, "cannot remove stale", e);
    }
  }
  // The umask is process-wide, but listen is synchronous: no other JavaScript
  // runs before it is restored, so only this socket is born under it.
  const old = Deno.umask(0o177);
  try {
    return Deno.listen({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      // Created by someone else between the probe and now.
      throw new SocketFileError("in_use", path, `control socket ${path} is in use`);
    }
    throw ioError(path, "cannot create", e);
  } finally {
    Deno.umask(old);
  }
}

function ioError(path: string, what: string, e: unknown): SocketFileError {
  const why = e instanceof Deno.errors.NotFound
    ? "no such directory"
    : e instanceof Error
    ? e.message
    : String(e);
  return new SocketFileError("io", path, `${what} control socket ${path}: ${why}`);
}
