/**
 * `hastmon ctl check`: the status view judged for Nagios-style monitoring, one
 * line and an exit status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Pure: the
 * verdict is read from the status view alone, as this node sees the cluster.
 *
 * CRITICAL: no primary runs anywhere this node knows of (not here, not on a
 * connected peer); the service failed to stop here.
 * CRITICAL also: the group is ERROR_STOP_FAILED or ONLINE_FAULTED here (a
 * member failed to start or is FAULTED), or a member was left unmonitored.
 * WARNING: no watchdog reachable (no automatic failover); a primary with no
 * secondary connected (nowhere to fail over to); a forced primary (no lease);
 * this node in `init` (out of the failover set); a member's restart budget
 * used up (the next failure gives the group over) or its status DEGRADED.
 * UNKNOWN: a resource the daemon does not know, or none at all. (The CLI adds
 * CRITICAL when no daemon answers, UNKNOWN when it cannot ask.)
 */
import type { ResourceStatus } from "../core/status.ts";
import type { StatusResult } from "./protocol.ts";

/** Nagios plugin exit statuses. */
export const CHECK = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type CheckCode = typeof CHECK[keyof typeof CHECK];

const LABEL: Record<CheckCode, string> = {
  0: "OK",
  1: "WARNING",
  2: "CRITICAL",
  3: "UNKNOWN",
};

/** The verdict: an exit status and the one line to print (without newline). */
export interface CheckResult {
  code: CheckCode;
  line: string;
}

/** The one line for `code` and `detail`. */
export function checkLine(code: CheckCode, detail: string): CheckResult {
  return { code, line: `HASTMON ${LABEL[code]} - ${detail}` };
}

interface Finding {
  code: CheckCode;
  text: string;
}

/** Judge every resource of `result`; `unknown` are names the daemon did not know. */
export function evaluateCheck(result: StatusResult, unknown: readonly string[] = []): CheckResult {
  const parts: { code: CheckCode; text: string }[] = [];
  for (const name of unknown) {
    parts.push({ code: CHECK.UNKNOWN, text: `${name}: unknown resource` });
  }
  if (result.resources.length === 0 && unknown.length === 0) {
    return checkLine(CHECK.UNKNOWN, `no resources on ${result.node}`);
  }
  for (const st of result.resources) {
    const findings = judge(st);
    const worst = findings.reduce<CheckCode>((w, f) => worse(w, f.code), CHECK.OK);
    const problems = findings.filter((f) => f.code !== CHECK.OK).sort((a, b) =>
      rank(b.code) - rank(a.code)
    );
    const text = problems.length > 0
      ? `${problems.map((f) => f.text).join(", ")} (${summary(st)})`
      : summary(st);
    parts.push({ code: worst, text: `${st.resource}: ${text}` });
  }
  const code = parts.reduce<CheckCode>((w, p) => worse(w, p.code), CHECK.OK);
  // The worst first: a monitoring screen shows the start of the line.
  parts.sort((a, b) => rank(b.code) - rank(a.code));
  return checkLine(code, parts.map((p) => p.text).join("; "));
}

/** UNKNOWN ranks between WARNING and CRITICAL, as in Nagios' own ordering of states. */
function rank(c: CheckCode): number {
  return c === CHECK.UNKNOWN ? 1.5 : c;
}

function worse(a: CheckCode, b: CheckCode): CheckCode {
  return rank(b) > rank(a) ? b : a;
}

function judge(st: ResourceStatus): Finding[] {
  const out: Finding[] = [];
  const connected = st.peers.filter((p) => p.connected);
  const runningHere = st.role === "primary" && st.state === "running";
  const runningThere = connected.some((p) => p.role === "primary" && p.state === "running");
  if (!runningHere && !runningThere) {
    out.push({ code: CHECK.CRITICAL, text: "no primary running" });
  }
  if (st.state === "stop_failed") out.push({ code: CHECK.CRITICAL, text: "stop failed here" });
  else if (st.rgState === "ONLINE_FAULTED") {
    out.push({ code: CHECK.CRITICAL, text: "group ONLINE_FAULTED here" });
  }
  for (const x of st.members) {
    const who = st.members.length > 1 || x.name !== st.resource ? `member ${x.name} ` : "";
    if (st.role !== "primary") continue;
    if (!x.monitored) {
      out.push({ code: CHECK.CRITICAL, text: `${who}unmonitored (the monitor quit)` });
    } else if (x.status === "FAULTED") {
      out.push({ code: CHECK.CRITICAL, text: `${who}FAULTED` });
    } else if (x.status === "DEGRADED") {
      out.push({ code: CHECK.WARNING, text: `${who}DEGRADED` });
    }
    if (x.restarts.max > 0 && x.restarts.used >= x.restarts.max) {
      out.push({
        code: CHECK.WARNING,
        text: `${who}restart budget used (${x.restarts.used}/${x.restarts.max})`,
      });
    }
  }
  if (st.forced) out.push({ code: CHECK.WARNING, text: "forced primary without a lease" });
  if (st.role === "init") {
    out.push({ code: CHECK.WARNING, text: "init here: out of the failover set" });
  }
  if (st.role === "primary" || st.role === "secondary") {
    if (!connected.some((p) => p.role === "watchdog")) {
      out.push({ code: CHECK.WARNING, text: "no watchdog reachable: no automatic failover" });
    }
  }
  if (st.role === "primary" && !connected.some((p) => p.role === "secondary")) {
    out.push({ code: CHECK.WARNING, text: "no secondary connected: nowhere to fail over" });
  }
  return out;
}

/** What the resource looks like from here, in a few words. */
function summary(st: ResourceStatus): string {
  const primary = st.role === "primary" ? `primary here (${st.state})` : (() => {
    const p = st.peers.find((p) => p.connected && p.role === "primary");
    return p ? `${st.role} here, primary ${p.node} (${p.state})` : `${st.role} here`;
  })();
  const up = st.peers.filter((p) => p.connected).length;
  return `${primary}, epoch ${st.epoch}, ${up}/${st.peers.length} peers connected`;
}
