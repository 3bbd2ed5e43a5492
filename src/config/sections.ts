/**
 * Read a parsed TOML document into its sections (global, `[on.N]`,
 * `[resource.R]`, `[resource.R.on.N]`, `[resource.R.member.M]`, `[key]`),
 * checking every key where it is written: is it known, is it allowed at this
 * level, is its value of the right type and range. Inheritance comes later
 * (effective.ts); this module only knows what each section says itself.
 */

import type { TomlTable } from "smol-toml";
import type { NodeId } from "../core/types.ts";
import type { Diagnostics, Pos } from "./diagnostics.ts";
import { resolvePath } from "./paths.ts";
import {
  type CheckContext,
  checkValue,
  describe,
  KEY_ALGORITHMS,
  KEY_BY_NAME,
  KEY_TABLE_KEYS,
  KEYS,
  type Level,
  LEVEL_SYNTAX,
  type Value,
} from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import type { PositionIndex } from "./toml_positions.ts";
import type { KeyConfig, SourceKind } from "./types.ts";

/** A key as written in one section, already checked and converted. */
export interface Entry {
  raw: unknown;
  value: Value;
  /** Position of the key. */
  pos: Pos;
}

/** What one section of the file says by itself. */
export interface Section {
  level: Level;
  kind: SourceKind;
  /** The section as written, e.g. `resource.web.on.alpha`. */
  label: string;
  pos: Pos;
  entries: Map<string, Entry>;
  /** Keys written here whose values were rejected (their errors are already reported). */
  invalid: Set<string>;
  /** The resource this section belongs to, for attributing errors. */
  resource?: string;
}

/** The sections of one resource. Maps iterate in file order. */
export interface ResourceSections {
  name: string;
  section: Section;
  on: Map<NodeId, Section>;
  members: Map<string, Section>;
}

/** The whole file, section by section. */
export interface SectionTree {
  global: Section;
  on: Map<NodeId, Section>;
  resources: ResourceSections[];
  key: KeyConfig | null;
  /** Every node name the file mentions, in file order. */
  nodeNames: NodeId[];
}

/** What reading sections needs besides the document. */
export interface ReadContext extends CheckContext {
  /** Read a key file (`secret_file`, `private_key_file`) as bytes, with its mode. */
  readKeyFile: (path: string) => KeyFile;
}

/** A key file as read: its bytes and permission bits, or why it cannot be used. */
export type KeyFile = { bytes: Uint8Array; mode: number | null } | { error: string };

/** Names of nodes, resources and members: safe in logs, environment variables and argv. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_NAME = 255;

/** Read `doc` into sections, reporting every problem a single section can show. */
export function readSections(
  doc: TomlTable,
  idx: PositionIndex,
  diag: Diagnostics,
  ctx: ReadContext,
): SectionTree {
  return new Reader(idx, diag, ctx).read(doc);
}

/** `resource.web.on."node1.example.com"`: a path as TOML would write it. */
export function formatPath(path: readonly string[]): string {
  return path.map((s) => /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s)).join(".");
}

