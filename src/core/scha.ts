/**
 * The one executor of scha_control requests (scha-semantics.md §1, §9.4):
 * the CLI, `ctl restart|resource-restart|giveover`, the console and the
 * built-in monitor all come here, so a request behaves the same whoever asks.
 *
 * A request passes the checks of §1.3 in order, each refusal with its
 * SCHA_ERR number; CHECK_* stop after the checks. An accepted request is
 * answered (a `reply` effect) once the group has settled: online again here
 * after a restart, running on another node after a giveover.
 *
 * GIVEOVER asks the candidates, best priority first, to run their members'
 * `monitor_check` (a `check_request` over the peer protocol; no answer in
 * time is a veto), then steps down handing over to the first that agrees.
 * Safety does not rest on any of this: the target still becomes primary only
 * through the release of this node's lease and a quorum's grant.
 */
import type {
  Effect,
  GiveoverPlan,
  Message,
  NodeId,
  SchaOptag,
  SchaRequest,
  Time,
} from "./types.ts";
import { describeOutcome, type HookOutcome, MAX_REASON_LENGTH, SCHA_OPTAGS } from "./types.ts";
import { human as fmt } from "./timing.ts";
import {
  configured,
  groupState,
  hookEffect,
  isLive,
  log,
  type Machine,
  type MemberRun,
  type PendingRequest,
  persist,
  quarantined,
  wallNow,
} from "./state.ts";
import { beginStop } from "./group.ts";
import { changeRole } from "./roles.ts";
import {
  pingpongUntil,
  recentFailedStarts,
  recordGroupRestart,
  recordPingpong,
  recordRestart,
  resetCounters,
  restartBudget,
} from "./policy.ts";

/**
 * SCHA_ERR numbers (scha_calls(3HA)): the exit status of every scha_*
 * command. Scripts compare `$?` with them: never renumber.
 */
export const SCHA_ERR = {
  NOERR: 0,
  NOMEM: 1,
  HANDLE: 2,
  INVAL: 3,
  TAG: 4,
  RECONF: 5,
  ACCESS: 6,
  SEQID: 7,
  DEPEND: 8,
  STATE: 9,
  METHOD: 10,
  NODE: 11,
  RG: 12,
  RT: 13,
  RSRC: 14,
  PROP: 15,
  CHECKS: 16,
  RSTATUS: 17,
  INTERNAL: 18,
} as const;

/** Optags of Solaris that hastmon's model has no place for (refused with SCHA_ERR_TAG, §9.6). */
export const UNSUPPORTED_OPTAGS = [
  "IGNORE_FAILED_START",
  "RESOURCE_DISABLE",
  "CHANGE_STATE_ONLINE",
  "CHANGE_STATE_OFFLINE",
] as const;

/** An optag as typed (case-insensitive, §1.1), or null when hastmon does not carry it out. */
export function parseOptag(text: string): SchaOptag | null {
  const t = text.toUpperCase().replace(/^SCHA_/, "");
  return (SCHA_OPTAGS as readonly string[]).includes(t) ? t as SchaOptag : null;
}

/** A refusal or an answer: the SCHA_ERR number and its sentence. */
export interface Verdict {
  code: number;
  message: string;
}

/** How long a candidate has to answer a check_request: its slowest monitor_check, plus margin. */
function checkWaitMs(m: Machine): number {
  let t = 0;
  for (const x of m.members) {
    if (x.settings.hasMonitorCheck) t = Math.max(t, x.settings.monitorCheckTimeoutMs);
  }
  return t + 2 * m.settings.timeoutMs + m.settings.heartbeatIntervalMs;
}

/** How long an accepted request may take to settle before it is answered as failed. */
function settleMs(m: Machine): number {
  let t = m.settings.stopTimeoutMs + 2 * m.settings.timeoutMs;
  for (const x of m.members) {
    t += x.settings.startTimeoutMs + x.settings.statusTimeoutMs + x.settings.probeIntervalMs;
    if (x.settings.hasMonitorStart) t += x.settings.monitorStartTimeoutMs;
  }
  return t + 2 * m.settings.heartbeatIntervalMs;
}

