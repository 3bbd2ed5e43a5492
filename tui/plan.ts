/**
 * Dry-run plans of the console's actions, computed from the view model
 * before anything is sent: which daemon gets which request, what should
 * happen, and what stands in the way. Pure; the console shows the plan and
 * sends its requests only after the operator confirms.
 */
import type { ControlRequestInput } from "../src/control/client.ts";
import type { Role } from "../src/core/types.ts";
import type { PeerStatus } from "../src/core/status.ts";
import type { ClusterModel, ResourceRow } from "./model.ts";
import { formatDuration } from "./format.ts";

/** One request of a plan. */
export interface PlannedRequest {
  /** The daemon (control socket) that gets it. */
  daemon: string;
  node: string;
  request: ControlRequestInput;
  /** The same request as a command line, for people. */
  command: string;
  /**
   * How long its answer may take: a giveover is answered once the group runs
   * on the target (the daemon bounds that itself). Default: the link's bound.
   */
  timeoutMs?: number;
}

/** A plan: requests to send, what to expect, and what blocks it. */
export interface Plan {
  title: string;
  resource: string;
  requests: PlannedRequest[];
  expect: string[];
  /** Reasons it cannot be done: the console refuses to send a blocked plan. */
  blockers: string[];
  /** Risks the operator should weigh before confirming. */
  warnings: string[];
}

/** A role the operator may pick for one node. */
export interface RoleChoice {
  node: string;
  from: Role | null;
  to: Role;
}

const CHOOSABLE: readonly Role[] = ["primary", "secondary", "watchdog", "init"];

/** Every (node, role) the operator may ask for `resource`, on nodes whose daemon the console has. */
export function roleChoices(model: ClusterModel, resource: string): RoleChoice[] {
  const row = model.resources.find((r) => r.name === resource);
  if (!row) return [];
  const out: RoleChoice[] = [];
  for (const cell of row.cells) {
    if (!model.daemons.some((d) => d.node === cell.node)) continue;
    const from = cell.source.kind === "own" || cell.source.kind === "stale" ? cell.role : null;
    for (const to of CHOOSABLE) if (to !== from) out.push({ node: cell.node, from, to });
  }
  return out;
}

/** Where the console reaches `node`'s daemon, or why it cannot. */
function daemonOf(model: ClusterModel, node: string): { id: string } | { blocker: string } {
  const d = model.daemons.find((x) => x.node === node);
  if (!d) {
    return {
      blocker: `the console has no control socket of ${node} (start it with --socket or --node)`,
    };
  }
  if (d.phase !== "connected") {
    return { blocker: `the daemon of ${node} does not answer${d.error ? `: ${d.error}` : ""}` };
  }
  return { id: d.id };
}

function ctlCommand(node: string, role: Role, resource: string, to?: string): string {
  return `hastmon ctl --node ${node} role ${role} ${resource}${to ? ` --to ${to}` : ""}`;
}

/**
 * The secondary a primary on `node` hands over to when it steps down to
 * secondary, as its own status view shows its peers: connected, secondary,
 * lowest priority number, then name (the daemon's own choice, bestSecondary
 * in src/core/machine.ts, from the same knowledge). Null when none is.
 */
export function successorOf(row: ResourceRow, node: string): PeerStatus | null {
  const view = row.views.find((v) => v.node === node)?.status;
  const candidates = (view?.peers ?? [])
    .filter((p) => p.role === "secondary" && p.connected)
    .sort((a, b) => a.priority - b.priority || (a.node < b.node ? -1 : 1));
  return candidates[0] ?? null;
}

