/**
 * Test helpers of the control layer: sample status views written out by hand
 * (a primary, a secondary and a watchdog), and a fake daemon implementing
 * {@linkcode ControlHandler} with an event log that tests can append to.
 */
import type { LoadStatus, MemberStatus, ResourceStatus } from "../core/status.ts";
import type { Role } from "../core/types.ts";
import type {
  ControlHandler,
  DaemonEvent,
  RoleResult,
  SchaResult,
  StatusResult,
} from "./protocol.ts";

/** The load of a node that sheds nothing and never did. */
export function quietLoad(over: Partial<LoadStatus> = {}): LoadStatus {
  return {
    shedding: false,
    sheddingForMs: null,
    lagMs: 3,
    hookWaitMs: 0,
    lagLimitMs: 500,
    notificationsDropped: 0,
    probesDeferred: 0,
    probesHeld: 0,
    notifyPerSecond: 20,
    ...over,
  };
}

/** A member's status line: ONLINE and untouched unless `over` says otherwise. */
export function memberStatus(name: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name,
    state: "running",
    dirty: true,
    resourceState: "ONLINE",
    status: "OK",
    statusMessage: "online",
    failoverMode: "SOFT",
    restarts: { used: 0, max: 2, windowMs: 300_000, resetsInMs: null },
    groupRestarts: 0,
    probeFailures: { count: 0, sum: 0 },
    monitored: true,
    probeIntervalMs: 10_000,
    ...over,
  };
}

/** `web` on alpha: primary holding its lease, the secondary connected, the watchdog not. */
export function primaryStatus(): ResourceStatus {
  return {
    resource: "web",
    node: "alpha",
    role: "primary",
    epoch: 7,
    maxEpoch: 7,
    priority: 10,
    state: "running",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: { held: true, remainingMs: 2500, lengthMs: 3000, quorum: 2 },
    grant: null,
    complaints: { count: 0, threshold: 3, windowMs: 60_000, from: [] },
    takeover: null,
    hook: null,
    members: [],
    rgState: "ONLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [
      {
        node: "beta",
        connected: true,
        lastHeardAgoMs: 400,
        role: "secondary",
        state: "stopped",
        epoch: 7,
        priority: 20,
      },
      {
        node: "wd",
        connected: false,
        lastHeardAgoMs: 75_000,
        role: "watchdog",
        state: "unknown",
        epoch: 7,
        priority: 100,
      },
    ],
    lastTransition: {
      agoMs: 65_000,
      from: "secondary",
      to: "primary",
      epoch: 7,
      reason: "takeover: 4 complaints from wd",
    },
    explanations: [
      "watchdog wd unreachable: no automatic failover",
      "wd not heard for 75s",
      "lease valid for 2.5s",
    ],
  };
}

/** `db` on beta: secondary, no primary heard, complaints piling up. */
export function secondaryStatus(): ResourceStatus {
  return {
    resource: "db",
    node: "beta",
    role: "secondary",
    epoch: 3,
    maxEpoch: 4,
    priority: 20,
    state: "stopped",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: null,
    grant: null,
    complaints: { count: 2, threshold: 3, windowMs: 60_000, from: ["wd"] },
    takeover: { silenceMs: 1200, waitMs: 4350 },
    hook: null,
    members: [],
    rgState: "OFFLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [
      {
        node: "alpha",
        connected: false,
        lastHeardAgoMs: 1200,
        role: "primary",
        state: "running",
        epoch: 4,
        priority: 10,
      },
      {
        node: "wd",
        connected: true,
        lastHeardAgoMs: 300,
        role: "watchdog",
        state: "unknown",
        epoch: 4,
        priority: 100,
      },
    ],
    lastTransition: null,
    explanations: [
      "alpha not heard for 1.2s",
      "no primary heard; complaints 2/4 needed within 60s",
    ],
  };
}

/** `web` on wd: a watchdog seeing alpha running and beta waiting; a status probe in flight. */
export function watchdogStatus(): ResourceStatus {
  return {
    resource: "web",
    node: "wd",
    role: "watchdog",
    epoch: 7,
    maxEpoch: 7,
    priority: 100,
    state: "unknown",
    forced: false,
    attempts: { used: 0, max: 5 },
    lease: null,
    grant: { holder: "alpha", epoch: 7, remainingMs: 2400 },
    complaints: { count: 0, threshold: 3, windowMs: 0.25 * 60_000, from: [] },
    takeover: null,
    hook: { method: "status", member: null, runningMs: 350 },
    members: [],
    rgState: "OFFLINE",
    pingpong: [],
    request: null,
    failover: null,
    peers: [
      {
        node: "alpha",
        connected: true,
        lastHeardAgoMs: 100,
        role: "primary",
        state: "running",
        epoch: 7,
        priority: 10,
      },
      {
        node: "beta",
        connected: true,
        lastHeardAgoMs: 200,
        role: null,
        state: "stopped",
        epoch: 7,
        priority: 20,
      },
    ],
    lastTransition: {
      agoMs: 3 * 3600_000 + 5 * 60_000,
      from: "init",
      to: "watchdog",
      epoch: 0,
      reason: "role_on_start",
    },
    explanations: ["lease granted to alpha for 2.4s"],
  };
}

