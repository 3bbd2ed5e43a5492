/**
 * Which node this is (PRODUCT.md §1): `--node NAME`, else `HASTMON_NODE`, else
 * the exact hostname if the file names it, else the exact short hostname (the
 * part before the first dot) if the file names it. Never a prefix match: the
 * original claimed `on node10` on host `node1.example.com`.
 */

import type { NodeId } from "../core/types.ts";
import type { NodeSource } from "./types.ts";

/** A node name and how it was chosen. */
export interface NodeIdentity {
  name: NodeId;
  source: NodeSource;
}

/** Choose the node name from what is known; pure, for tests and for `resolveNodeName`. */
export function identifyNode(
  configured: readonly NodeId[],
  from: { flag?: string; env?: string; hostname: string },
): NodeIdentity {
  if (from.flag !== undefined && from.flag !== "") return { name: from.flag, source: "flag" };
  if (from.env !== undefined && from.env !== "") return { name: from.env, source: "env" };
  if (configured.includes(from.hostname)) return { name: from.hostname, source: "hostname" };
  const short = from.hostname.split(".")[0];
  if (short !== from.hostname && configured.includes(short)) {
    return { name: short, source: "short hostname" };
  }
  // Nothing matches: the hostname, so that messages say which name was looked for.
  return { name: from.hostname, source: "hostname" };
}

/** This node's identity, reading HASTMON_NODE and the hostname from the system. */
export function identifyThisNode(flag?: string, configured: readonly NodeId[] = []): NodeIdentity {
  return identifyNode(configured, {
    flag,
    env: Deno.env.get("HASTMON_NODE"),
    hostname: Deno.hostname(),
  });
}

/**
 * This node's name: `flag`, else HASTMON_NODE, else the hostname or the short
 * hostname, whichever the `configured` node names contain (exactly).
 */
export function resolveNodeName(flag?: string, configured: readonly NodeId[] = []): NodeId {
  return identifyThisNode(flag, configured).name;
}
