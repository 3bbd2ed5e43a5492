/**
 * hastmon.conf → hastmon.toml. The output means what the original meant on
 * every host (where that can be expressed), and says in `# NOTE:` comments
 * where the original behaved differently from what its text suggests: a
 * global exec that never helps, top-level `on` settings that were ignored,
 * resource-level friends that were global, later statements overriding a
 * node's own, hostname prefix matching, equal priorities, keys.
 */

import { formatPath } from "../sections.ts";
import type { Token } from "./lexer.ts";
import {
  type KeyBlock,
  type LegacyConfig,
  LegacyConfigError,
  type NodeBlock,
  parseLegacy,
  type ResourceBlock,
  type Stmt,
} from "./parser.ts";
import { allStmts, lastStmt, LEGACY_DEFAULTS } from "./semantics.ts";

/** The converted file and how many differences it notes. */
export interface ConvertResult {
  toml: string;
  notes: number;
  /**
   * Nodes made watchdogs (`role_on_start = "watchdog"`) that the original
   * started in init and made watchdogs only when told at run time, by resource.
   */
  watchdogs: Record<string, string>;
}

/** Fields a resource and its `on` blocks both write; later statements win in the original. */
const ORDERED_FIELDS = [
  "attempts",
  "heartbeat_interval",
  "complaint_count",
  "complaint_interval",
  "role_on_start",
  "exec",
] as const;

/** Width of the output's comment lines. */
const WIDTH = 96;

const DURATIONS = new Set(["timeout", "heartbeat_interval", "complaint_interval"]);

/** Convert the hastmon.conf text `text` (named `file` in comments). Throws LegacyConfigError. */
export function convertLegacy(text: string, file: string): ConvertResult {
  const cfg = parseLegacy(text);
  checkDuplicateResources(cfg);
  return new Writer(cfg, file).write();
}

function checkDuplicateResources(cfg: LegacyConfig): void {
  const seen = new Map<string, ResourceBlock>();
  for (const r of cfg.resources) {
    const first = seen.get(r.name);
    if (first) {
      throw new LegacyConfigError(
        `duplicate resource ${r.name} (first defined at line ${first.line})`,
        r.line,
        r.col,
      );
    }
    seen.set(r.name, r);
  }
}