/**
 * A fake daemon: resources with roles, an event log, subscribers. `emit`
 * appends an event and hands it to every subscriber, as the daemon will.
 */
export class FakeDaemon implements ControlHandler {
  readonly statuses = new Map<string, ResourceStatus>([
    ["web", primaryStatus()],
    ["db", secondaryStatus()],
  ]);
  readonly events: DaemonEvent[] = [];
  readonly subscribers = new Set<(e: DaemonEvent) => void>();
  /** Set to make every handler call throw, as a broken daemon would. */
  failWith: Error | null = null;

  /** `minute`: the minute past 10:00 of its first event (a restarted daemon's are later). */
  constructor(readonly minute = 0) {}

  /** Append an event and deliver it to every subscriber. */
  emit(message: string, resource: string | null = null): DaemonEvent {
    const event: DaemonEvent = {
      seq: this.events.length + 1,
      time: new Date(Date.UTC(2026, 10, 25, 10, this.minute, this.events.length)).toISOString(),
      node: "alpha",
      resource,
      kind: "log",
      level: "info",
      message,
    };
    this.events.push(event);
    for (const fn of this.subscribers) fn(event);
    return event;
  }

  status(resources?: string[]): { result: StatusResult; unknown: string[] } {
    this.#maybeFail();
    const names = resources ?? [...this.statuses.keys()];
    return {
      result: {
        node: "alpha",
        version: "0.1.0",
        pid: 4242,
        uptimeMs: 90_500,
        load: quietLoad(),
        resources: names.filter((n) => this.statuses.has(n)).map((n) => this.statuses.get(n)!),
      },
      unknown: names.filter((n) => !this.statuses.has(n)),
    };
  }

  role(role: Role, resources: string[] | "all", _force: boolean): {
    result: RoleResult;
    unknown: string[];
  } {
    this.#maybeFail();
    const names = resources === "all" ? [...this.statuses.keys()] : resources;
    const changed: RoleResult["changed"] = [];
    for (const name of names) {
      const st = this.statuses.get(name);
      if (!st) continue;
      changed.push({ resource: name, from: st.role, to: role });
      st.role = role;
    }
    return { result: { changed }, unknown: names.filter((n) => !this.statuses.has(n)) };
  }

  /** scha requests answered so far; `schaGate`, when set, holds every answer until it settles. */
  readonly schaCalls: { group: string; optag: string; member?: string; to?: string }[] = [];
  schaGate: Promise<void> | null = null;
  /** When set, the answer to every scha and setstatus request (any shape, to test the client). */
  schaAnswer: unknown = null;
  /** setstatus requests answered so far. */
  readonly setStatusCalls: { group: string; member: string; status: string; message: string }[] =
    [];

  async scha(group: string, optag: string, member?: string, to?: string): Promise<SchaResult> {
    this.#maybeFail();
    this.schaCalls.push({ group, optag, member, to });
    if (this.schaGate) await this.schaGate;
    if (this.schaAnswer !== null) return this.schaAnswer as SchaResult;
    if (!this.statuses.has(group)) return { code: 12, message: `no group ${group}` };
    return { code: 0, message: `${optag} of ${group} done` };
  }

  setStatus(group: string, member: string, status: string, message: string): Promise<SchaResult> {
    this.#maybeFail();
    this.setStatusCalls.push({ group, member, status, message });
    if (this.schaAnswer !== null) return Promise.resolve(this.schaAnswer as SchaResult);
    return Promise.resolve({ code: 0, message: `${group}/${member}: ${status}` });
  }

  recentEvents(limit?: number): DaemonEvent[] {
    this.#maybeFail();
    return limit === undefined
      ? [...this.events]
      : this.events.slice(Math.max(0, this.events.length - limit));
  }

  subscribe(fn: (e: DaemonEvent) => void): () => void {
    this.#maybeFail();
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  #maybeFail(): void {
    if (this.failWith) throw this.failWith;
  }
}

/** A fresh temporary directory for one test's socket; `remove` deletes it. */
export async function tempSocketDir(): Promise<
  { dir: string; path: string; remove(): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-ctl-" });
  return {
    dir,
    path: `${dir}/control.sock`,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * Leave a stale socket file at `path`: a socket nobody listens on, as a
 * crashed daemon leaves. (Closing a listener removes its file, so the socket
 * is hard-linked to `path` first.)
 */
export function makeStaleSocket(path: string): void {
  const live = `${path}.live`;
  const listener = Deno.listen({ transport: "unix", path: live });
  Deno.linkSync(live, path);
  listener.close();
}
