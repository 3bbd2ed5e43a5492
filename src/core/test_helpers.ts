/**
 * Helpers of the core's table tests: settings of a two-node-plus-watchdog
 * resource, a machine with its effect history, and builders of events.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { createMachine, groupState, type Machine, type Restored, step } from "./machine.ts";
import type {
  ClusterNode,
  Effect,
  Event,
  MemberSettings,
  Message,
  ResourceSettings,
  SchaRequest,
} from "./types.ts";
import { rgState } from "./scha.ts";

/** The heartbeat interval of the test settings. */
export const I = 1000;

export function settings(self: string, over: Partial<ResourceSettings> = {}): ResourceSettings {
  const nodes = [
    clusterNode("a", 10),
    clusterNode("b", 20),
    clusterNode("w", 30, { watchdog: true }),
  ];
  return {
    name: "r",
    self,
    nodes,
    peers: nodes.map((n) => n.name).filter((n) => n !== self),
    priority: nodes.find((n) => n.name === self)!.priority,
    roleOnStart: "init",
    heartbeatIntervalMs: I,
    complaintCount: 3,
    complaintIntervalMs: 10 * I,
    timeoutMs: I,
    attempts: 2,
    stopTimeoutMs: I,
    clockSkew: 0.1,
    hookTimeoutMs: 2 * I,
    methodTimeoutMs: {},
    members: [member("r")],
    pingpongIntervalMs: 3600 * I,
    hasPanic: false,
    hasFence: false,
    ...over,
  };
}

/** A member's settings: SOFT, 2 restarts in 300 intervals, no monitor methods. */
export function member(name: string, over: Partial<MemberSettings> = {}): MemberSettings {
  return {
    name,
    probeIntervalMs: I,
    startTimeoutMs: 2 * I,
    statusTimeoutMs: 2 * I,
    failoverMode: "SOFT",
    retryCount: 2,
    retryIntervalMs: 300 * I,
    hasMonitorStart: false,
    hasMonitorStop: false,
    hasMonitorCheck: false,
    monitorStartTimeoutMs: 2 * I,
    monitorStopTimeoutMs: 2 * I,
    monitorCheckTimeoutMs: 2 * I,
    ...over,
  };
}

/** Members m0, m1, … for a group test. */
export function members(n: number, over: Partial<MemberSettings> = {}): MemberSettings[] {
  return Array.from({ length: n }, (_, i) => member(`m${i}`, over));
}

export function make(
  self: string,
  over: Partial<ResourceSettings> = {},
  persisted: Restored = null,
) {
  const { machine, effects } = createMachine(settings(self, over), 0, persisted);
  histories.set(machine, [...effects]);
  return { m: machine, effects };
}

const histories = new WeakMap<Machine, Effect[]>();

/** All effects of `m` so far, so hooks started earlier can be finished later. */
export function history(m: Machine): Effect[] {
  return histories.get(m) ?? [];
}

export function run(m: Machine, ev: Event): Effect[] {
  const fx = step(m, ev);
  const h = histories.get(m);
  if (h) h.push(...fx);
  else histories.set(m, [...fx]);
  return fx;
}

export const hb = (from: Partial<Message & { type: "heartbeat" }> = {}): Message => ({
  type: "heartbeat",
  resource: "r",
  epoch: 1,
  role: "primary",
  state: "running",
  seq: 1,
  leaseMs: 3 * I,
  stopTimeoutMs: I,
  ...from,
} as Message);

/** An acknowledgement from a watchdog: a grant (the lease and stop bound asked for), or a refusal. */
export const ackMsg = (
  from: Partial<Message & { type: "ack" }> = {},
): Message =>
  ({
    type: "ack",
    resource: "r",
    epoch: 1,
    role: "watchdog",
    state: "unknown",
    seq: 1,
    ...(from.granted === false
      ? { granted: false, reason: "lease held by b" }
      : { granted: true, leaseMs: 3 * I, stopTimeoutMs: I }),
    ...from,
  }) as Message;

