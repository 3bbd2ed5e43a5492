/** ARCHITECTURE.md: src/core/ imports nothing outside itself and touches no I/O. */
import { assertEquals } from "./assert.ts";
import { checkCorePurity } from "../scripts/core_purity.ts";

Deno.test("src/core imports nothing outside src/core and uses no runtime APIs", async () => {
  const problems = await checkCorePurity(new URL("../src/core/", import.meta.url).pathname);
  assertEquals(problems, []);
});

Deno.test("src/runtime imports only src/core and src/lib and uses no runtime APIs", async () => {
  const problems = await checkCorePurity(
    new URL("../src/runtime/", import.meta.url).pathname,
    ["core", "lib"],
  );
  assertEquals(problems, []);
});

Deno.test("the purity check catches a deliberately impure core file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/ok.ts`,
      `import { x } from "./other.ts";\nexport const y = x;\n`,
    );
    await Deno.writeTextFile(`${dir}/other.ts`, `export const x = 1;\n`);
    await Deno.writeTextFile(
      `${dir}/bad.ts`,
      `import { a } from "../daemon/run.ts";\nimport b from "npm:left-pad";\nexport const t = Date.now() + a + b;\n`,
    );
    await Deno.writeTextFile(
      `${dir}/bad2.ts`,
      `export const r = await Deno.readTextFile("x");\nsetTimeout(() => {}, 1);\n`,
    );
    const problems = await checkCorePurity(dir);
    assertEquals(
      problems.sort(),
      [
        "bad.ts:1: imports ../daemon/run.ts, outside its layer",
        "bad.ts:2: imports npm:left-pad, outside its layer",
        "bad.ts:3: uses Date.now",
        "bad2.ts:1: uses Deno.",
        "bad2.ts:2: uses setTimeout",
      ].sort(),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
