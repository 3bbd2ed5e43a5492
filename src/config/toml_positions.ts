/**
 * Where each key and value of a TOML document is written.
 *
 * smol-toml reports positions only for syntax errors. Semantic errors ("unknown
 * key", "must be > 0") need the line and column of the key or value they are
 * about, so this scanner walks the source text of a document that smol-toml has
 * already accepted and records, for every dotted path, where its key and its
 * value first appear. It is lenient by design: it never rejects anything, and
 * it is exact for the forms people write (tables, quoted keys, dotted keys,
 * inline tables, arrays over several lines, arrays of tables).
 */

import type { Pos } from "./diagnostics.ts";

/** Where one path is written: its key, and its value (for a table header, the header). */
export interface PathPosition {
  key: Pos;
  value: Pos;
  /** Order of first appearance in the file, for iterating in file order. */
  order: number;
}

/** Positions of every path of one document. Paths are key segments; array items are indices. */
export class PositionIndex {
  private readonly map = new Map<string, PathPosition>();

  /** Remember `path` unless it was already seen (the first definition is the one to point at). */
  record(path: readonly string[], key: Pos, value: Pos = key): void {
    const id = pathId(path);
    if (!this.map.has(id)) this.map.set(id, { key, value, order: this.map.size });
  }

  /** The recorded position of exactly `path`, if any. */
  get(path: readonly string[]): PathPosition | undefined {
    return this.map.get(pathId(path));
  }

  /** Position of the key of `path`, or of its nearest recorded ancestor, or 1:1. */
  keyPos(path: readonly string[]): Pos {
    return this.nearest(path)?.key ?? { line: 1, col: 1 };
  }

  /** Position of the value of `path`, or of its nearest recorded ancestor, or 1:1. */
  valuePos(path: readonly string[]): Pos {
    const exact = this.get(path);
    if (exact) return exact.value;
    return this.nearest(path)?.key ?? { line: 1, col: 1 };
  }

  /** File order of `path` (Infinity when never seen), for sorting sibling keys. */
  order(path: readonly string[]): number {
    return this.get(path)?.order ?? Infinity;
  }

  private nearest(path: readonly string[]): PathPosition | undefined {
    for (let n = path.length; n > 0; n--) {
      const p = this.get(path.slice(0, n));
      if (p) return p;
    }
    return undefined;
  }
}

function pathId(path: readonly string[]): string {
  return path.join("\u0000");
}

interface Segment {
  name: string;
  pos: Pos;
}

/** Scan `text` (a valid TOML document) and return the positions of all its paths. */
export function scanPositions(text: string): PositionIndex {
  return new Scanner(text).run();
}

class Scanner {
  private i = 0;
  private readonly index = new PositionIndex();
  private readonly lineStarts: number[] = [0];
  private readonly tableArrays = new Map<string, number>();

  constructor(private readonly text: string) {
    for (let k = 0; k < text.length; k++) if (text[k] === "\n") this.lineStarts.push(k + 1);
  }

  run(): PositionIndex {
    let table: string[] = [];
    while (this.i < this.text.length) {
      this.skipBlank(true);
      if (this.i >= this.text.length) break;
      const c = this.text[this.i];
      if (c === "[") {
        table = this.header();
      } else {
        this.keyValue(table);
      }
      this.skipToLineEnd();
    }
    return this.index;
  }