/** The RG_STATE word of the group on this node (scha-semantics.md §7.3). */
export function rgState(m: Machine): string {
  const g = groupState(m);
  if (g === "stop_failed") return "ERROR_STOP_FAILED";
  // A watchdog runs no member (it never probes them): the group is not here, not leaving.
  if (m.role === "watchdog") return "OFFLINE";
  if (m.op?.kind === "stop") return "PENDING_OFFLINE";
  if (m.role !== "primary") return g === "stopped" ? "OFFLINE" : "PENDING_OFFLINE";
  if (m.faulted || (m.online && m.members.some((x) => x.startFailed))) return "ONLINE_FAULTED";
  if (m.online) return "ONLINE";
  return "PENDING_ONLINE";
}

/** The RESOURCE_STATE word of a member on this node (§7.1). */
export function resourceState(m: Machine, x: MemberRun): string {
  if (x.state === "stop_failed") return "STOP_FAILED";
  if (x.startFailed) return "START_FAILED";
  if (x.state === "starting") return "STARTING";
  if (x.state === "stopping") return "STOPPING";
  if (x.state === "running" || (m.online && x.state === "unknown")) {
    if (x.monitorFailed) return "MONITOR_FAILED";
    return x.unmonitored ? "ONLINE_NOT_MONITORED" : "ONLINE";
  }
  return "OFFLINE";
}

/**
 * The checks of §1.3 up to the failover_mode gates, in order: the first
 * refusal, or null. A query: GIVEOVER's own candidate checks come later.
 */
export function refusal(m: Machine, req: SchaRequest): Verdict | null {
  const g = m.settings.name;
  const x = req.member === null ? null : m.members.find((y) => y.settings.name === req.member);
  if (req.member !== null && !x) {
    return { code: SCHA_ERR.RSRC, message: `${req.member} is not a member of ${g}` };
  }
  if (
    x === null && (req.optag === "RESOURCE_RESTART" || req.optag === "RESOURCE_IS_RESTARTED")
  ) {
    return { code: SCHA_ERR.INVAL, message: `${req.optag} needs -R MEMBER` };
  }
  if (req.to !== undefined && req.optag !== "GIVEOVER" && req.optag !== "CHECK_GIVEOVER") {
    return { code: SCHA_ERR.INVAL, message: `a target node only goes with GIVEOVER` };
  }
  if (req.to !== undefined && (!configured(m, req.to) || req.to === m.settings.self)) {
    return { code: SCHA_ERR.NODE, message: `${req.to} is not another node of ${g}` };
  }
  if (m.requests.size > 0 || m.op !== null || m.busy !== null) {
    const what = m.requests.size > 0
      ? `request ${[...m.requests.values()][0].request.optag} is in progress`
      : `the group is ${rgState(m)}`;
    return { code: SCHA_ERR.RECONF, message: `${what}: retry later` };
  }
  if (m.role !== "primary" || !(m.online || m.faulted)) {
    return {
      code: SCHA_ERR.STATE,
      message: `${g} is not online on ${m.settings.self} (${rgState(m)}, role ${m.role})`,
    };
  }
  // A member may still run after its stop failed: only a RESTART (which stops every member
  // again, the failed one first) clears it; nothing may move or restart around it.
  if (groupState(m) === "stop_failed" && req.optag !== "RESTART" && req.optag !== "CHECK_RESTART") {
    return {
      code: SCHA_ERR.STATE,
      message: `${g} is ERROR_STOP_FAILED on ${m.settings.self}: fix the member whose stop ` +
        `failed, then RESTART the group (or ctl role secondary)`,
    };
  }
  if (!x) return null;
  const mode = x.settings.failoverMode;
  const name = x.settings.name;
  if (mode === "LOG_ONLY" && req.optag !== "RESOURCE_IS_RESTARTED") {
    return {
      code: SCHA_ERR.CHECKS,
      message: `member ${name} has failover_mode LOG_ONLY: no restart or giveover`,
    };
  }
  if (mode === "RESTART_ONLY") {
    if (req.optag === "RESOURCE_RESTART") {
      const b = restartBudget(m, x);
      if (b.used >= b.max) {
        return {
          code: SCHA_ERR.CHECKS,
          message: `member ${name} has failover_mode RESTART_ONLY and used its ${b.max} ` +
            `restarts in ${fmt(b.windowMs)}` +
            (b.resetsInMs !== null ? `; a restart is free again in ${fmt(b.resetsInMs)}` : ""),
        };
      }
    } else if (req.optag !== "RESOURCE_IS_RESTARTED") {
      return {
        code: SCHA_ERR.CHECKS,
        message: `member ${name} has failover_mode RESTART_ONLY: only RESOURCE_RESTART`,
      };
    }
  }
  return null;
}

