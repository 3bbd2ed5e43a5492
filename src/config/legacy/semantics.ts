/**
 * What the original hastmon made of a hastmon.conf on one host
 * (hastmon-behaviour.md §8.3–8.6): global defaults from top-level statements
 * anywhere in the file, control and listen from the host's own top-level `on`
 * blocks, everything else in those blocks ignored, every `friends` outside a
 * resource's `on` block global, statements inside a resource applied in file
 * order (later wins), unset values filled from the global ones, attempts and
 * priority from the code's defaults. Used to check the converter against.
 */

import type { LegacyConfig, NodeBlock, Stmt } from "./parser.ts";

/** The original's defaults (code, not man page). */
export const LEGACY_DEFAULTS = {
  control: "/var/run/hastmonctl",
  listen: "tcp4://0.0.0.0:8458",
  timeout: 5,
  attempts: 5,
  heartbeat_interval: 10,
  complaint_count: 3,
  complaint_interval: 60,
  role_on_start: "init",
  priority: 100,
} as const;

/** One resource as the original runs it on one host. */
export interface LegacyResource {
  name: string;
  timeout: number;
  attempts: number;
  heartbeatInterval: number;
  complaintCount: number;
  complaintInterval: number;
  roleOnStart: string;
  priority: number;
  exec: string | null;
  /** Remote addresses, "none" included as written. */
  remote: string[];
  /** The resource's own friends (from the host's `on` block); the global list applies too. */
  friends: string[];
}

/** The whole configuration as the original runs it on one host. */
export interface LegacyEffective {
  control: string;
  listen: string;
  /** The global friends list: top level, every top-level `on` block, every resource level. */
  friends: string[];
  key: { algorithm: string | null; secret: string | null } | null;
  resources: LegacyResource[];
  /** What the original refuses to start with (§8.6), as messages. */
  errors: string[];
}

/** The last statement with `keyword` among `stmts` (by file order), if any. */
export function lastStmt(stmts: readonly Stmt[], keyword: string): Stmt | undefined {
  let best: Stmt | undefined;
  for (const s of stmts) if (s.keyword === keyword && (!best || s.seq > best.seq)) best = s;
  return best;
}

/**
 * The original's test of whether `on NAME` is this host's block: the full
 * hostname, or (when the hostname has a dot) any NAME that *starts with* its
 * first label.
 */
export function legacyClaims(name: string, hostname: string): boolean {
  if (name === hostname) return true;
  return hostname.includes(".") && name.startsWith(hostname.split(".")[0]);
}

/** Statements of all blocks, in file order. */
export function allStmts(blocks: readonly { stmts: Stmt[] }[]): Stmt[] {
  return blocks.flatMap((b) => b.stmts).sort((a, b) => a.seq - b.seq);
}

/** What the original would run on host `hostname` with configuration `cfg`. */
export function legacyEffective(cfg: LegacyConfig, hostname: string): LegacyEffective {
  const mine = (blocks: readonly NodeBlock[]) =>
    blocks.filter((b) => legacyClaims(b.name, hostname));
  const num = (s: Stmt | undefined) => s === undefined ? undefined : Number(s.values[0].text);
  const str = (s: Stmt | undefined) => s?.values[0].text;
  const globalNum = (kw: keyof typeof LEGACY_DEFAULTS) =>
    num(lastStmt(cfg.globals, kw)) ?? (LEGACY_DEFAULTS[kw] as number);
  const myNodeStmts = allStmts(mine(cfg.nodes));
  const friends = [
    ...cfg.globals,
    ...allStmts(cfg.nodes),
    ...cfg.resources.flatMap((r) => r.stmts),
  ].filter((s) => s.keyword === "friends").sort((a, b) => a.seq - b.seq)
    .flatMap((s) => s.values.map((v) => v.text));
  const errors: string[] = [];
  const resources = cfg.resources.map((r): LegacyResource => {
    const nodes = mine(r.nodes);
    if (nodes.length === 0) errors.push(`resource ${r.name}: no on block for this host`);
    // Resource-level and this host's node-level statements write the same fields, in file order.
    const stmts = [...r.stmts, ...allStmts(nodes)].sort((a, b) => a.seq - b.seq);
    const field = (kw: string) => lastStmt(stmts, kw);
    const remote = allStmts(nodes).filter((s) => s.keyword === "remote")
      .flatMap((s) => s.values.map((v) => v.text));
    if (remote.length === 0) errors.push(`resource ${r.name}: no remote address`);
    const exec = str(field("exec")) ?? null;
    if (exec === null) errors.push(`resource ${r.name}: no exec`);
    return {
      name: r.name,
      timeout: num(field("timeout")) ?? globalNum("timeout"),
      attempts: num(field("attempts")) ?? LEGACY_DEFAULTS.attempts,
      heartbeatInterval: num(field("heartbeat_interval")) ?? globalNum("heartbeat_interval"),
      complaintCount: num(field("complaint_count")) ?? globalNum("complaint_count"),
      complaintInterval: num(field("complaint_interval")) ?? globalNum("complaint_interval"),
      roleOnStart: str(field("role_on_start")) ?? str(lastStmt(cfg.globals, "role_on_start")) ??
        LEGACY_DEFAULTS.role_on_start,
      priority: num(field("priority")) ?? LEGACY_DEFAULTS.priority,
      exec,
      remote,
      friends: allStmts(nodes).filter((s) => s.keyword === "friends")
        .flatMap((s) => s.values.map((v) => v.text)),
    };
  });
  const keyStmts = allStmts(cfg.keys);
  return {
    control: str(lastStmt(myNodeStmts, "control")) ?? str(lastStmt(cfg.globals, "control")) ??
      LEGACY_DEFAULTS.control,
    listen: str(lastStmt(myNodeStmts, "listen")) ?? str(lastStmt(cfg.globals, "listen")) ??
      LEGACY_DEFAULTS.listen,
    friends,
    key: cfg.keys.length === 0 ? null : {
      algorithm: str(lastStmt(keyStmts, "algorithm")) ?? null,
      secret: str(lastStmt(keyStmts, "secret")) ?? null,
    },
    resources,
    errors,
  };
}
