/**
 * The grammar of the original hastmon.conf (hastmon-behaviour.md §8.2) as a
 * recursive-descent parser. It keeps every statement with its position and
 * file order, because the original's meaning depends on order (later
 * statements win inside a resource) and on context (the same word does
 * different things at different depths); semantics.ts and convert.ts read it.
 */

import { type LegacyKeyword, lexLegacy, type Skipped, type Token } from "./lexer.ts";

/** One statement: a keyword and its values (lists may be empty). */
export interface Stmt {
  keyword: LegacyKeyword;
  values: Token[];
  line: number;
  col: number;
  /** Position in the file, for "later wins". */
  seq: number;
}

/** An `on NAME { … }` block. */
export interface NodeBlock {
  name: string;
  line: number;
  col: number;
  stmts: Stmt[];
}

/** A `key { … }` block. */
export interface KeyBlock {
  line: number;
  col: number;
  stmts: Stmt[];
}

/** A `resource NAME { … }` block. */
export interface ResourceBlock {
  name: string;
  line: number;
  col: number;
  stmts: Stmt[];
  keys: KeyBlock[];
  nodes: NodeBlock[];
}

/** The whole file, statement by statement, in file order within each list. */
export interface LegacyConfig {
  globals: Stmt[];
  keys: KeyBlock[];
  nodes: NodeBlock[];
  resources: ResourceBlock[];
  /** Characters the original skips silently (quotes, semicolons, …). */
  skipped: Skipped[];
}

/** An error in a hastmon.conf (syntax, or a duplicate resource), with a 1-based position. */
export class LegacyConfigError extends Error {
  constructor(message: string, readonly line: number, readonly col: number) {
    super(message);
  }
}

type Context = "global" | "node" | "resource" | "resnode";

const ALLOWED: Record<Context, readonly LegacyKeyword[]> = {
  global: [
    "control",
    "listen",
    "timeout",
    "attempts",
    "friends",
    "heartbeat_interval",
    "key",
    "complaint_count",
    "complaint_interval",
    "role_on_start",
    "exec",
    "on",
    "resource",
  ],
  node: [
    "control",
    "listen",
    "attempts",
    "friends",
    "priority",
    "heartbeat_interval",
    "complaint_count",
    "complaint_interval",
    "role_on_start",
  ],
  resource: [
    "timeout",
    "attempts",
    "friends",
    "heartbeat_interval",
    "key",
    "complaint_count",
    "complaint_interval",
    "role_on_start",
    "exec",
    "on",
  ],
  resnode: [
    "attempts",
    "friends",
    "remote",
    "priority",
    "heartbeat_interval",
    "complaint_count",
    "complaint_interval",
    "exec",
    "role_on_start",
  ],
};

const CONTEXT_NAME: Record<Context, string> = {
  global: "at the top level",
  node: "in a top-level on block",
  resource: "in a resource block",
  resnode: "in an on block of a resource",
};

const NUMERIC = new Set<string>([
  "timeout",
  "attempts",
  "priority",
  "heartbeat_interval",
  "complaint_count",
  "complaint_interval",
]);
const STRING = new Set<string>(["control", "listen", "exec"]);
const LIST = new Set<string>(["friends", "remote"]);
const ROLES = new Set(["init", "primary", "secondary", "watchdog"]);

/** Parse the text of a hastmon.conf. Throws LegacyConfigError at the first error. */
export function parseLegacy(text: string): LegacyConfig {
  const { tokens, skipped } = lexLegacy(text);
  const p = new Parser(tokens);
  const config: LegacyConfig = { globals: [], keys: [], nodes: [], resources: [], skipped };
  while (p.peek().kind !== "eof") {
    const t = p.keyword("global");
    if (t.text === "on") config.nodes.push(p.nodeBlock("node"));
    else if (t.text === "resource") config.resources.push(p.resourceBlock());
    else if (t.text === "key") config.keys.push(p.keyBlock());
    else config.globals.push(p.statement());
  }
  return config;
}

function describe(t: Token): string {
  switch (t.kind) {
    case "keyword":
      return `keyword \`${t.text}\``;
    case "num":
      return `number ${t.text}`;
    case "str":
      return `"${t.text}"`;
    case "eof":
      return "end of file";
    default:
      return `\`${t.text}\``;
  }
}