  private pos(offset = this.i): Pos {
    let lo = 0, hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo] + 1 };
  }

  /** `[a.b]` or `[[a.b]]`; returns the path that following keys belong to. */
  private header(): string[] {
    const start = this.pos();
    const isArray = this.text.startsWith("[[", this.i);
    this.i += isArray ? 2 : 1;
    const segs = this.key();
    this.skipBlank(false);
    this.i += isArray ? 2 : 1;
    const names = segs.map((s) => s.name);
    if (!isArray) {
      // The header itself is the "value" of a table: point there for table-level problems.
      this.index.record(names, segs[segs.length - 1]?.pos ?? start, start);
    }
    const path = this.recordSegments([], segs);
    if (!isArray) return path;
    const id = pathId(path);
    const n = this.tableArrays.get(id) ?? 0;
    this.tableArrays.set(id, n + 1);
    const item = [...path, String(n)];
    this.index.record(item, start, start);
    return item;
  }

  private keyValue(table: string[]): void {
    const segs = this.key();
    if (segs.length === 0) {
      this.i++; // not a key: step over it rather than loop forever
      return;
    }
    this.skipBlank(false);
    if (this.text[this.i] === "=") this.i++;
    this.skipBlank(false);
    const path = this.recordSegments(table, segs.slice(0, -1));
    const last = segs[segs.length - 1];
    this.value([...path, last.name], last.pos);
  }

  /** Record each prefix of `base + segs` at its segment, and return the full path. */
  private recordSegments(base: string[], segs: Segment[]): string[] {
    const path = [...base];
    for (const s of segs) {
      path.push(s.name);
      this.index.record(path, s.pos);
    }
    return path;
  }

  /** A dotted key: bare, "basic" or 'literal' segments separated by dots. */
  private key(): Segment[] {
    const segs: Segment[] = [];
    for (;;) {
      this.skipBlank(false);
      const pos = this.pos();
      const c = this.text[this.i];
      let name: string;
      if (c === '"' || c === "'") {
        name = this.string();
      } else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.i, this.i + 256));
        if (!m) break;
        name = m[0];
        this.i += name.length;
      }
      segs.push({ name, pos });
      this.skipBlank(false);
      if (this.text[this.i] !== ".") break;
      this.i++;
    }
    return segs;
  }

  /** A value at the cursor, recorded under `path`. */
  private value(path: string[], keyPos: Pos): void {
    this.index.record(path, keyPos, this.pos());
    const c = this.text[this.i];
    if (c === "{") {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        if (this.i >= this.text.length || this.text[this.i] === "}") break;
        if (this.text[this.i] === ",") {
          this.i++;
          continue;
        }
        const segs = this.key();
        if (segs.length === 0) {
          this.i++;
          continue;
        }
        this.skipBlank(false);
        if (this.text[this.i] === "=") this.i++;
        this.skipBlank(false);
        const inner = this.recordSegments(path, segs.slice(0, -1));
        const last = segs[segs.length - 1];
        this.value([...inner, last.name], last.pos);
      }
      this.i++;
    } else if (c === "[") {
      this.i++;
      let n = 0;
      for (;;) {
        this.skipBlank(true);
        if (this.i >= this.text.length || this.text[this.i] === "]") break;
        if (this.text[this.i] === ",") {
          this.i++;
          continue;
        }
        const itemPos = this.pos();
        this.value([...path, String(n++)], itemPos);
      }
      this.i++;
    } else if (c === '"' || c === "'") {
      this.string();
    } else {
      // Numbers, booleans, dates (which may contain one space): up to a delimiter.
      while (this.i < this.text.length && !",]}\n#".includes(this.text[this.i])) this.i++;
    }
  }

  /** A string of any of the four kinds at the cursor; returns its (key) value. */
  private string(): string {
    const q = this.text[this.i];
    const triple = this.text.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = "";
    while (this.i < this.text.length) {
      if (this.text.startsWith(close, this.i)) {
        this.i += close.length;
        // A multi-line string may end with up to two extra quotes: """a""""" is legal.
        if (triple) { while (this.text[this.i] === q) out += this.text[this.i++]; }
        return out;
      }
      const ch = this.text[this.i];
      if (ch === "\n" && !triple) return out; // unterminated (cannot happen in a valid file)
      if (ch === "\\" && q === '"') {
        out += this.escape();
        continue;
      }
      out += ch;
      this.i++;
    }
    return out;
  }

  private escape(): string {
    const e = this.text[this.i + 1];
    const simple: Record<string, string> = {
      b: "\b",
      t: "\t",
      n: "\n",
      f: "\f",
      r: "\r",
      e: "\x1b",
      '"': '"',
      "\\": "\\",
    };
    if (e in simple) {
      this.i += 2;
      return simple[e];
    }
    const width = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (width > 0) {
      const hex = this.text.slice(this.i + 2, this.i + 2 + width);
      this.i += 2 + width;
      const code = parseInt(hex, 16);
      return Number.isFinite(code) ? String.fromCodePoint(code) : "";
    }
    // Line-ending backslash in a multi-line string: skip it and the following blanks.
    this.i++;
    while (this.i < this.text.length && " \t\r\n".includes(this.text[this.i])) this.i++;
    return "";
  }

  /** Skip spaces and tabs; with `lines`, also newlines and comments. */
  private skipBlank(lines: boolean): void {
    while (this.i < this.text.length) {
      const c = this.text[this.i];
      if (c === " " || c === "\t" || c === "\r") this.i++;
      else if (lines && c === "\n") this.i++;
      else if (lines && c === "#") this.skipComment();
      else break;
    }
  }

  private skipComment(): void {
    while (this.i < this.text.length && this.text[this.i] !== "\n") this.i++;
  }

  /** After a statement: skip a trailing comment and the end of the line. */
  private skipToLineEnd(): void {
    this.skipBlank(false);
    if (this.text[this.i] === "#") this.skipComment();
    while (this.i < this.text.length && this.text[this.i] !== "\n") this.i++;
  }
}
