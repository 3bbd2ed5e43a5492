/**
 * The daemon → guard channel (the guard: src/daemon/guard.ts; the daemon's
 * side: src/daemon/guard_link.ts). The guard's stdin is a pipe from the
 * daemon, one JSON command per line:
 *
 * - `{"type":"arm","resource":R,"remainingMs":N,"stops":[H...],"stopTimeoutMs":S,
 *   "panic":H|null,"slackMs":K,"sentAt":T}` — R's service is active and its
 *   lease ends N ms after the daemon wrote this. A duration, counted from when
 *   it was written: T is the daemon's `performance.now()` then. The two
 *   processes' monotonic clocks differ by a constant offset that neither knows;
 *   the guard takes the least (its reading time − T) of every command it has
 *   read as that offset, and what a command took beyond it as its age, which
 *   it subtracts. So a command read late (a guard starved of CPU, a busy pipe)
 *   does not count as fresh; the deadline is never later than counting from
 *   the reading, and late at most by the quickest transit seen (a command
 *   without T counts from its reading). `stops` are the members' stops in the order to run
 *   them (reverse start order), all within S; K is the slack the peers' hold
 *   leaves beyond the lease and the stop (half a `timeout`).
 * - `{"type":"renew","resource":R,"remainingMs":N}` — R's lease was renewed:
 *   its deadline is N ms from now, with the stops and panic of R's last arm.
 *   A primary renews every heartbeat; a thousand full arms a second (every
 *   stop's argv and environment) cost the daemon and the guard more than all
 *   else. An R whose deadline stop the guard ran itself is watched again by
 *   a renew (the daemon, late, still holds that lease and may have started
 *   the service again); a renew of an R disarmed, never armed, or stopping
 *   changes nothing.
 * - `{"type":"stopping","resource":R,"timeoutMs":N}` — the daemon is stopping
 *   R itself: the lease deadline no longer applies, but if no disarm comes
 *   within N + K, the guard runs panic (if set). Meanwhile the guard watches
 *   the daemon: frozen (SIGSTOP) in the middle of the stop, it would never
 *   stop the members still running, so the guard runs the stops itself, in
 *   the time that is left.
 * - `{"type":"panicking","resource":R}` — the daemon runs panic itself: the
 *   guard never runs it a second time for R.
 * - `{"type":"disarm","resource":R}` — R is stopped, or not active.
 * - `{"type":"starting","resource":R,"pid":P,"since":S}` — R's start hook runs
 *   as process group P, whose leader started at S (field 22 of /proc/P/stat,
 *   so that a reused pid is never taken for it); `{"type":"started",...}` —
 *   it has ended. A stop the guard runs kills that group first: a start left
 *   running beside the stop could launch the service after it.
 *
 * H is `{"argv":[...],"env":{...},"timeoutMs":N}` (and optionally `"cwd"`); a
 * stop's own timeout gives way to the shared deadline of all stops.
 */

/** A hook the guard runs on the daemon's behalf (stop or panic). */
export interface GuardHook {
  argv: string[];
  env: Record<string, string>;
  timeoutMs: number;
  cwd?: string;
}

/** The daemon → guard protocol, one JSON object per line. */
export type GuardCommand =
  | {
    type: "arm";
    resource: string;
    remainingMs: number;
    stops: GuardHook[];
    stopTimeoutMs: number;
    panic: GuardHook | null;
    slackMs: number;
    sentAt?: number;
  }
  | { type: "renew"; resource: string; remainingMs: number; sentAt?: number }
  | { type: "stopping"; resource: string; timeoutMs: number; sentAt?: number }
  | { type: "panicking"; resource: string }
  | { type: "disarm"; resource: string }
  | { type: "starting"; resource: string; pid: number; since: string }
  | { type: "started"; resource: string };

/** Longest command line the guard reads; longer ones are rejected. */
export const MAX_COMMAND_CHARS = 1 << 20;

/** Parse and validate one command line; throws why it is not a command. */
export function parseGuardCommand(line: string): GuardCommand {
  const data: unknown = JSON.parse(line);
  if (!isRecord(data)) throw new Error("not a JSON object");
  if (typeof data.resource !== "string" || data.resource === "") {
    throw new Error("resource must be a non-empty string");
  }
  const resource = data.resource;
  // When the daemon wrote it (its clock): optional, for a command of another writer.
  const sentAt = data.sentAt === undefined ? {} : { sentAt: duration(data.sentAt, "sentAt") };
  switch (data.type) {
    case "arm": {
      if (!Array.isArray(data.stops) || data.stops.length === 0) {
        throw new Error("stops must be a non-empty list");
      }
      return {
        type: "arm",
        resource,
        remainingMs: duration(data.remainingMs, "remainingMs"),
        stops: data.stops.map((h, i) => guardHook(h, `stops[${i}]`)),
        stopTimeoutMs: duration(data.stopTimeoutMs, "stopTimeoutMs"),
        panic: data.panic === null ? null : guardHook(data.panic, "panic"),
        slackMs: duration(data.slackMs, "slackMs"),
        ...sentAt,
      };
    }
    case "renew":
      return {
        type: "renew",
        resource,
        remainingMs: duration(data.remainingMs, "remainingMs"),
        ...sentAt,
      };
    case "panicking":
      return { type: "panicking", resource };
    case "stopping":
      return {
        type: "stopping",
        resource,
        timeoutMs: duration(data.timeoutMs, "timeoutMs"),
        ...sentAt,
      };
    case "disarm":
      return { type: "disarm", resource };
    case "starting": {
      const { pid, since } = data;
      if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) {
        throw new Error("pid must be an integer above 1");
      }
      if (typeof since !== "string" || !/^[0-9]+$/.test(since)) {
        throw new Error("since must be a string of digits");
      }
      return { type: "starting", resource, pid, since };
    }
    case "started":
      return { type: "started", resource };
    default:
      throw new Error(`unknown type ${JSON.stringify(data.type)}`);
  }
}

function guardHook(v: unknown, name: string): GuardHook {
  if (!isRecord(v)) throw new Error(`${name} must be an object`);
  const { argv, env, cwd } = v;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
    throw new Error(`${name}.argv must be a non-empty list of strings`);
  }
  if (!isRecord(env) || !Object.values(env).every((e) => typeof e === "string")) {
    throw new Error(`${name}.env must map names to strings`);
  }
  if (cwd !== undefined && typeof cwd !== "string") throw new Error(`${name}.cwd must be a string`);
  const hook: GuardHook = {
    argv,
    env: env as Record<string, string>,
    timeoutMs: duration(v.timeoutMs, `${name}.timeoutMs`),
  };
  if (cwd !== undefined) hook.cwd = cwd;
  return hook;
}

function duration(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new Error(`${name} must be a non-negative number of ms`);
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A guard deadline that never comes (a forced primary; an arm a stopping line replaces). */
export const FOREVER_MS = 10 * 365 * 86400e3;
