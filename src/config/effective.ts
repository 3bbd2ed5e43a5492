/**
 * Inheritance: every key of a resource on a node takes the value of the most
 * specific section that writes it, in the order
 * `[resource.R.member.M]` → `[resource.R.on.N]` → `[resource.R]` → `[on.N]` →
 * the top level → the default. Node-wide keys follow `[on.N]` → top level → default.
 */

import type { NodeId, Role } from "../core/types.ts";
import type { ControlAddress, PeerAddress } from "./address.ts";
import {
  type CheckContext,
  checkValue,
  type Command,
  type FailoverMode,
  KEY_BY_NAME,
  type KeySpec,
  MEMBER_KEYS,
  MEMBER_METHODS,
  type MemberMethod,
  NODE_KEYS,
  RESOURCE_KEYS,
  TIMED_METHODS,
  type TimedMethod,
} from "./schema.ts";
import type { ResourceSections, Section, SectionTree } from "./sections.ts";
import type {
  MemberConfig,
  MethodCommand,
  NodeConfig,
  Provenance,
  ResourceNodeConfig,
  Setting,
  Settings,
} from "./types.ts";

/** Where a value written in `section` at `pos` came from. */
function provenanceOf(section: Section, key: string): Provenance {
  const pos = section.entries.get(key)!.pos;
  return { kind: section.kind, section: section.label, line: pos.line, col: pos.col };
}

const DEFAULT: Provenance = { kind: "default", section: "default" };

/** The effective value of `spec` along `chain` (most specific section first). */
export function resolveSetting(
  spec: KeySpec,
  chain: readonly Section[],
  ctx: CheckContext,
): Setting {
  for (const s of chain) {
    const e = s.entries.get(spec.name);
    if (e) return { raw: e.raw, value: e.value, from: provenanceOf(s, spec.name) };
  }
  const value = spec.default === null ? null : checkValue(spec, spec.default, ctx, (m) => {
    throw new Error(`default of ${spec.name} is invalid: ${m}`);
  })!;
  return { raw: spec.default, value, from: DEFAULT };
}

function resolveAll(specs: readonly KeySpec[], chain: Section[], ctx: CheckContext): Settings {
  const out: Settings = {};
  for (const spec of specs) out[spec.name] = resolveSetting(spec, chain, ctx);
  return out;
}

/** The sections a resource on `node` inherits from, most specific first. */
export function resourceChain(tree: SectionTree, res: ResourceSections, node: NodeId): Section[] {
  return [res.on.get(node), res.section, tree.on.get(node), tree.global].filter((s) =>
    s !== undefined
  );
}

/** Node-wide settings of `node`. */
export function nodeConfig(tree: SectionTree, node: NodeId, ctx: CheckContext): NodeConfig {
  const chain = [tree.on.get(node), tree.global].filter((s) => s !== undefined);
  const settings = resolveAll(NODE_KEYS, chain, ctx);
  return {
    node,
    control: settings.control.value as ControlAddress,
    listen: settings.listen.value as PeerAddress,
    metricsListen: settings.metrics_listen.value as PeerAddress | null,
    stateDir: settings.state_dir.value as string,
    settings,
  };
}

/** Resource `res` as configured for `node` (which must have a `[resource.R.on.node]`). */
export function resourceNodeConfig(
  tree: SectionTree,
  res: ResourceSections,
  node: NodeId,
  ctx: CheckContext,
): ResourceNodeConfig {
  const chain = resourceChain(tree, res, node);
  const settings = resolveAll(RESOURCE_KEYS, chain, ctx);
  const v = (key: string) => settings[key].value;
  const hookTimeoutMs = v("hook_timeout") as number;
  const methodTimeoutMs = {} as Record<TimedMethod, number>;
  for (const m of TIMED_METHODS) {
    methodTimeoutMs[m] = (v(timeoutKey(m)) as number | null) ?? hookTimeoutMs;
  }
  const stopTimeoutMs = v("stop_timeout") as number;
  const heartbeatMs = v("heartbeat_interval") as number;
  const members = res.members.size === 0
    ? [memberConfig(res.name, res.section, true, chain, res.name, stopTimeoutMs, heartbeatMs, ctx)]
    : [...res.members].map(([name, section]) =>
      memberConfig(
        name,
        section,
        false,
        [section, ...chain],
        res.name,
        stopTimeoutMs,
        heartbeatMs,
        ctx,
      )
    );
  return {
    resource: res.name,
    node,
    pos: res.on.get(node)?.pos ?? res.section.pos,
    roleOnStart: v("role_on_start") as Role,
    priority: v("priority") as number,
    timeoutMs: v("timeout") as number,
    heartbeatIntervalMs: v("heartbeat_interval") as number,
    complaintCount: v("complaint_count") as number,
    complaintIntervalMs: v("complaint_interval") as number,
    attempts: v("attempts") as number,
    stopTimeoutMs,
    clockSkew: v("clock_skew") as number,
    hookTimeoutMs,
    methodTimeoutMs,
    exec: v("exec") as string | null,
    remote: v("remote") as PeerAddress[] | "none" | null,
    friends: v("friends") as PeerAddress[],
    panic: v("panic") as Command | null,
    fence: v("fence") as Command | null,
    pingpongIntervalMs: v("pingpong_interval") as number,
    members,
    settings,
  };
}

/** The key that sets `method`'s timeout. */
export function timeoutKey(method: TimedMethod): string {
  return `${method}_timeout`;
}

function memberConfig(
  name: string,
  section: Section,
  implicit: boolean,
  chain: Section[],
  resource: string,
  stopTimeoutMs: number,
  heartbeatMs: number,
  ctx: CheckContext,
): MemberConfig {
  const settings = resolveAll(MEMBER_KEYS, chain, ctx);
  const hook = settings.hook_timeout.value as number;
  const timeoutMs = {} as Record<MemberMethod, number>;
  const commands = {} as Record<MemberMethod, MethodCommand | null>;
  for (const m of MEMBER_METHODS) {
    timeoutMs[m] = m === "stop"
      ? stopTimeoutMs
      : (settings[timeoutKey(m)].value as number | null) ?? hook;
    commands[m] = methodCommand(m, chain, resource);
  }
  return {
    name,
    implicit,
    pos: section.pos,
    commands,
    failoverMode: settings.failover_mode.value as FailoverMode,
    retryCount: settings.retry_count.value as number,
    retryIntervalMs: settings.retry_interval.value as number,
    probeIntervalMs: (settings.probe_interval.value as number | null) ?? heartbeatMs,
    timeoutMs,
    settings,
  };
}

/**
 * The command of `method`: the most specific section that sets either the
 * method's own key or `exec` decides; within one section the method's key wins.
 * The monitor methods are optional and never run through `exec`.
 */
function methodCommand(
  method: MemberMethod,
  chain: Section[],
  resource: string,
): MethodCommand | null {
  for (const s of chain) {
    if (s.entries.has(method)) {
      return {
        argv: [...s.entries.get(method)!.value as Command],
        viaExec: false,
        from: provenanceOf(s, method),
      };
    }
    // exec is hastmon's script and knows start, stop and status, not the monitor methods.
    if ((method === "start" || method === "stop" || method === "status") && s.entries.has("exec")) {
      return {
        argv: [s.entries.get("exec")!.value as string, method, resource],
        viaExec: true,
        from: provenanceOf(s, "exec"),
      };
    }
  }
  return null;
}

/** The spec of a key that the schema is known to have. */
export function keySpec(name: string): KeySpec {
  const spec = KEY_BY_NAME.get(name);
  if (!spec) throw new Error(`no such key: ${name}`);
  return spec;
}
