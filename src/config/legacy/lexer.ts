/**
 * The scanner of the original hastmon.conf (hastmon-behaviour.md §8.1):
 * keywords, NUM (digits only), STR (letters, digits, `. - _ / :`), braces,
 * `#` comments. Longest match wins and a keyword wins on equal length, so
 * `primary1` is a STR and `12345` a NUM. Any other character is skipped, as
 * the original does (it echoes it to stdout): `exec "/bin/true";` reads as
 * `exec /bin/true`. Positions here are 1-based; the original counted lines from 0.
 */

/** Every reserved word of the original grammar. */
export const LEGACY_KEYWORDS = [
  "control",
  "listen",
  "port",
  "timeout",
  "exec",
  "resource",
  "priority",
  "attempts",
  "heartbeat_interval",
  "friends",
  "remote",
  "key",
  "algorithm",
  "secret",
  "complaint_count",
  "complaint_interval",
  "on",
  "role_on_start",
  "init",
  "primary",
  "secondary",
  "watchdog",
] as const;
export type LegacyKeyword = typeof LEGACY_KEYWORDS[number];

/** One token with its 1-based position. */
export interface Token {
  kind: "keyword" | "num" | "str" | "{" | "}" | "eof";
  text: string;
  line: number;
  col: number;
}

/** A character the original would skip silently. */
export interface Skipped {
  text: string;
  line: number;
  col: number;
}

const STR_CHAR = /[A-Za-z0-9._\/:-]/;
const KEYWORDS: ReadonlySet<string> = new Set(LEGACY_KEYWORDS);

/** Split `text` into tokens (ending with an `eof` token) and the characters skipped. */
export function lexLegacy(text: string): { tokens: Token[]; skipped: Skipped[] } {
  const tokens: Token[] = [];
  const skipped: Skipped[] = [];
  let line = 1, col = 1, i = 0;
  const advance = (n: number) => {
    for (let k = 0; k < n; k++, i++) {
      if (text[i] === "\n") line++, col = 1;
      else col++;
    }
  };
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      advance(1);
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") advance(1);
    } else if (c === "{" || c === "}") {
      tokens.push({ kind: c, text: c, line, col });
      advance(1);
    } else if (STR_CHAR.test(c)) {
      let j = i;
      while (j < text.length && STR_CHAR.test(text[j])) j++;
      const word = text.slice(i, j);
      const kind = /^[0-9]+$/.test(word) ? "num" : KEYWORDS.has(word) ? "keyword" : "str";
      tokens.push({ kind, text: word, line, col });
      advance(word.length);
    } else {
      skipped.push({ text: c, line, col });
      advance(1);
    }
  }
  tokens.push({ kind: "eof", text: "end of file", line, col });
  return { tokens, skipped };
}
