/**
 * parseConfig: text in, effective configuration and every diagnostic out.
 * Synchronous, and touches nothing but `readFile` (for `secret_file`).
 */

import { parse, TomlError } from "smol-toml";
import type { NodeId } from "../core/types.ts";
import { checkResource, checkTiming, timingInputsValid } from "./checks.ts";
import { byPosition, Diagnostics } from "./diagnostics.ts";
import { nodeConfig, resourceNodeConfig } from "./effective.ts";
import { dirname } from "./paths.ts";
import { peerIdentity } from "./identity.ts";
import {
  type KeyFile,
  type ReadContext,
  readSections,
  type ResourceSections,
  type SectionTree,
} from "./sections.ts";
import { scanPositions } from "./toml_positions.ts";
import type { EffectiveConfig, LoadResult, NodeSource, ResourceConfig } from "./types.ts";

/** Options of parseConfig. */
export interface ParseOptions {
  /** This node's name (see node_identity.ts). */
  node: NodeId;
  /** How the name was chosen, for messages. Default "given". */
  nodeSource?: NodeSource;
  /** Read a key file's bytes and mode. Default: the real file system. */
  readKeyFile?: (path: string) => KeyFile;
  /** The configuration file's permission bits, when known: an inline secret in a file others may read is a warning. */
  fileMode?: number | null;
  /** Relative paths in the file are relative to this. Default: the file's directory. */
  baseDir?: string;
}

/** Read a key file's bytes and mode from the file system. The default `readKeyFile`. */
export function readKeyFileFromDisk(path: string): KeyFile {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return { error: "not a regular file" };
    return { bytes: Deno.readFileSync(path), mode: info.mode };
  } catch (e) {
    return { error: e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message };
  }
}

/**
 * Parse and check the configuration `text` (named `file` in messages) as node
 * `opts.node` sees it. Every error is reported at once; errors attributed to a
 * resource leave the other resources usable.
 */
export function parseConfig(text: string, file: string, opts: ParseOptions): LoadResult {
  const diag = new Diagnostics(file);
  let doc;
  try {
    doc = parse(text);
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    const said = reason.startsWith("trying to redefine") ? redefinition(text, e.line) : null;
    diag.error({ line: e.line, col: e.column }, `invalid TOML: ${said ?? reason}`);
    return { errors: diag.errors, warnings: [], config: null };
  }
  const ctx: ReadContext = {
    baseDir: opts.baseDir ?? dirname(file),
    readKeyFile: opts.readKeyFile ?? readKeyFileFromDisk,
  };
  const tree = readSections(doc, scanPositions(text), diag, ctx);
  const self = { node: opts.node, source: opts.nodeSource ?? "given" };
  const nodes = tree.nodeNames.map((n) => nodeConfig(tree, n, ctx));
  const resources = tree.resources.map((res) => buildResource(tree, res, self, ctx, diag));
  if (resources.length === 0) diag.warn({ line: 1, col: 1 }, "the file configures no resources");
  const global = nodes.find((n) => n.node === opts.node) ?? nodeConfig(tree, opts.node, ctx);
  const peers = peerIdentity(tree, nodes, global, resources, opts.node, ctx, diag);
  if (
    tree.key && tree.key.secretFile === null && opts.fileMode != null && (opts.fileMode & 0o004)
  ) {
    diag.warn(
      tree.key.pos,
      `${file} is readable by others and holds the shared secret inline: ` +
        `move it to a secret_file (chmod 600), or chmod o-r the configuration`,
    );
  }
  const errors = diag.errors.sort(byPosition);
  const warnings = diag.warnings.sort(byPosition);
  for (const r of resources) {
    r.errors = errors.filter((e) => e.resource === r.name);
    r.warnings = warnings.filter((w) => w.resource === r.name);
  }
  const config: EffectiveConfig = {
    file,
    node: opts.node,
    nodeSource: self.source,
    global,
    nodes,
    key: tree.key,
    peers,
    resources,
  };
  return { errors, warnings, config };
}

function buildResource(
  tree: SectionTree,
  res: ResourceSections,
  self: { node: NodeId; source: NodeSource },
  ctx: ReadContext,
  diag: Diagnostics,
): ResourceConfig {
  const nodes = [...res.on.keys()].map((n) => resourceNodeConfig(tree, res, n, ctx));
  checkResource(tree, res, nodes, self, diag);
  const timelines = nodes.length > 0 && timingInputsValid(tree, res)
    ? checkTiming(res, nodes, diag)
    : [];
  return {
    name: res.name,
    pos: res.section.pos,
    nodes,
    self: nodes.find((n) => n.node === self.node) ?? null,
    timelines,
    errors: [],
    warnings: [],
  };
}

const HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]/;
const KEY = /^\s*([A-Za-z0-9_.-]+|"[^"]*")\s*=/;

/**
 * smol-toml's "trying to redefine an already defined table or value" at
 * `line`, said with the name at fault and where it first appeared: a section
 * written twice (`[on.alpha]` copied for beta and not renamed) or a key set
 * twice in one section. Null when the line is neither form.
 */
function redefinition(text: string, line: number): string | null {
  const lines = text.split("\n");
  const at = lines[line - 1] ?? "";
  const name = (l: string) => l.match(HEADER)?.[1].replace(/\s+/g, "");
  const header = name(at);
  if (header !== undefined) {
    const first = lines.findIndex((l, i) => i < line - 1 && name(l) === header);
    return `[${header}] is written twice` + (first >= 0 ? ` (first at line ${first + 1})` : "") +
      `: put its keys in one section`;
  }
  const key = at.match(KEY)?.[1];
  if (key === undefined) return null;
  for (let i = line - 2; i >= 0; i--) {
    const section = name(lines[i]);
    if (section !== undefined) {
      const first = lines.slice(i + 1, line - 1).findIndex((l) => l.match(KEY)?.[1] === key);
      if (first >= 0) {
        return `\`${key}\` is set twice in [${section}] (first at line ${i + first + 2}): keep one`;
      }
      break;
    }
    if (i === 0) {
      const first = lines.slice(0, line - 1).findIndex((l) => l.match(KEY)?.[1] === key);
      if (first >= 0) {
        return `\`${key}\` is set twice at the top level (first at line ${first + 1}): keep one`;
      }
    }
  }
  return `\`${key}\` is already defined, by a section or a dotted key of the same name`;
}
