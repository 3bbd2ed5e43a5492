/**
 * Checks that need more than one section: each node of a resource has peers,
 * a watchdog has something to watch, nodes that can be primary have distinct
 * priorities and runnable members, this node takes part, and the timing rule.
 */

import type { NodeId } from "../core/types.ts";
import type { Diagnostics, Pos } from "./diagnostics.ts";
import { resourceChain } from "./effective.ts";
import type { ResourceSections, SectionTree } from "./sections.ts";
import { formatPath } from "./sections.ts";
import { isWatchdog, resourceTimelines } from "./timing_check.ts";
import type { NodeSource, ResourceNodeConfig, Setting, TimelineReport } from "./types.ts";

/** Keys the timing rule reads: when one of them is invalid, the rule is not evaluated. */
const TIMING_KEYS = [
  "timeout",
  "heartbeat_interval",
  "complaint_count",
  "complaint_interval",
  "stop_timeout",
  "clock_skew",
  "role_on_start",
  "panic",
];

/** Methods every member of a node that can be primary must have. */
const REQUIRED_METHODS = ["start", "stop", "status"] as const;

/** Where a setting was written, or `fallback` when it is a default. */
function settingPos(s: Setting, fallback: Pos): Pos {
  return s.from.line === undefined ? fallback : { line: s.from.line, col: s.from.col! };
}

/** Report problems of resource `res` whose nodes' effective views are `nodes`. */
export function checkResource(
  tree: SectionTree,
  res: ResourceSections,
  nodes: readonly ResourceNodeConfig[],
  self: { node: NodeId; source: NodeSource },
  diag: Diagnostics,
): void {
  const R = res.name;
  // A key whose value was rejected falls back to its parent; do not pile a second error on it.
  const rejected = (n: ResourceNodeConfig, ...keys: string[]) =>
    resourceChain(tree, res, n.node).some((s) => keys.some((k) => s.invalid.has(k))) ||
    [...res.members.values()].some((s) => keys.some((k) => s.invalid.has(k)));
  const error = (pos: Pos, message: string) => diag.error(pos, message, R);
  if (nodes.length === 0) {
    if (res.section.invalid.has("on")) return; // already reported where `on` is written
    error(
      res.section.pos,
      `resource ${R} has no nodes: add [${formatPath(["resource", R, "on", "NODE"])}] sections`,
    );
    return;
  }
  if (!nodes.some((n) => n.node === self.node)) {
    diag.error(
      res.section.pos,
      `resource ${R} has no [${
        formatPath(["resource", R, "on", self.node])
      }] section for this node ` +
        `(${self.node}, ${describeSource(self.source)}); its nodes are ${
          nodes.map((n) => n.node).join(", ")
        }`,
      R,
      "no_section_for_node",
    );
  }
  for (const n of nodes.filter((n) => !rejected(n, "remote"))) {
    const remote = n.settings.remote;
    if (n.remote === null) {
      error(
        n.pos,
        `resource ${R} on node ${n.node} has no \`remote\`: list the peers' addresses, ` +
          `or write remote = "none"`,
      );
    } else if (Array.isArray(n.remote) && n.remote.length === 0) {
      error(
        settingPos(remote, n.pos),
        `\`remote\` is empty: list the peers' addresses, or write "none"`,
      );
    } else if (n.remote === "none" && isWatchdog(n)) {
      error(
        settingPos(remote, n.pos),
        `node ${n.node} is a watchdog of resource ${R} (role_on_start = "watchdog") but lists ` +
          `no remotes: it would have nothing to watch`,
      );
    }
  }
  const eligible = nodes.filter((n) => !isWatchdog(n));
  if (eligible.length === 0) {
    error(
      res.section.pos,
      `resource ${R} has no node that can be primary: every node is a watchdog`,
    );
  }
  checkCommands(R, eligible.filter((n) => !rejected(n, "exec", ...REQUIRED_METHODS)), error);
  checkPriorities(R, eligible.filter((n) => !rejected(n, "priority")), error);
}

