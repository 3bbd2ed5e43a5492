/** loadConfig: the configuration file as this node sees it. */

import { parse } from "smol-toml";
import type { NodeId } from "../core/types.ts";
import { identifyThisNode } from "./node_identity.ts";
import { parseConfig } from "./parse.ts";
import { dirname, resolvePath } from "./paths.ts";
import type { LoadResult } from "./types.ts";

/** Where the configuration is when nobody says: $HASTMON_CONFIG, else this. */
export const DEFAULT_CONFIG_PATH = "/usr/local/etc/hastmon.toml";

/** The file could not be read at all (exit 66 in the CLI). */
export class ConfigFileError extends Error {}

/** The configuration path to use: `flag`, else $HASTMON_CONFIG, else the default. */
export function configPath(flag?: string): string {
  return flag ?? (Deno.env.get("HASTMON_CONFIG") || DEFAULT_CONFIG_PATH);
}

/**
 * Read and check the configuration at `path` for this node: `opts.node`, else
 * HASTMON_NODE, else the hostname or short hostname the file names.
 * Throws ConfigFileError when the file cannot be read.
 */
export async function loadConfig(path: string, opts: { node?: string } = {}): Promise<LoadResult> {
  let text: string;
  let fileMode: number | null = null;
  try {
    text = await Deno.readTextFile(path);
    fileMode = (await Deno.stat(path)).mode;
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new ConfigFileError(`cannot read ${path}: ${why}`);
  }
  const me = identifyThisNode(opts.node, configuredNodeNames(text));
  return parseConfig(text, path, {
    node: me.name,
    nodeSource: me.source,
    baseDir: resolvePath(Deno.cwd(), dirname(path)),
    fileMode,
  });
}

/** Node names the text mentions (`[on.N]`, `[resource.R.on.N]`); none if it is not valid TOML. */
export function configuredNodeNames(text: string): NodeId[] {
  const names = new Set<NodeId>();
  const tableKeys = (v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.keys(v) : [];
  try {
    const doc = parse(text);
    for (const n of tableKeys(doc.on)) names.add(n);
    for (const r of tableKeys(doc.resource)) {
      for (const n of tableKeys((doc.resource as Record<string, Record<string, unknown>>)[r].on)) {
        names.add(n);
      }
    }
  } catch {
    // A syntax error is reported by parseConfig; no names to match meanwhile.
  }
  return [...names];
}