/**
 * Where a giveover could go, as far as this node knows without asking: every
 * other node and what blocks it (watchdog, not connected, pingpong). A query.
 */
export function giveoverPlan(m: Machine, req: SchaRequest): {
  plan: GiveoverPlan;
  candidates: NodeId[];
} {
  const nodes: GiveoverPlan["nodes"] = [];
  const candidates: { node: NodeId; priority: number }[] = [];
  for (const n of m.settings.nodes) {
    if (n.name === m.settings.self) continue;
    let blocked: string | null = null;
    const p = m.peers.get(n.name);
    const until = pingpongUntil(m, n.name, req.member);
    if (n.watchdog) blocked = "a watchdog of this group";
    else if (!p || !isLive(m, p)) blocked = "not connected";
    else if (p.role !== "secondary") blocked = `its role is ${p.role ?? "unknown"}`;
    else if (until !== null) {
      blocked = `pingpong: a giveover${req.member ? ` by ${req.member}` : ""} moved the ` +
        `group off it; blocked for ${fmt(until - wallNow(m))} more (until ${utcClock(until)})`;
    } else if (req.to !== undefined && req.to !== n.name) blocked = `not the node asked for`;
    nodes.push({
      node: n.name,
      blocked,
      ...(until !== null && !n.watchdog ? { untilWallMs: until } : {}),
    });
    if (blocked === null) candidates.push({ node: n.name, priority: n.priority });
  }
  candidates.sort((a, b) => a.priority - b.priority || (a.node < b.node ? -1 : 1));
  return { plan: { target: null, nodes }, candidates: candidates.map((c) => c.node) };
}

/** Wall-clock ms as hours and minutes in UTC, when the runtime gives no local rendering. */
export function utcClock(ms: number): string {
  const min = Math.floor(ms / 60_000);
  const hh = String(Math.floor(min / 60) % 24).padStart(2, "0");
  const mm = String(min % 60).padStart(2, "0");
  return `${hh}:${mm} UTC`;
}

function reply(
  m: Machine,
  fx: Effect[],
  id: number,
  internal: boolean,
  v: Verdict,
  plan?: GiveoverPlan,
  req?: SchaRequest,
) {
  if (internal) {
    // The monitor's own giveover, refused after its checks: the member is FAULTED.
    const x = req?.optag === "GIVEOVER" && v.code !== 0
      ? m.members.find((y) => y.settings.name === req.member)
      : undefined;
    if (x) x.status = { value: "FAULTED", message: `giveover refused: ${v.message}` };
    log(fx, v.code === 0 ? "info" : "warning", `monitor: ${v.message}`);
    return;
  }
  fx.push({ type: "reply", id, code: v.code, message: v.message, ...(plan ? { plan } : {}) });
}

/**
 * Carry out (or refuse) a request. `internal`: asked by the built-in monitor,
 * whose refusals are logged instead of answered. Returns the verdict when it
 * was answered at once, null when it goes on.
 */
