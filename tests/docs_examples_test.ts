/**
 * The configurations that README.md and docs/CONFIG.md show a newcomer must
 * work as printed: valid for every node they name, and without a warning
 * that means "nothing will fail over" (a watchdog whose address no node can
 * tell, a resource without a watchdog). Only the panic warning is allowed:
 * the first file leaves `panic` out on purpose.
 */
import { assert, assertEquals } from "./assert.ts";
import { formatDiagnostic, parseConfig } from "../src/config/mod.ts";

const ROOT = new URL("../", import.meta.url);

/** The `n`-th ```toml block of a Markdown file. */
async function tomlBlock(doc: string, n = 0): Promise<string> {
  const text = await Deno.readTextFile(new URL(doc, ROOT));
  const blocks = [...text.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert(blocks.length > n, `${doc} has no toml block ${n}`);
  return blocks[n];
}

/** Parse `text` as each node it configures sees it; every diagnostic but the allowed one. */
function problems(text: string, file: string): string[] {
  const nodes = [
    ...new Set([...text.matchAll(/^\[(?:resource\.\w+\.)?on\.(\w+)\]/gm)].map((m) => m[1])),
  ];
  assert(nodes.length >= 3, `${file}: two nodes and a watchdog expected, found ${nodes}`);
  const out: string[] = [];
  for (const node of nodes) {
    const r = parseConfig(text, file, {
      node,
      baseDir: "/",
      // The README's secret_file, as `head -c 32 /dev/urandom` and chmod 600 make it.
      readKeyFile: () => ({ bytes: new Uint8Array(32).fill(7), mode: 0o100600 }),
    });
    for (const d of [...r.errors, ...r.warnings]) {
      if (d.message.includes("no panic command")) continue;
      out.push(`as ${node}: ${formatDiagnostic(d)}`);
    }
  }
  return out;
}

Deno.test("docs: CONFIG.md's first file is valid on every node and can fail over", async () => {
  const text = await tomlBlock("docs/CONFIG.md");
  assertEquals(problems(text, "CONFIG.md"), []);
});

Deno.test("docs: the README's configuration is valid on every node and can fail over", async () => {
  const text = await tomlBlock("README.md");
  assertEquals(problems(text, "README.md"), []);
});