/** The plan of `ctl role ROLE RESOURCE` on `node`. */
export function roleChangePlan(
  model: ClusterModel,
  resource: string,
  node: string,
  role: Role,
): Plan {
  const plan: Plan = {
    title: `${resource}: ${node} becomes ${role}`,
    resource,
    requests: [],
    expect: [],
    blockers: [],
    warnings: [],
  };
  const row = model.resources.find((r) => r.name === resource);
  if (!row) {
    plan.blockers.push(`no daemon reports a resource ${resource}`);
    return plan;
  }
  const target = daemonOf(model, node);
  if ("blocker" in target) plan.blockers.push(target.blocker);
  const view = row.views.find((v) => v.node === node && !v.stale)?.status;
  const current = view?.role ?? null;
  if (current === role) plan.blockers.push(`${resource} is already ${role} on ${node}`);
  if ("id" in target) {
    plan.requests.push({
      daemon: target.id,
      node,
      request: { type: "role", role, resources: [resource] },
      command: ctlCommand(node, role, resource),
    });
  }
  const others = otherPrimaries(row, node);
  if (role === "primary") {
    plan.expect.push(
      `${node} becomes primary with a new epoch (above ${maxEpoch(row)}) and starts ${resource} ` +
        `once a peer grants it a lease`,
    );
    for (const p of others) {
      plan.warnings.push(
        `${p} is primary now: it yields to ${node}'s higher epoch and stops ${resource}; ` +
          `${node} starts only after ${p}'s lease has run out (switch over, s, is the planned way)`,
      );
    }
    if (view && !view.peers.some((p) => p.connected)) {
      plan.warnings.push(`${node} hears no peer: nobody can grant it a lease, it will not start`);
    }
  } else if (current === "primary" && role === "secondary") {
    // `role secondary` on a primary is a switchover to the best connected secondary.
    const next = successorOf(row, node);
    if (next) {
      plan.expect.push(
        `${node} stops ${resource}, becomes secondary and hands its lease over to ${next.node}`,
        `${next.node} (the best connected secondary, priority ${next.priority}) becomes primary ` +
          `at once and starts ${resource}`,
      );
    } else {
      plan.expect.push(`${node} stops ${resource} and becomes secondary`);
      plan.warnings.push(
        `no secondary is connected to ${node}: nobody takes over, ${resource} stays down`,
      );
    }
  } else if (current === "primary") {
    plan.expect.push(`${node} stops ${resource} and becomes ${role}`);
    const standby = connectedSecondaries(row, node);
    plan.expect.push(
      standby.length > 0
        ? `a secondary (${standby.join(", ")}) takes over once the watchdogs complain`
        : `nobody takes over: no secondary is connected, ${resource} stays down`,
    );
  } else {
    plan.expect.push(`${node} becomes ${role} for ${resource}`);
  }
  if (current === "secondary" && role !== "primary") {
    const left = row.views.filter((v) => v.node !== node && v.status.role === "secondary");
    if (left.length === 0) {
      plan.warnings.push(`no secondary would be left: no failover for ${resource}`);
    }
  }
  if (current === "watchdog" && role !== "watchdog") {
    const left = row.cells.filter((c) => c.node !== node && c.role === "watchdog");
    if (left.length === 0) {
      plan.warnings.push(`no watchdog would be left: no automatic failover for ${resource}`);
    }
  }
  return plan;
}

/**
 * The start of a plan carried out on the resource's one known primary (a
 * switchover, a giveover): its row, that primary and its daemon, with the
 * plan titled "RESOURCE: ACTION from PRIMARY"; or the plan already done,
 * blocked, when there is no such resource or not exactly one primary.
 */
function fromThePrimary(
  model: ClusterModel,
  resource: string,
  action: string,
):
  | { done: Plan }
  | {
    plan: Plan;
    row: ResourceRow;
    primary: string;
    target: ReturnType<typeof daemonOf>;
  } {
  const plan: Plan = {
    title: `${resource}: ${action}`,
    resource,
    requests: [],
    expect: [],
    blockers: [],
    warnings: [],
  };
  const row = model.resources.find((r) => r.name === resource);
  if (!row) {
    plan.blockers.push(`no daemon reports a resource ${resource}`);
    return { done: plan };
  }
  if (row.primaries.length > 1) {
    plan.blockers.push(
      `${row.primaries.join(" and ")} both claim to be primary: resolve that first`,
    );
    return { done: plan };
  }
  const primary = row.primary;
  if (primary === null) {
    plan.blockers.push(`no primary of ${resource} is known: nothing to ${action}`);
    return { done: plan };
  }
  plan.title = `${resource}: ${action} from ${primary}`;
  const target = daemonOf(model, primary);
  if ("blocker" in target) plan.blockers.push(target.blocker);
  return { plan, row, primary, target };
}

/**
 * The plan of a switchover: `ctl role secondary RESOURCE --to NEXT` on the
 * current primary's daemon, NEXT being the secondary it would pick itself
 * (see {@link successorOf}). The primary stops the resource, releases its
 * lease naming NEXT, and NEXT becomes primary at once. Naming NEXT makes
 * the plan exact: should NEXT no longer be a connected secondary when the
 * request arrives, the daemon refuses it and nothing changes.
 */