export function onRequest(
  m: Machine,
  fx: Effect[],
  id: number,
  req: SchaRequest,
  internal = false,
): Verdict | null {
  const done = (v: Verdict, plan?: GiveoverPlan) => {
    reply(m, fx, id, internal, v, plan, req);
    return v;
  };
  const refused = refusal(m, req);
  // A GIVEOVER, even refused, clears this node's counters (§3.3 item 5).
  if (req.optag === "GIVEOVER" && (refused === null || refused.code === SCHA_ERR.CHECKS)) {
    resetCounters(m, req.member);
    persist(m, fx);
  }
  if (refused) {
    log(fx, "warning", `scha_control ${req.optag} refused (${refused.code}): ${refused.message}`);
    return done(refused);
  }
  const x = req.member === null ? null : m.members.find((y) => y.settings.name === req.member)!;
  const index = x ? m.members.indexOf(x) : -1;
  const all = m.members.map((_, i) => i);
  const pending = (phase: PendingRequest["phase"]): PendingRequest => {
    const r: PendingRequest = {
      id,
      request: req,
      internal,
      phase,
      candidates: [],
      plan: { target: null, nodes: [] },
      check: null,
      deadline: m.now + settleMs(m),
      target: null,
      startedAt: null,
    };
    m.requests.set(id, r);
    return r;
  };
  switch (req.optag) {
    case "CHECK_RESTART":
      return done({ code: 0, message: `${m.settings.name} may restart on ${m.settings.self}` });
    case "RESOURCE_IS_RESTARTED":
      recordRestart(m, x!.settings.name);
      persist(m, fx);
      return done({
        code: 0,
        message: `member ${x!.settings.name}: restart counted (${restartBudget(m, x!).used} in ` +
          `${fmt(x!.settings.retryIntervalMs)})`,
      });
    case "RESTART":
      recordGroupRestart(m);
      persist(m, fx);
      log(fx, "info", `scha_control RESTART of ${m.settings.name}`);
      pending("operating");
      beginStop(m, fx, "restart", all, all, id);
      return null;
    case "RESOURCE_RESTART":
      recordRestart(m, x!.settings.name);
      persist(m, fx);
      log(fx, "info", `scha_control RESOURCE_RESTART of member ${x!.settings.name}`);
      pending("operating");
      beginStop(m, fx, "member_restart", [index], [index], id);
      return null;
    case "GIVEOVER":
    case "CHECK_GIVEOVER": {
      const { plan, candidates } = giveoverPlan(m, req);
      if (candidates.length === 0) {
        return done({ code: SCHA_ERR.CHECKS, message: noTarget(plan) }, plan);
      }
      const r = pending("checking");
      r.plan = plan;
      r.candidates = candidates;
      askNext(m, fx, r);
      return null;
    }
  }
}

function noTarget(plan: GiveoverPlan): string {
  if (plan.nodes.length === 0) return "no other node to give the group to";
  return "no node may take the group: " +
    plan.nodes.map((n) => `${n.node}: ${n.blocked ?? "eligible"}`).join("; ");
}

/** Ask the next candidate to run its monitor_check, or conclude when none is left. */
function askNext(m: Machine, fx: Effect[], r: PendingRequest) {
  const node = r.candidates.shift();
  if (node === undefined) {
    m.requests.delete(r.id);
    reply(
      m,
      fx,
      r.id,
      r.internal,
      { code: SCHA_ERR.CHECKS, message: noTarget(r.plan) },
      r.plan,
      r.request,
    );
    return;
  }
  const check = m.nextHookId++;
  r.check = { id: check, node, deadline: m.now + checkWaitMs(m) };
  fx.push({
    type: "send",
    to: node,
    msg: { type: "check_request", resource: m.settings.name, epoch: m.epoch, id: check },
  });
}

/** A candidate answered: take it, or note its veto and ask the next. */
export function onCheckResult(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "check_result" },
) {
  const r = [...m.requests.values()].find((q) =>
    q.check !== null && q.check.id === msg.id && q.check.node === from
  );
  if (!r) return;
  checked(m, fx, r, msg.ok ? null : `veto: ${msg.reason}`);
}

