import { assertEquals } from "../../tests/assert.ts";
import { parse } from "smol-toml";
import { scanPositions } from "./toml_positions.ts";

const doc = [
  `# comment`, //                                    1
  `timeout = 5 # trailing`, //                       2
  `friends = [`, //                                  3
  `  "10.0.0.1",   # first`, //                      4
  `  'tcp://10.0.0.2:99',`, //                       5
  `]`, //                                            6
  `[key]`, //                                        7
  `secret = """a`, //                                8
  `b"""`, //                                         9
  `[ resource . "web site" . on.alpha ]`, //        10
  `remote = ["a", "b"] ; x.y = 1`, //               11
  `[resource.db]`, //                               12
  `member.m1.start = "/bin/true"`, //               13
  `inline = { a = 1, b = { c = [1, 2] } }`, //      14
  `[[arr]]`, //                                     15
  `v = 1`, //                                       16
  `[[arr]]`, //                                     17
  `v = 2`, //                                       18
  `when = 1979-05-27 07:32:00`, //                  19
  `after = 'x'`, //                                 20
].join("\n");

Deno.test("scanPositions records keys and values of every common form", () => {
  // The document without the deliberate junk on line 11 must be valid TOML.
  parse(doc.replace(" ; x.y = 1", ""));
  const idx = scanPositions(doc);
  const at = (path: string[]) => {
    const p = idx.get(path);
    return p ? [p.key.line, p.key.col, p.value.line, p.value.col] : null;
  };
  assertEquals(at(["timeout"]), [2, 1, 2, 11]);
  assertEquals(at(["friends"]), [3, 1, 3, 11]);
  assertEquals(at(["friends", "0"]), [4, 3, 4, 3]);
  assertEquals(at(["friends", "1"]), [5, 3, 5, 3]);
  assertEquals(at(["key"]), [7, 2, 7, 1]);
  assertEquals(at(["key", "secret"]), [8, 1, 8, 10]);
  assertEquals(at(["resource"]), [10, 3, 10, 3]);
  assertEquals(at(["resource", "web site"]), [10, 14, 10, 14]);
  assertEquals(at(["resource", "web site", "on", "alpha"]), [10, 30, 10, 1]);
  assertEquals(at(["resource", "web site", "on", "alpha", "remote"]), [11, 1, 11, 10]);
  assertEquals(at(["resource", "web site", "on", "alpha", "remote", "1"]), [11, 16, 11, 16]);
  assertEquals(at(["resource", "db"]), [12, 11, 12, 1]);
  assertEquals(at(["resource", "db", "member"]), [13, 1, 13, 1]);
  assertEquals(at(["resource", "db", "member", "m1"]), [13, 8, 13, 8]);
  assertEquals(at(["resource", "db", "member", "m1", "start"]), [13, 11, 13, 19]);
  assertEquals(at(["resource", "db", "inline", "b", "c", "1"]), [14, 33, 14, 33]);
  assertEquals(at(["arr", "0", "v"]), [16, 1, 16, 5]);
  assertEquals(at(["arr", "1", "v"]), [18, 1, 18, 5]);
  assertEquals(at(["arr", "1", "when"]), [19, 1, 19, 8]);
  assertEquals(at(["arr", "1", "after"]), [20, 1, 20, 9]);
});

Deno.test("keyPos falls back to the nearest recorded ancestor; order follows the file", () => {
  const idx = scanPositions(`[on.b]\nx = 1\n[on.a]\n[on.10]\n`);
  assertEquals(idx.keyPos(["on", "b", "nothing"]), { line: 1, col: 5 });
  assertEquals(idx.keyPos(["nowhere"]), { line: 1, col: 1 });
  const names = ["10", "a", "b"].sort((x, y) => idx.order(["on", x]) - idx.order(["on", y]));
  assertEquals(names, ["b", "a", "10"]);
});

Deno.test("escaped quoted keys are decoded", () => {
  const idx = scanPositions(`"a\\u0041\\"" = 1\n'lit\\n' = 2\n`);
  assertEquals(idx.get(['aA"'])?.value, { line: 1, col: 15 });
  assertEquals(idx.get(["lit\\n"])?.value, { line: 2, col: 11 });
});