export function ofType<T extends Effect["type"]>(fx: Effect[], t: T) {
  return fx.filter((e) => e.type === t) as Extract<Effect, { type: T }>[];
}

export function hooks(fx: Effect[]) {
  return ofType(fx, "hook").map((h) => h.method);
}

/** A complaint from the watchdog w that has not seen a primary running for `silenceMs`. */
export function complaintFromW(now: number, silenceMs: number): Event {
  return {
    type: "message",
    now,
    from: "w",
    msg: { type: "complaint", resource: "r", epoch: 1, reason: "x", primary: "a", silenceMs },
  };
}

/** Finish the latest `method` hook (of `member`, if given) started so far with an exit code. */
export function finish(
  m: Machine,
  _fx: Effect[],
  method: string,
  now: number,
  code = 0,
  member?: string,
): Effect[] {
  const h = ofType(history(m), "hook").filter((e) =>
    e.method === method && (member === undefined || e.member === member)
  ).at(-1);
  assert(h, `no ${method} hook so far`);
  const outcome = { kind: "exit" as const, code };
  return run(m, { type: "hook_done", now, id: h.id, method: h.method, outcome });
}

/** An ack from `peer` for request `seq`, granting what was asked (or `lease`/`stop`). */
export function grantFrom(
  m: Machine,
  peer: string,
  now: number,
  seq = m.seq,
  lease = 3 * I,
  stop = I,
): Effect[] {
  return run(m, {
    type: "message",
    now,
    from: peer,
    msg: {
      type: "ack",
      resource: "r",
      epoch: m.epoch,
      role: "watchdog",
      state: "unknown",
      seq,
      granted: true,
      leaseMs: lease,
      stopTimeoutMs: stop,
    },
  });
}

export const ack = (fx: Effect[]) => ofType(fx, "send")[0].msg as Message & { type: "ack" };
export const service = (m: Machine) => groupState(m);

/** Keep the primary's lease (w grants) and b heard as a connected secondary, at `now`. */
export function keep(m: Machine, now: number): Effect[] {
  return [
    ...run(m, { type: "tick", now }),
    ...grantFrom(m, "w", now),
    ...run(m, {
      type: "message",
      now,
      from: "b",
      msg: hb({ role: "secondary", state: "stopped", epoch: m.epoch, seq: now }),
    }),
  ];
}

/** A primary `a` whose group (members `ms`) is ONLINE at t = 1040. */
export function online(
  ms: MemberSettings[] = [member("r")],
  over: Partial<Parameters<typeof make>[1]> = {},
): Machine {
  const { m } = make("a", { roleOnStart: "primary", members: ms, hasPanic: true, ...over });
  keep(m, 10);
  for (const x of ms) finish(m, [], "status", 20, 1, x.name);
  for (const x of ms) {
    finish(m, [], "start", 30, 0, x.name);
    if (x.hasMonitorStart) finish(m, [], "monitor_start", 30, 0, x.name);
  }
  keep(m, 1030);
  for (const x of ms) finish(m, [], "status", 1040, 0, x.name);
  assertEquals(rgState(m), "ONLINE");
  return m;
}

let nextRequestId = 1000;
/** Send a scha_control request; the reply effect, if answered in this step. */
export function ask(m: Machine, now: number, request: SchaRequest) {
  const id = nextRequestId++;
  const fx = run(m, { type: "request", now, id, request });
  return { id, fx, reply: ofType(fx, "reply").find((r) => r.id === id) };
}

/** A node of the shared configuration: a primary candidate with the default lease and stop bound. */
export const clusterNode = (
  name: string,
  priority: number,
  over: Partial<ClusterNode> = {},
): ClusterNode => ({
  name,
  priority,
  watchdog: false,
  leaseMs: 3 * I,
  stopTimeoutMs: I,
  ...over,
});