function checked(m: Machine, fx: Effect[], r: PendingRequest, veto: string | null) {
  const node = r.check!.node;
  r.check = null;
  const entry = r.plan.nodes.find((n) => n.node === node);
  if (entry) entry.blocked = veto;
  if (veto !== null) {
    log(fx, "info", `giveover: ${node} refused: ${veto}`);
    return askNext(m, fx, r);
  }
  r.plan.target = node;
  if (r.request.optag === "CHECK_GIVEOVER") {
    m.requests.delete(r.id);
    reply(m, fx, r.id, r.internal, { code: 0, message: `${node} would take the group` }, r.plan);
    return;
  }
  // Still ours to give? The checks took a round trip.
  if (m.role !== "primary" || m.op !== null || m.busy !== null) {
    m.requests.delete(r.id);
    reply(m, fx, r.id, r.internal, {
      code: SCHA_ERR.RECONF,
      message: `the group changed while ${node} was checked (${rgState(m)}): retry`,
    }, r.plan);
    return;
  }
  const member = r.request.member;
  recordPingpong(m, m.settings.self, member ?? "");
  r.phase = "handing_over";
  r.target = node;
  r.deadline = m.now + settleMs(m);
  changeRole(
    m,
    fx,
    "secondary",
    { kind: "giveover", member, to: node, internal: r.internal },
    node,
  );
}

/**
 * A giveover's candidate was asked to check: run every member's
 * monitor_check, or refuse at once (not a secondary, another check running,
 * too many failed starts here within pingpong_interval).
 */
export function onCheckRequest(
  m: Machine,
  fx: Effect[],
  from: NodeId,
  msg: Message & { type: "check_request" },
) {
  const answer = (ok: boolean, reason: string) =>
    fx.push({
      type: "send",
      to: from,
      msg: {
        type: "check_result",
        resource: m.settings.name,
        epoch: m.epoch,
        id: msg.id,
        ok,
        reason,
      },
    });
  if (configured(m, from)?.watchdog) return; // a watchdog never hands a group over
  if (m.role !== "secondary" || m.shuttingDown || m.removing) {
    return answer(false, `${m.settings.self} is ${m.shuttingDown ? "shutting down" : m.role}`);
  }
  if (quarantined(m)) {
    return answer(false, `${m.settings.self} distrusts its state file for a while yet`);
  }
  if (groupState(m) !== "stopped") {
    return answer(false, `the group is ${groupState(m)} on ${m.settings.self}`);
  }
  const failed = recentFailedStarts(m);
  if (failed >= 2) {
    return answer(
      false,
      `${failed} starts failed on ${m.settings.self} within pingpong_interval ` +
        `(${fmt(m.settings.pingpongIntervalMs)})`,
    );
  }
  if (m.checking) return answer(false, `another giveover check is running here`);
  const hooks = new Map<number, string>();
  for (const x of m.members) {
    if (!x.settings.hasMonitorCheck) continue;
    const e = hookEffect(m, "monitor_check", [], {
      member: x,
      timeoutMs: x.settings.monitorCheckTimeoutMs,
    });
    hooks.set((e as { id: number }).id, x.settings.name);
    fx.push(e);
  }
  if (hooks.size === 0) return answer(true, "no member has monitor_check");
  m.checking = { from, id: msg.id, hooks, vetoes: [], started: m.now };
}

/** A monitor_check ended; once all have, answer the asker. False: not one of ours. */
export function onMonitorCheckDone(
  m: Machine,
  fx: Effect[],
  id: number,
  outcome: HookOutcome,
): boolean {
  const c = m.checking;
  const member = c?.hooks.get(id);
  if (!c || member === undefined) return false;
  c.hooks.delete(id);
  if (outcome.kind !== "exit" || outcome.code !== 0) {
    const said = outcome.output ? `: ${outcome.output}` : "";
    c.vetoes.push(`member ${member}: monitor_check ${describeOutcome(outcome)}${said}`);
  }
  if (c.hooks.size > 0) return true;
  m.checking = null;
  const ok = c.vetoes.length === 0;
  log(
    fx,
    ok ? "info" : "warning",
    `giveover check for ${c.from}: ${ok ? "ok" : c.vetoes.join("; ")}`,
  );
  fx.push({
    type: "send",
    to: c.from,
    msg: {
      type: "check_result",
      resource: m.settings.name,
      epoch: m.epoch,
      id: c.id,
      ok,
      reason: ok ? "monitor_check passed" : cut(c.vetoes.join("; "), MAX_REASON_LENGTH),
    },
  });
  return true;
}

