/** The bridge to the core: a resource's effective settings as src/core/types.ts wants them. */

import {
  HOOK_METHODS,
  type HookMethod,
  type NodeId,
  type ResourceSettings,
} from "../core/types.ts";
import { leaseMs } from "../core/timing.ts";
import { timeoutKey } from "./effective.ts";
import type { EffectiveConfig, LoadResult, ResourceConfig, ResourceNodeConfig } from "./types.ts";

/** Resource `name` as node `node` (default: this node) sees it. Throws if there is no such view. */
export function resourceNode(
  cfg: EffectiveConfig,
  name: string,
  node: NodeId = cfg.node,
): ResourceNodeConfig {
  const res = cfg.resources.find((r) => r.name === name);
  if (!res) throw new Error(`no resource ${name} in ${cfg.file}`);
  const view = res.nodes.find((n) => n.node === node);
  if (!view) throw new Error(`resource ${name} has no section for node ${node} in ${cfg.file}`);
  return view;
}

/**
 * The core's ResourceSettings of resource `name` on node `node` (default: this
 * node; the simulator asks for every node). Durations in ms; `nodes` lists every
 * node of the resource in file order; `methodTimeoutMs` holds `stop` and every
 * method whose `<method>_timeout` the file sets (the others use hookTimeoutMs).
 */
export function resourceSettings(
  cfg: EffectiveConfig,
  name: string,
  node: NodeId = cfg.node,
): ResourceSettings {
  const res = cfg.resources.find((r) => r.name === name)!;
  const me = resourceNode(cfg, name, node);
  const methodTimeoutMs: Partial<Record<HookMethod, number>> = {};
  for (const m of HOOK_METHODS) {
    if (m === "stop" || me.settings[timeoutKey(m)].from.kind !== "default") {
      methodTimeoutMs[m] = me.methodTimeoutMs[m];
    }
  }
  return {
    name,
    self: node,
    // What each node may claim about itself: the shared file's numbers for it.
    nodes: res.nodes.map((n) => ({
      name: n.node,
      priority: n.priority,
      watchdog: n.roleOnStart === "watchdog",
      leaseMs: leaseMs(n),
      stopTimeoutMs: n.stopTimeoutMs,
    })),
    peers: res.nodes.filter((n) => n.node !== node).map((n) => n.node),
    priority: me.priority,
    roleOnStart: me.roleOnStart,
    heartbeatIntervalMs: me.heartbeatIntervalMs,
    complaintCount: me.complaintCount,
    complaintIntervalMs: me.complaintIntervalMs,
    timeoutMs: me.timeoutMs,
    attempts: me.attempts,
    stopTimeoutMs: me.stopTimeoutMs,
    clockSkew: me.clockSkew,
    hookTimeoutMs: me.hookTimeoutMs,
    methodTimeoutMs,
    members: me.members.map((m) => ({
      name: m.name,
      probeIntervalMs: m.probeIntervalMs,
      startTimeoutMs: m.timeoutMs.start,
      statusTimeoutMs: m.timeoutMs.status,
      failoverMode: m.failoverMode,
      retryCount: m.retryCount,
      retryIntervalMs: m.retryIntervalMs,
      hasMonitorStart: m.commands.monitor_start !== null,
      hasMonitorStop: m.commands.monitor_stop !== null,
      hasMonitorCheck: m.commands.monitor_check !== null,
      monitorStartTimeoutMs: m.timeoutMs.monitor_start,
      monitorStopTimeoutMs: m.timeoutMs.monitor_stop,
      monitorCheckTimeoutMs: m.timeoutMs.monitor_check,
    })),
    pingpongIntervalMs: me.pingpongIntervalMs,
    hasPanic: me.panic !== null,
    hasFence: me.fence !== null,
  };
}

/** True when the file has errors that concern it as a whole (no resource can be trusted). */
export function hasFileErrors(result: LoadResult): boolean {
  return result.config === null || result.errors.some((e) => e.resource === undefined);
}

/**
 * The resources this node can run: none when the file as a whole has errors,
 * else every resource without errors of its own that has a section for this node.
 */
export function usableResources(result: LoadResult): ResourceConfig[] {
  if (hasFileErrors(result)) return [];
  return result.config!.resources.filter((r) => r.errors.length === 0 && r.self !== null);
}