function isTable(v: unknown): v is TomlTable {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

class Reader {
  constructor(
    private readonly idx: PositionIndex,
    private readonly diag: Diagnostics,
    private readonly ctx: ReadContext,
  ) {}

  read(doc: TomlTable): SectionTree {
    const tree: SectionTree = {
      global: this.section("global", "global", [], undefined),
      on: new Map(),
      resources: [],
      key: null,
      nodeNames: [],
    };
    tree.global.label = "global";
    const nodePaths: string[][] = [];
    for (const name of this.children(doc, [])) {
      const value = doc[name];
      const path = [name];
      if (name === "on") {
        this.eachTable(value, path, "NODE", (node, table, p) => {
          if (!this.checkName(node, p, "node")) return;
          nodePaths.push(p);
          tree.on.set(node, this.readSection("on", "on.N", p, table, undefined));
        });
      } else if (name === "resource") {
        this.eachTable(value, path, "NAME", (res, table, p) => {
          tree.resources.push(this.readResource(res, table, p, nodePaths));
        });
      } else if (name === "key") {
        tree.key = this.readKey(value, path);
      } else {
        this.addKey(tree.global, name, value, path);
      }
    }
    const seen = new Set<string>();
    for (const p of nodePaths.sort((a, b) => this.idx.order(a) - this.idx.order(b))) {
      const node = p[p.length - 1];
      if (!seen.has(node)) tree.nodeNames.push(node), seen.add(node);
    }
    return tree;
  }

  private readResource(
    name: string,
    table: TomlTable,
    path: string[],
    nodePaths: string[][],
  ): ResourceSections {
    this.checkName(name, path, "resource", name);
    if (name === "all") {
      this.diag.error(
        this.idx.keyPos(path),
        `"all" cannot name a resource: \`hastmon ctl role ROLE all\` means every resource`,
        name,
      );
    }
    const res: ResourceSections = {
      name,
      section: this.section("resource", "resource.R", path, name),
      on: new Map(),
      members: new Map(),
    };
    this.fill(res.section, table, path, {
      on: (value, p) => {
        const ok = this.eachTable(value, p, "NODE", (node, t, np) => {
          if (!this.checkName(node, np, "node", name)) return;
          nodePaths.push(np);
          res.on.set(node, this.readSection("resource.on", "resource.R.on.N", np, t, name));
        });
        if (!ok) res.section.invalid.add("on");
      },
      member: (value, p) =>
        this.eachTable(value, p, "M", (member, t, mp) => {
          if (!this.checkName(member, mp, "member", name)) return;
          res.members.set(member, this.readSection("member", "resource.R.member.M", mp, t, name));
        }),
    });
    return res;
  }

  private readSection(
    level: Level,
    kind: SourceKind,
    path: string[],
    table: TomlTable,
    resource: string | undefined,
  ): Section {
    const s = this.section(level, kind, path, resource);
    this.fill(s, table, path, {});
    return s;
  }

  private section(level: Level, kind: SourceKind, path: string[], resource?: string): Section {
    const s: Section = {
      level,
      kind,
      label: formatPath(path),
      pos: path.length === 0 ? { line: 1, col: 1 } : this.idx.keyPos(path),
      entries: new Map(),
      invalid: new Set(),
    };
    if (resource !== undefined) s.resource = resource;
    return s;
  }

  /** Add every key of `table` to `s`; `subsections` handles the nested tables allowed here. */
  private fill(
    s: Section,
    table: TomlTable,
    path: string[],
    subsections: Record<string, (value: unknown, path: string[]) => void>,
  ): void {
    for (const name of this.children(table, path)) {
      const p = [...path, name];
      const sub = subsections[name];
      if (sub) sub(table[name], p);
      else this.addKey(s, name, table[name], p, Object.keys(subsections));
    }
  }

  private addKey(
    s: Section,
    name: string,
    raw: unknown,
    path: string[],
    subsections: string[] = s.level === "global" ? ["on", "resource", "key"] : [],
  ): void {
    const where = s.level === "global" ? "at the top level" : `in [${s.label}]`;
    const spec = KEY_BY_NAME.get(name);
    if (!spec) {
      const misplaced = misplacedSection(name, where);
      const message = misplaced ??
        `unknown key \`${name}\` ${where}${
          didYouMean(name, [...KEYS.map((k) => k.name), ...subsections])
        }`;
      this.diag.error(this.idx.keyPos(path), message, s.resource);
      return;
    }
    if (!spec.levels.includes(s.level)) {
      const allowed = spec.levels.map((l) => levelSyntax(l, s.resource)).join(" or ");
      this.diag.error(
        this.idx.keyPos(path),
        `\`${name}\` cannot be set ${where}: it belongs ${
          spec.levels.length === 1 && spec.levels[0] === "global" ? "at" : "in"
        } ${allowed}`,
        s.resource,
      );
      return;
    }
    const value = checkValue(spec, raw, this.ctx, (message, item) => {
      const at = item === undefined ? path : [...path, String(item)];
      this.diag.error(this.idx.valuePos(at), message, s.resource);
    });
    if (value === undefined) s.invalid.add(name);
    else s.entries.set(name, { raw, value, pos: this.idx.keyPos(path) });
  }

  private readKey(value: unknown, path: string[]): KeyConfig | null {
    if (!this.expectTable(value, path)) return null;
    const pos = this.idx.valuePos(path);
    let ok = true;
    const fail = (p: string[], message: string, atKey = false) => {
      this.diag.error(atKey ? this.idx.keyPos(p) : this.idx.valuePos(p), message);
      ok = false;
    };
    for (const name of this.children(value, path)) {
      if (!(KEY_TABLE_KEYS as readonly string[]).includes(name)) {
        fail(
          [...path, name],
          `unknown key \`${name}\` in [key]${didYouMean(name, KEY_TABLE_KEYS)}`,
          true,
        );
      }
    }
    const algorithm = value.algorithm ?? "hmac-sha256";
    if (typeof algorithm !== "string") {
      fail(
        [...path, "algorithm"],
        `\`algorithm\` must be a string such as "hmac-sha256", not ${describe(algorithm)}`,
      );
    } else if (keyAlgorithm(algorithm) === null) {
      fail(
        [...path, "algorithm"],
        `unknown key algorithm ${JSON.stringify(algorithm)}: write "${
          KEY_ALGORITHMS[0]
        }" (the original's "SHA256" means the same)`,
      );
    }
    const has = (k: string) => Object.hasOwn(value, k);
    let secret: Uint8Array | null = null;
    let secretFile: string | null = null;
    if (has("secret") && has("secret_file")) {
      const [, second] = ["secret", "secret_file"].sort((a, b) =>
        this.idx.order([...path, a]) - this.idx.order([...path, b])
      );
      fail([...path, second], "`secret` and `secret_file` are mutually exclusive: keep one", true);
    } else if (has("secret")) {
      if (typeof value.secret !== "string" || value.secret === "") {
        fail(
          [...path, "secret"],
          `\`secret\` must be a non-empty string, not ${describe(value.secret)}`,
        );
      } else secret = new TextEncoder().encode(value.secret);
    } else if (has("secret_file")) {
      const p = [...path, "secret_file"];
      if (typeof value.secret_file !== "string" || value.secret_file === "") {
        fail(p, `\`secret_file\` must be a path, not ${describe(value.secret_file)}`);
      } else {
        secretFile = resolvePath(this.ctx.baseDir, value.secret_file);
        const file = readPrivateFile(this.ctx, secretFile, "secret_file");
        if ("error" in file) fail(p, file.error);
        else if ((secret = trimTextNewline(file.bytes)).length === 0) {
          fail(p, `secret_file "${secretFile}" is empty`);
        }
      }
    } else {
      fail(path, "[key] needs `secret` or `secret_file`");
    }
    if (!ok || secret === null) return null;
    if (secret.length < 16) {
      this.diag.warn(
        pos,
        `the key's secret is short (${secret.length} bytes): use at least 16 random bytes ` +
          `(head -c 32 /dev/urandom > FILE; chmod 600 FILE)`,
      );
    }
    return { algorithm: "hmac-sha256", secret, secretFile, pos };
  }

  /** Call `each` for every table inside `value`; false when `value` is not a table of tables. */
  private eachTable(
    value: unknown,
    path: string[],
    placeholder: string,
    each: (name: string, table: TomlTable, path: string[]) => void,
  ): boolean {
    if (!this.expectTable(value, path, `${formatPath(path)}.${placeholder}`)) return false;
    for (const name of this.children(value, path)) {
      const p = [...path, name];
      if (this.expectTable(value[name], p)) each(name, value[name] as TomlTable, p);
    }
    return true;
  }

  private expectTable(
    value: unknown,
    path: string[],
    header = formatPath(path),
  ): value is TomlTable {
    if (isTable(value)) return true;
    const resource = path[0] === "resource" && path.length > 1 ? path[1] : undefined;
    this.diag.error(
      this.idx.valuePos(path),
      `\`${formatPath(path)}\` must be a table ([${header}]), not ${describe(value)}`,
      resource,
    );
    return false;
  }

  private checkName(name: string, path: string[], what: string, resource?: string): boolean {
    if (NAME.test(name) && name.length <= MAX_NAME) return true;
    this.diag.error(
      this.idx.keyPos(path),
      `bad ${what} name ${JSON.stringify(name)}: use up to ${MAX_NAME} letters, digits, ` +
        `'.', '-' and '_', starting with a letter or digit`,
      resource,
    );
    return false;
  }

  /** Keys of `table` in file order (JS objects put integer-like keys first). */
  private children(table: TomlTable, path: string[]): string[] {
    return Object.keys(table).sort((a, b) =>
      this.idx.order([...path, a]) - this.idx.order([...path, b])
    );
  }
}

/** `[resource.web.on.NODE]` for a level, with the resource's name when known. */
function levelSyntax(level: Level, resource?: string): string {
  const syntax = LEVEL_SYNTAX[level];
  return resource === undefined ? syntax : syntax.replace("NAME", formatPath([resource]));
}

/** A section name written where it cannot be: say where it goes. */
function misplacedSection(name: string, where: string): string | null {
  switch (name) {
    case "on":
      return `\`on\` cannot appear ${where}: node sections are [on.NODE] and ` +
        `[resource.NAME.on.NODE]`;
    case "resource":
      return `\`resource\` cannot appear ${where}: write [resource.NAME] at the top level`;
    case "member":
      return `\`member\` cannot appear ${where}: write [resource.NAME.member.M]`;
    case "key":
      return `\`key\` cannot appear ${where}: the key is global, write [key] at the top level`;
  }
  return null;
}

/**
 * A key file that only its owner may read: anything open to group or others
 * is refused, naming the file and the fix.
 */
export function readPrivateFile(ctx: ReadContext, path: string, key: string): KeyFile {
  const file = ctx.readKeyFile(path);
  if ("error" in file) return { error: `cannot read ${key} "${path}": ${file.error}` };
  if (file.mode !== null && (file.mode & 0o077) !== 0) {
    const mode = (file.mode & 0o777).toString(8).padStart(3, "0");
    return {
      error: `${key} "${path}" is open to group or others (mode ${mode}): ` +
        `run chmod 600 "${path}"`,
    };
  }
  return file;
}

/**
 * A secret file's bytes: a text secret (`echo secret > file`) loses its line
 * end, a binary one is kept byte for byte.
 */
export function trimTextNewline(bytes: Uint8Array): Uint8Array {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes;
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0009\u000b\u000c\u000e-\u001f]/.test(text)) return bytes;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.slice(0, end);
}

/**
 * The algorithm `name` stands for, or null: hmac-sha256 in any case, and
 * "SHA256", the original hastmon's spelling, which files carried over by hand
 * keep. Either way the key is used for HMAC-SHA-256 challenge-response.
 */
export function keyAlgorithm(name: string): typeof KEY_ALGORITHMS[number] | null {
  const n = name.toLowerCase();
  return n === "hmac-sha256" || n === "sha256" ? "hmac-sha256" : null;
}