/**
 * Answer what has settled and time out what waits too long (every step).
 * A restart is answered when its start has finished (START and MONITOR_START
 * exited 0: ONLINE as Solaris counts it), or the group is faulted or
 * stop-failed here; anything that moved the group off this node is answered when
 * some node runs it, as scha_control blocks until the group is back online.
 */
export function progressRequests(m: Machine, fx: Effect[]) {
  for (const r of [...m.requests.values()]) {
    // The monitor's own request ends with the group leaving: nobody waits for it.
    if (r.internal && r.phase !== "checking" && m.role !== "primary") {
      m.requests.delete(r.id);
      continue;
    }
    const finish = (v: Verdict) => {
      m.requests.delete(r.id);
      reply(m, fx, r.id, r.internal, v, r.plan.nodes.length > 0 ? r.plan : undefined, r.request);
    };
    switch (r.phase) {
      case "checking":
        if (m.role !== "primary") {
          finish({ code: SCHA_ERR.STATE, message: `this node stopped being primary` });
        } else if (r.check && m.now >= r.check.deadline) {
          checked(m, fx, r, `no answer to the check within ${fmt(checkWaitMs(m))}`);
        }
        break;
      case "operating":
        if (m.role !== "primary") {
          r.phase = "handing_over";
          r.target = null;
        } else if (m.op === null && m.busy === null) {
          if (groupState(m) === "stop_failed") {
            finish({ code: SCHA_ERR.INTERNAL, message: `a stop failed: ${rgState(m)}` });
          } else if (r.startedAt !== null && probedSince(m, r)) {
            const what = r.request.optag === "RESTART"
              ? m.settings.name
              : `member ${r.request.member}`;
            finish({
              code: 0,
              message: `${what} started again on ${m.settings.self} (${rgState(m)})`,
            });
          } else if ((m.online && groupState(m) === "running") || m.faulted) {
            finish({
              code: 0,
              message: `${m.settings.name} is ${rgState(m)} on ${m.settings.self}`,
            });
          }
        }
        break;
      case "handing_over":
        break;
    }
    if (r.phase === "handing_over" && m.requests.has(r.id)) {
      const at = runningOn(m, r.target);
      if (at !== null) {
        finish({ code: 0, message: `${m.settings.name} is online on ${at}` });
      } else if (groupState(m) === "stop_failed") {
        finish({
          code: SCHA_ERR.INTERNAL,
          message: `the stop here failed: the group is ERROR_STOP_FAILED on ${m.settings.self}`,
        });
      }
    }
    if (m.requests.has(r.id) && m.now >= r.deadline) {
      finish({
        code: SCHA_ERR.INTERNAL,
        message: `not settled within ${fmt(settleMs(m))} (${rgState(m)} here)`,
      });
    }
  }
}

/** Has every member a restart started been probed since its start finished? */
function probedSince(m: Machine, r: PendingRequest): boolean {
  const started = r.request.optag === "RESOURCE_RESTART"
    ? m.members.filter((x) => x.settings.name === r.request.member)
    : m.members;
  return started.every((x) => x.probedAt >= r.startedAt!);
}

/** The node the group runs on now: `target` if given, else any (this one included). */
function runningOn(m: Machine, target: NodeId | null): NodeId | null {
  if (target === null && m.role === "primary" && m.online) return m.settings.self;
  for (const [node, p] of m.peers) {
    if (target !== null && node !== target) continue;
    if (p.role === "primary" && p.state === "running" && isLive(m, p)) return node;
  }
  return null;
}

/** When a pending request wants the machine to look again (a check's or a settle deadline). */
export function requestWake(m: Machine): Time | null {
  let t: Time | null = null;
  for (const r of m.requests.values()) {
    const d = r.check ? Math.min(r.check.deadline, r.deadline) : r.deadline;
    t = t === null ? d : Math.min(t, d);
  }
  return t;
}

/** `text` cut to `max` characters, an ellipsis marking the cut. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