/** Blocks with the same name merged, in order of first appearance. */
function mergeByName(blocks: readonly NodeBlock[]): Map<string, NodeBlock[]> {
  const out = new Map<string, NodeBlock[]>();
  for (const b of blocks) out.set(b.name, [...(out.get(b.name) ?? []), b]);
  return out;
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

function tomlValue(stmt: Stmt): string {
  const v = stmt.values[0];
  return v.kind === "num" ? v.text : tomlString(v.text);
}

function tomlList(items: readonly string[]): string {
  return `[${items.map(tomlString).join(", ")}]`;
}

function texts(tokens: readonly Token[]): string[] {
  return tokens.map((t) => t.text);
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

class Writer {
  private lines: string[] = [];
  private notes = 0;
  private watchdogs: Record<string, string> = {};

  constructor(private readonly cfg: LegacyConfig, private readonly file: string) {}

  write(): ConvertResult {
    this.header();
    this.globals();
    this.key();
    for (const [name, blocks] of mergeByName(this.cfg.nodes)) this.topNode(name, blocks);
    for (const r of this.cfg.resources) this.resource(r);
    while (this.lines[this.lines.length - 1] === "") this.lines.pop();
    return { toml: this.lines.join("\n") + "\n", notes: this.notes, watchdogs: this.watchdogs };
  }

  /** Add a line; never two blank lines in a row. */
  private line(s = ""): void {
    if (s === "" && this.lines[this.lines.length - 1] === "") return;
    this.lines.push(s);
  }

  /** A `# NOTE:` comment, wrapped to fit the line width. */
  private note(text: string): void {
    this.notes++;
    let line = "# NOTE:";
    for (const word of text.split(" ")) {
      if (line.length + 1 + word.length > WIDTH && !line.endsWith(":")) {
        this.line(line);
        line = "#  ";
      }
      line += " " + word;
    }
    this.line(line);
  }

  /** A statement's value under `key`, with a note when the original would refuse or misuse it. */
  private setting(key: string, stmt: Stmt): void {
    const v = stmt.values[0];
    if (
      v.kind === "num" && Number(v.text) === 0 &&
      (DURATIONS.has(key) || key === "complaint_count" || key === "attempts")
    ) {
      this.note(
        `${key} 0 (line ${stmt.line}) was accepted by the original (its loops spin); it must be > 0 now`,
      );
    }
    this.line(`${key} = ${tomlValue(stmt)}`);
  }

  private header(): void {
    this.line(`# Converted by \`hastmon config convert\` from`);
    this.line(`#   ${this.file}`);
    this.line(`# "NOTE" comments mark where the original behaved differently; read them, then run`);
    this.line(
      `# \`hastmon config check\`. Line numbers refer to the original file, counted from 1`,
    );
    this.line(`# (the original's own error messages counted lines from 0).`);
    this.line(
      `# Node names now match exactly: the full hostname, or the short hostname. The original`,
    );
    this.line(
      `# also applied an \`on NAME\` block whose NAME merely starts with the host's short name`,
    );
    this.line(`# (host node1.example.com took \`on node10\`).`);
    this.line(
      `# Defaults are the original code's: attempts 5 (its man page said 3), complaint_count 3`,
    );
    this.line(
      `# (its man page said 5); new settings (stop_timeout, clock_skew, …) keep hastmon's defaults.`,
    );
    const skipped = this.cfg.skipped;
    if (skipped.length > 0) {
      const chars = unique(skipped.map((s) => s.text)).map((c) => `\`${c}\``).join(" ");
      this.note(
        `the original silently skipped the characters ${chars} (first at line ${
          skipped[0].line
        }, ` +
          `column ${skipped[0].col}); they are dropped here too`,
      );
    }
    this.line();
  }

  private globals(): void {
    const g = this.cfg.globals;
    for (
      const key of [
        "control",
        "listen",
        "timeout",
        "heartbeat_interval",
        "complaint_count",
        "complaint_interval",
        "role_on_start",
      ]
    ) {
      const s = lastStmt(g, key);
      if (s) this.setting(key, s);
    }
    const attempts = lastStmt(g, "attempts");
    if (attempts) {
      this.note(
        `the original parsed a global attempts (line ${attempts.line}) and never used it: every ` +
          `resource kept ${LEGACY_DEFAULTS.attempts} unless it set its own`,
      );
      this.line(`# attempts = ${tomlValue(attempts)}`);
    }
    const exec = lastStmt(g, "exec");
    if (exec) {
      this.note(
        `the original required every resource to have its own exec, so this global exec ` +
          `(line ${exec.line}) never applied; here it would be inherited`,
      );
      this.line(`# exec = ${tomlValue(exec)}`);
    }
    const friends = this.globalFriends();
    if (friends.fromElsewhere.length > 0) {
      this.note(
        `the original made every friends list outside a resource's on block global: this list ` +
          `includes those at lines ${friends.fromElsewhere.join(", ")}`,
      );
    }
    if (friends.list.length > 0) this.line(`friends = ${tomlList(friends.list)}`);
    this.line();
  }

  /** The original's single global friends list, and the lines that fed it from inside blocks. */
  private globalFriends(): { list: string[]; fromElsewhere: number[] } {
    const stmts = [
      ...this.cfg.globals,
      ...allStmts(this.cfg.nodes),
      ...this.cfg.resources.flatMap((r) => r.stmts),
    ].filter((s) => s.keyword === "friends").sort((a, b) => a.seq - b.seq);
    const topLevel = new Set(this.cfg.globals);
    return {
      list: unique(stmts.flatMap((s) => texts(s.values))),
      fromElsewhere: stmts.filter((s) => !topLevel.has(s)).map((s) => s.line),
    };
  }

  private key(): void {
    const global = keyOf(this.cfg.keys);
    const perResource = this.cfg.resources.filter((r) => r.keys.length > 0)
      .map((r) => ({ r, key: keyOf(r.keys)! }));
    if (global) {
      this.keyTable(global, false, `line ${this.cfg.keys[0].line}`);
    } else if (
      perResource.length === this.cfg.resources.length && perResource.length > 0 &&
      perResource.every((p) => p.key.secret !== null && p.key.secret === perResource[0].key.secret)
    ) {
      this.note("every resource had the same key: it becomes the one key of the node");
      this.keyTable(perResource[0].key, false, `resource ${perResource[0].r.name}`);
      return;
    }
    for (const { r, key } of perResource) {
      this.note(
        `resource ${r.name} had its own key (line ${r.keys[0].line}); there is one [key] per ` +
          `node now, so it is left out`,
      );
      this.keyTable(key, true, `resource ${r.name}`);
    }
  }

  /** A [key] table, commented out when it is left out or cannot be used. */
  private keyTable(key: LegacyKey, commented: boolean, where: string): void {
    if (key.algorithm === null || key.secret === null) {
      this.note(
        `the key at ${where} has no ${key.algorithm === null ? "algorithm" : "secret"}, so the ` +
          `original did not authenticate with it; left out`,
      );
      commented = true;
    } else if (!commented) {
      this.note(
        `the original hashed time, addresses and secret with ${key.algorithm} (no challenge); ` +
          `hastmon uses HMAC-SHA-256 challenge-response: upgrade every node together`,
      );
    }
    const prefix = commented ? "# " : "";
    this.line(`${prefix}[key]`);
    this.line(`${prefix}algorithm = "hmac-sha256"`);
    if (key.secret !== null) this.line(`${prefix}secret = ${tomlString(key.secret)}`);
    this.line();
  }

  private topNode(name: string, blocks: NodeBlock[]): void {
    this.line(`[${formatPath(["on", name])}]`);
    this.mergedNote(name, blocks);
    this.prefixNote(name);
    const stmts = allStmts(blocks);
    for (const key of ["control", "listen"]) {
      const s = lastStmt(stmts, key);
      if (s) this.setting(key, s);
    }
    for (const s of stmts.filter((x) => !["control", "listen", "friends"].includes(x.keyword))) {
      const why = s.keyword === "priority"
        ? "the original aborted (assertion) on priority in a top-level on block; set it per resource"
        : `the original ignored ${s.keyword} in a top-level on block`;
      this.note(`${why} (line ${s.line})`);
      this.line(`# ${s.keyword} = ${tomlValue(s)}`);
    }
    for (const s of stmts.filter((x) => x.keyword === "friends")) {
      this.note(
        `friends at line ${s.line} were global in the original: moved to the top-level friends`,
      );
    }
    this.line();
  }

  private resource(r: ResourceBlock): void {
    this.line(`[${formatPath(["resource", r.name])}]`);
    const watchdog = this.watchdogOf(r);
    for (const key of ["timeout", ...ORDERED_FIELDS]) {
      const s = lastStmt(r.stmts, key);
      if (s) this.setting(key, s);
    }
    for (const s of r.stmts.filter((x) => x.keyword === "friends")) {
      this.note(
        `friends at line ${s.line} were global in the original (every resource accepted them): ` +
          `moved to the top-level friends`,
      );
    }
    const nodes = mergeByName(r.nodes);
    if (nodes.size === 0) {
      this.note(`resource ${r.name} has no on blocks: the original refused it too`);
    }
    this.line();
    const priorities = new Map<number, string>();
    for (const [name, blocks] of nodes) {
      this.resourceNode(r, name, blocks, priorities, name === watchdog);
    }
  }

  /** The role a node of `r` starts in, as the original read it (later statements win). */
  private roleOnStart(r: ResourceBlock, blocks: NodeBlock[]): string {
    return lastStmt([...r.stmts, ...allStmts(blocks)], "role_on_start")?.values[0].text ??
      lastStmt(this.cfg.globals, "role_on_start")?.values[0].text ?? LEGACY_DEFAULTS.role_on_start;
  }

  /**
   * Which node of `r` is its watchdog. The original set roles at run time
   * (`hastmonctl role watchdog`), so the file may not say; here the timing
   * rule and failover need to know. A node whose `remote` lists every other
   * node is the usual sign: it is taken, with a NOTE; otherwise a NOTE says
   * that it cannot be told. Returns the node taken, or null (none taken, or
   * the file names its watchdog itself).
   */
  private watchdogOf(r: ResourceBlock): string | null {
    const nodes = mergeByName(r.nodes);
    const names = [...nodes.keys()];
    if (names.length < 2) return null;
    if (names.some((n) => this.roleOnStart(r, nodes.get(n)!) === "watchdog")) return null;
    if (names.length === 2) {
      this.note(
        `no node of resource ${r.name} starts as watchdog, and with two nodes neither can be ` +
          `one: without a watchdog there is no automatic failover (as in the original); add a ` +
          `third node with role_on_start = "watchdog"`,
      );
      return null;
    }
    const remotes = (n: string) =>
      unique(
        allStmts(nodes.get(n)!).filter((s) => s.keyword === "remote").flatMap((s) =>
          texts(s.values)
        ),
      ).filter((a) => a !== "none");
    const full = names.filter((n) => remotes(n).length >= names.length - 1);
    const eligible = full.length === 1 &&
      !["primary", "secondary"].includes(this.roleOnStart(r, nodes.get(full[0])!));
    if (eligible) {
      this.watchdogs[r.name] = full[0];
      return full[0];
    }
    const why = full.length === 0
      ? "no node's remote lists every other node (the usual sign of the watchdog)"
      : full.length === 1
      ? `${full[0]} lists every other node (the usual sign) but starts as ${
        this.roleOnStart(r, nodes.get(full[0])!)
      }`
      : `${full.join(" and ")} each list every other node (the usual sign of the watchdog)`;
    this.note(
      `the original set roles at run time, and which node of resource ${r.name} is its ` +
        `watchdog cannot be told from this file: ${why}. Every node is a possible primary ` +
        `here, and there is no automatic failover without a watchdog: set role_on_start = ` +
        `"watchdog" in the watchdog's [resource.${r.name}.on.NODE]`,
    );
    return null;
  }

  private resourceNode(
    r: ResourceBlock,
    name: string,
    blocks: NodeBlock[],
    priorities: Map<number, string>,
    takenAsWatchdog: boolean,
  ): void {
    this.line(`[${formatPath(["resource", r.name, "on", name])}]`);
    this.mergedNote(name, blocks);
    this.prefixNote(name);
    const stmts = allStmts(blocks);
    for (const key of ORDERED_FIELDS) {
      const mine = lastStmt(stmts, key);
      if (!mine) continue;
      const later = lastStmt(r.stmts, key);
      if (later && later.seq > mine.seq) {
        this.note(
          `overridden in the original by the resource's later ${key} at line ${later.line} ` +
            `(statements inside a resource applied in file order)`,
        );
        this.line(`# ${key} = ${tomlValue(mine)}`);
      } else {
        this.setting(key, mine);
      }
    }
    if (takenAsWatchdog) {
      this.note(
        `the original set roles at run time (hastmonctl role); ${name} lists every other node ` +
          `of resource ${r.name} in remote, the usual sign of its watchdog, so it starts as ` +
          `watchdog here (the original started it in init). Change it if that is wrong`,
      );
      this.line(`role_on_start = "watchdog"`);
    }
    const priority = lastStmt(stmts, "priority");
    if (priority) this.setting("priority", priority);
    const role = takenAsWatchdog ? "watchdog" : this.roleOnStart(r, blocks);
    if (role !== "watchdog") {
      const p = priority ? Number(priority.values[0].text) : LEGACY_DEFAULTS.priority;
      const other = priorities.get(p);
      if (other !== undefined) {
        this.note(
          `${other} and ${name} both have priority ${p}; when both were primary the original made ` +
            `both step down. Equal priorities are refused now: give each node its own`,
        );
      } else priorities.set(p, name);
    }
    this.remote(stmts);
    const friends = stmts.filter((s) => s.keyword === "friends").flatMap((s) => texts(s.values));
    if (friends.length > 0) {
      const global = this.globalFriends().list;
      if (global.length > 0) {
        this.note("this list also holds the global friends: here it replaces the inherited list");
      }
      this.line(`friends = ${tomlList(unique([...global, ...friends]))}`);
    }
    this.line();
  }

  private remote(stmts: Stmt[]): void {
    const remote = stmts.filter((s) => s.keyword === "remote").flatMap((s) => texts(s.values));
    if (remote.length === 0) {
      this.note('no remote: the original refused this on its own host; list peers or write "none"');
    } else if (remote.every((a) => a === "none")) {
      this.line(`remote = "none"`);
    } else {
      if (remote.includes("none")) {
        this.note(`"none" next to addresses meant an unreachable peer in the original; dropped`);
      }
      this.line(`remote = ${tomlList(remote.filter((a) => a !== "none"))}`);
    }
  }

  private mergedNote(name: string, blocks: NodeBlock[]): void {
    if (blocks.length > 1) {
      this.note(
        `the original applied every \`on ${name}\` block here (lines ${
          blocks.map((b) => b.line).join(", ")
        }); merged`,
      );
    }
  }

  /** Warn where the original's prefix match would have claimed this block for another host. */
  private prefixNote(name: string): void {
    const names = unique(
      [...this.cfg.nodes, ...this.cfg.resources.flatMap((r) => r.nodes)].map((b) => b.name),
    );
    const claimers = names.filter((n) => n !== name && !n.includes(".") && name.startsWith(n));
    if (claimers.length > 0) {
      this.note(
        `the original also applied this block on host ${
          claimers.map((c) => `${c}.<domain>`).join(", ")
        } ` +
          `(prefix match); now it applies only on ${name}`,
      );
    }
  }
}

interface LegacyKey {
  algorithm: string | null;
  secret: string | null;
}

function keyOf(blocks: readonly KeyBlock[]): LegacyKey | null {
  if (blocks.length === 0) return null;
  const stmts = allStmts(blocks);
  return {
    algorithm: lastStmt(stmts, "algorithm")?.values[0].text ?? null,
    secret: lastStmt(stmts, "secret")?.values[0].text ?? null,
  };
}
