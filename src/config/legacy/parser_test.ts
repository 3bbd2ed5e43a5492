import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { lexLegacy } from "./lexer.ts";
import { LegacyConfigError, parseLegacy } from "./parser.ts";
import { convertLegacy } from "./convert.ts";

const DATA = new URL("../../../tests/data/config/legacy/", import.meta.url);

Deno.test("legacy lexer: longest match, keyword on equal length, NUM only digits, skipped characters", () => {
  const { tokens, skipped } = lexLegacy(
    `primary primary1 12345 10.0.0.1 123abc on\nexec "/bin/true"; # comment {\n}`,
  );
  assertEquals(tokens.map((t) => `${t.kind}:${t.text}@${t.line}:${t.col}`), [
    "keyword:primary@1:1",
    "str:primary1@1:9",
    "num:12345@1:18",
    "str:10.0.0.1@1:24",
    "str:123abc@1:33",
    "keyword:on@1:40",
    "keyword:exec@2:1",
    "str:/bin/true@2:7",
    "}:}@3:1",
    "eof:end of file@3:2",
  ]);
  assertEquals(skipped.map((s) => `${s.text}@${s.line}:${s.col}`), ['"@2:6', '"@2:16', ";@2:17"]);
});

Deno.test("legacy parser: the whole grammar, with file order kept", async () => {
  const cfg = parseLegacy(await Deno.readTextFile(new URL("quirks.conf", DATA)));
  assertEquals(cfg.globals.map((s) => s.keyword), [
    "control",
    "exec",
    "attempts",
    "role_on_start",
    "friends",
  ]);
  assertEquals(cfg.nodes.map((n) => `${n.name}@${n.line}`), ["node1@8", "node1@54"]);
  assertEquals(cfg.resources.map((r) => r.name), ["db", "solo"]);
  const db = cfg.resources[0];
  assertEquals(db.stmts.map((s) => `${s.keyword}@${s.line}`), [
    "heartbeat_interval@16",
    "friends@17",
    "heartbeat_interval@36",
    "exec@37",
    "complaint_count@38",
  ]);
  assertEquals(db.keys.map((k) => k.stmts.map((s) => s.keyword)), [["secret"]]);
  assertEquals(db.nodes.map((n) => n.name), ["node1", "node10", "node1", "wd"]);
  assertEquals(db.nodes[3].stmts[0].values.map((v) => v.text), [
    "192.168.1.1",
    "192.168.1.2",
    "192.168.1.3",
  ]);
  // Later statements have larger sequence numbers, across blocks.
  const seq = (line: number) =>
    [...db.stmts, ...db.nodes.flatMap((n) => n.stmts)].find((s) => s.line === line)!.seq;
  assert(seq(22) < seq(36) && seq(36) < seq(37), "file order across blocks");
});

Deno.test("legacy syntax errors: 1-based line:col and what was expected", async () => {
  const cases: [string, string][] = [
    [
      "bad-port.conf",
      "2:1: syntax error: `port` is reserved and has no rule (write the port in listen or remote, HOST:PORT)",
    ],
    [
      "bad-numeric-secret.conf",
      "3:9: syntax error: unexpected number 12345, expected a value after secret",
    ],
    [
      "bad-unclosed.conf",
      "6:1: syntax error: unexpected end of file, expected a statement in a resource block",
    ],
    [
      "bad-timeout-in-node.conf",
      "4:3: syntax error: `timeout` is not allowed in an on block of a resource",
    ],
    ["bad-duplicate-resource.conf", "4:10: duplicate resource web (first defined at line 1)"],
  ];
  for (const [file, expected] of cases) {
    const text = await Deno.readTextFile(new URL(file, DATA));
    const err = await assertRejects(() => convertLegacy(text, file));
    if (!(err instanceof LegacyConfigError)) throw err;
    assertEquals(`${err.line}:${err.col}: ${err.message}`, expected, file);
  }
  const inline = (text: string) => {
    try {
      parseLegacy(text);
      return "parsed";
    } catch (e) {
      const err = e as LegacyConfigError;
      return `${err.line}:${err.col}: ${err.message}`;
    }
  };
  assertEquals(
    inline("priority 1\n"),
    "1:1: syntax error: `priority` is not allowed at the top level",
  );
  assertEquals(
    inline("on a { timeout 1 }"),
    "1:8: syntax error: `timeout` is not allowed in a top-level on block",
  );
  assertEquals(
    inline("resource r { role_on_start master }"),
    '1:28: syntax error: unexpected "master", expected init, primary, secondary or watchdog',
  );
  assertEquals(
    inline("resource { }"),
    "1:10: syntax error: unexpected `{`, expected a resource name after resource",
  );
  assertEquals(
    inline("on a { remote x }"),
    "1:8: syntax error: `remote` is not allowed in a top-level on block",
  );
  assertEquals(
    inline("key { algorithm }"),
    "1:17: syntax error: unexpected `}`, expected a value after algorithm",
  );
  assertEquals(
    inline("on a { priority 3 }\nfriends\nremote"),
    "3:1: syntax error: `remote` is not allowed at the top level",
  );
  assertEquals(inline("friends\n"), "parsed");
});