class Parser {
  private i = 0;
  private seq = 0;

  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== "eof") this.i++;
    return t;
  }

  private fail(t: Token, message: string): never {
    throw new LegacyConfigError(`syntax error: ${message}`, t.line, t.col);
  }

  private expect(kind: Token["kind"], what: string): Token {
    const t = this.peek();
    if (t.kind !== kind) this.fail(t, `unexpected ${describe(t)}, expected ${what}`);
    return this.next();
  }

  /** The keyword that starts the next statement in `context` (not consumed). */
  keyword(context: Context): Token {
    const t = this.peek();
    if (t.kind !== "keyword") {
      this.fail(t, `unexpected ${describe(t)}, expected a statement ${CONTEXT_NAME[context]}`);
    }
    if (t.text === "port") {
      this.fail(
        t,
        "`port` is reserved and has no rule (write the port in listen or remote, HOST:PORT)",
      );
    }
    if (!(ALLOWED[context] as readonly string[]).includes(t.text)) {
      this.fail(t, `\`${t.text}\` is not allowed ${CONTEXT_NAME[context]}`);
    }
    return t;
  }

  /** A simple statement: keyword and its value(s). */
  statement(): Stmt {
    const kw = this.next();
    const stmt: Stmt = {
      keyword: kw.text as LegacyKeyword,
      values: [],
      line: kw.line,
      col: kw.col,
      seq: this.seq++,
    };
    if (NUMERIC.has(kw.text)) stmt.values.push(this.expect("num", `a number after ${kw.text}`));
    else if (STRING.has(kw.text)) stmt.values.push(this.expect("str", `a value after ${kw.text}`));
    else if (LIST.has(kw.text)) {
      while (this.peek().kind === "str") stmt.values.push(this.next());
    } else if (kw.text === "role_on_start") {
      const t = this.peek();
      if (t.kind !== "keyword" || !ROLES.has(t.text)) {
        this.fail(t, `unexpected ${describe(t)}, expected init, primary, secondary or watchdog`);
      }
      stmt.values.push(this.next());
    }
    return stmt;
  }

  /** `on NAME { … }` at the top level (`node`) or inside a resource (`resnode`). */
  nodeBlock(context: "node" | "resnode"): NodeBlock {
    this.next(); // on
    const name = this.expect("str", "a node name after on");
    this.expect("{", "{ after the node name");
    const block: NodeBlock = { name: name.text, line: name.line, col: name.col, stmts: [] };
    while (this.peek().kind !== "}") {
      this.keyword(context);
      block.stmts.push(this.statement());
    }
    this.next();
    return block;
  }

  resourceBlock(): ResourceBlock {
    this.next(); // resource
    const name = this.expect("str", "a resource name after resource");
    this.expect("{", "{ after the resource name");
    const block: ResourceBlock = {
      name: name.text,
      line: name.line,
      col: name.col,
      stmts: [],
      keys: [],
      nodes: [],
    };
    while (this.peek().kind !== "}") {
      const t = this.keyword("resource");
      if (t.text === "on") block.nodes.push(this.nodeBlock("resnode"));
      else if (t.text === "key") block.keys.push(this.keyBlock());
      else block.stmts.push(this.statement());
    }
    this.next();
    return block;
  }

  keyBlock(): KeyBlock {
    const kw = this.next(); // key
    this.expect("{", "{ after key");
    const block: KeyBlock = { line: kw.line, col: kw.col, stmts: [] };
    for (;;) {
      const t = this.peek();
      if (t.kind === "}") break;
      if (t.kind !== "keyword" || (t.text !== "algorithm" && t.text !== "secret")) {
        this.fail(t, `unexpected ${describe(t)} in a key block, expected algorithm, secret or }`);
      }
      this.next();
      const value = this.expect("str", `a value after ${t.text}`);
      block.stmts.push({
        keyword: t.text,
        values: [value],
        line: t.line,
        col: t.col,
        seq: this.seq++,
      });
    }
    this.next();
    return block;
  }
}
