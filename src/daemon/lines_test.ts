import { assertEquals } from "../../tests/assert.ts";
import { readLines, TRUNCATED_MARK } from "./lines.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

async function collect(chunks: string[], max: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(streamOf(chunks), max)) out.push(line);
  return out;
}

Deno.test("readLines joins lines split across chunks and keeps a last line without newline", async () => {
  assertEquals(await collect(["ab", "c\nde", "f\n\ng"], 100), ["abc", "def", "", "g"]);
});

Deno.test("readLines cuts an overlong line and drops its rest up to the newline", async () => {
  assertEquals(
    await collect(["0123456789", "abcdef", "ghi\nok\n", "xxxxxxxxxxxx"], 8),
    ["01234567" + TRUNCATED_MARK, "ok", "xxxxxxxx" + TRUNCATED_MARK],
  );
});

Deno.test("readLines decodes a multi-byte character split across chunks", async () => {
  const bytes = new TextEncoder().encode("é\n");
  const stream = ReadableStream.from([bytes.slice(0, 1), bytes.slice(1)]);
  const out: string[] = [];
  for await (const line of readLines(stream, 10)) out.push(line);
  assertEquals(out, ["é"]);
});