export function switchoverPlan(model: ClusterModel, resource: string): Plan {
  const from = fromThePrimary(model, resource, "switch over");
  if ("done" in from) return from.done;
  const { plan, row, primary, target } = from;
  const next = successorOf(row, primary);
  if (next === null) {
    plan.blockers.push(
      `no secondary is connected to ${primary}: nobody could take over, ${resource} would stop`,
    );
    return plan;
  }
  plan.title = `${resource}: switch over from ${primary} to ${next.node}`;
  if ("id" in target) {
    plan.requests.push({
      daemon: target.id,
      node: primary,
      request: { type: "role", role: "secondary", resources: [resource], to: next.node },
      command: ctlCommand(primary, "secondary", resource, next.node),
    });
  }
  plan.expect.push(
    `${primary} stops ${resource}, becomes secondary and releases its lease to ${next.node}`,
    `${next.node} (the best connected secondary, priority ${next.priority}) becomes primary ` +
      `at once, without waiting for complaints, and starts ${resource}`,
    `refused, with nothing changed, if ${next.node} is no longer a connected secondary then`,
  );
  return plan;
}

/** Longest wait for a giveover's answer: the daemon answers within its own bound, well below. */
export const GIVEOVER_TIMEOUT_MS = 10 * 60_000;

/**
 * The plan of a giveover: `ctl giveover --to` (scha_control GIVEOVER) of
 * the group to the primary's daemon, naming the node the plan picks (as for a switchover, the
 * best connected secondary, but not one a pingpong mark keeps the group
 * from). The daemon checks again (§1.3), asks the target's monitor_check,
 * and answers once the group runs there, or refuses with a SCHA_ERR and
 * nothing changed.
 */
export function giveoverPlan(model: ClusterModel, resource: string): Plan {
  const from = fromThePrimary(model, resource, "give over");
  if ("done" in from) return from.done;
  const { plan, row, primary, target } = from;
  const view = row.views.find((v) => v.node === primary && !v.stale)?.status;
  if (view?.request) {
    plan.blockers.push(`${primary} is carrying out ${view.request.optag}: wait for it to finish`);
  } else if (view && view.rgState !== "ONLINE" && view.rgState !== "ONLINE_FAULTED") {
    plan.blockers.push(`${resource} is ${view.rgState} on ${primary}, not online: nothing to give`);
  }
  // A pingpong mark on the primary keeps the group from going back where it came from.
  const marks = view?.pingpong ?? [];
  const peers = (view?.peers ?? []).filter((p) => p.role === "secondary" && p.connected)
    .sort((a, b) => a.priority - b.priority || (a.node < b.node ? -1 : 1));
  const free = peers.filter((p) => !marks.some((m) => m.node === p.node));
  for (const m of marks) {
    plan.warnings.push(
      `${m.node} may not take it for ${formatDuration(m.remainingMs)}: a pingpong mark` +
        (m.member ? ` (${m.member} was given over from there)` : ""),
    );
  }
  const next = free[0];
  if (!next) {
    plan.blockers.push(
      peers.length === 0
        ? `no secondary is connected to ${primary}: nobody could take ${resource}`
        : `every connected secondary is held off by a pingpong mark`,
    );
    return plan;
  }
  plan.title = `${resource}: give over from ${primary} to ${next.node}`;
  if ("id" in target) {
    plan.requests.push({
      daemon: target.id,
      node: primary,
      request: { type: "scha", group: resource, optag: "GIVEOVER", to: next.node },
      command: `hastmon ctl --node ${primary} giveover ${resource} --to ${next.node}`,
      timeoutMs: GIVEOVER_TIMEOUT_MS,
    });
  }
  plan.expect.push(
    `${next.node}'s monitor_check decides first: a veto refuses it, nothing changes`,
    `${primary} stops ${resource}, ${next.node} starts it; answered once ${next.node} runs it`,
    `then a pingpong mark keeps ${resource} from coming back to ${primary} for a while`,
  );
  return plan;
}

function otherPrimaries(row: ResourceRow, node: string): string[] {
  return row.primaries.filter((p) => p !== node);
}

function connectedSecondaries(row: ResourceRow, node: string): string[] {
  const view = row.views.find((v) => v.node === node)?.status;
  return (view?.peers ?? []).filter((p) => p.role === "secondary" && p.connected).map((p) =>
    p.node
  );
}

function maxEpoch(row: ResourceRow): number {
  return Math.max(0, ...row.views.map((v) => v.status.maxEpoch));
}
