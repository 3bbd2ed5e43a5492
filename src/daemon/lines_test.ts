import { assert, assertEquals } from "../../tests/assert.ts";
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

Deno.test("readLines: a child's output (a byte stream) is read in small chunks, every line whole", async () => {
  // 3000 lines of 40 characters: 120 KB, many times the chunk, with lines across chunks.
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'i=0; while [ $i -lt 3000 ]; do printf "%039d\\n" $i; i=$((i+1)); done'],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = await Array.fromAsync(readLines(child.stdout, 4096));
  await child.status;
  assertEquals(lines.length, 3000);
  assertEquals(lines[2999], "2999".padStart(39, "0"));
  assert(lines.every((l) => l.length === 39));
});