function checkCommands(
  R: string,
  eligible: readonly ResourceNodeConfig[],
  error: (pos: Pos, message: string) => void,
): void {
  // Explicit members: one message per member and method, naming every node that lacks it.
  const byMember = new Map<string, { pos: Pos; member: string; method: string; nodes: NodeId[] }>();
  for (const n of eligible) {
    for (const m of n.members) {
      const lacking = REQUIRED_METHODS.filter((method) => m.commands[method] === null);
      if (m.implicit) {
        if (lacking.length === REQUIRED_METHODS.length) {
          error(
            n.pos,
            `resource ${R} has no \`exec\` for node ${n.node}: set \`exec\`, or \`start\`, ` +
              `\`stop\` and \`status\``,
          );
        } else {
          for (const method of lacking) {
            error(
              n.pos,
              `resource ${R} has no \`${method}\` command for node ${n.node}: set \`${method}\` or \`exec\``,
            );
          }
        }
        continue;
      }
      for (const method of lacking) {
        const id = `${m.name}\u0000${method}`;
        const entry = byMember.get(id) ?? { pos: m.pos, member: m.name, method, nodes: [] };
        entry.nodes.push(n.node);
        byMember.set(id, entry);
      }
    }
  }
  for (const e of byMember.values()) {
    error(
      e.pos,
      `member ${e.member} of resource ${R} has no \`${e.method}\` command (node ${
        e.nodes.join(", ")
      }): set \`${e.method}\` or \`exec\``,
    );
  }
}

function checkPriorities(
  R: string,
  eligible: readonly ResourceNodeConfig[],
  error: (pos: Pos, message: string) => void,
): void {
  const first = new Map<number, ResourceNodeConfig>();
  for (const n of eligible) {
    const other = first.get(n.priority);
    if (!other) {
      first.set(n.priority, n);
      continue;
    }
    error(
      settingPos(n.settings.priority, n.pos),
      `resource ${R}: nodes ${other.node} and ${n.node} have the same priority ${n.priority}: ` +
        `give each node that can be primary its own priority (lower wins)`,
    );
  }
}

/** True when every timing key in the sections `res` inherits from was accepted. */
export function timingInputsValid(tree: SectionTree, res: ResourceSections): boolean {
  return [...res.on.keys()].every((node) =>
    resourceChain(tree, res, node).every((s) => TIMING_KEYS.every((k) => !s.invalid.has(k)))
  );
}

/** Apply the timing rule to a resource: errors refuse the file, warnings are printed. */
export function checkTiming(
  res: ResourceSections,
  nodes: readonly ResourceNodeConfig[],
  diag: Diagnostics,
): TimelineReport[] {
  const R = res.name;
  const reports = resourceTimelines(nodes);
  const warnings = new Map<string, Set<NodeId>>();
  for (const r of reports) {
    const pair = r.secondary === null
      ? `primary ${r.primary}`
      : `primary ${r.primary}, secondary ${r.secondary}`;
    for (const e of r.timeline.errors) {
      diag.error(res.section.pos, `resource ${R}: unsafe timing (${pair}): ${e}`, R);
    }
    for (const w of r.timeline.warnings) {
      warnings.set(w, (warnings.get(w) ?? new Set()).add(r.primary));
    }
  }
  const primaries = new Set(reports.map((r) => r.primary));
  for (const [w, from] of warnings) {
    const which = from.size === primaries.size ? "" : ` (primary ${[...from].join(", ")})`;
    diag.warn(res.section.pos, `resource ${R}: ${w}${which}`, R);
  }
  if (reports.length === 1 && reports[0].secondary === null) {
    diag.warn(
      res.section.pos,
      `resource ${R}: only ${reports[0].primary} can be primary: there is no node to fail over to`,
      R,
    );
  }
  return reports;
}

/** How the node name was chosen, for messages. */
export function describeSource(source: NodeSource): string {
  switch (source) {
    case "flag":
      return "from --node";
    case "env":
      return "from HASTMON_NODE";
    case "hostname":
      return "from the hostname";
    case "short hostname":
      return "from the short hostname";
    case "given":
      return "as given";
  }
}
