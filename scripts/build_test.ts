import { assertEquals, assertRejects, assertStringIncludes } from "../tests/assert.ts";
import { patchBundle } from "./build.ts";
import { launcherHeader } from "./build/launcher.ts";

Deno.test("build: Ink's react-devtools-core import becomes a stand-in; any other bare import is refused", async () => {
  const code =
    `import a from "node:fs";\nimport devtools from "react-devtools-core";\nconst x = 1;\n`;
  assertEquals(
    patchBundle(code),
    `import a from "node:fs";\nconst devtools = { initialize() {}, connectToDevTools() {} };\nconst x = 1;\n`,
  );
  await assertRejects(
    async () => await patchBundle(`import x from "left-pad";\nexport { y } from "other";\n`),
    "the bundle still imports left-pad, other",
  );
});

Deno.test("build: the launcher's header says exactly where its payload starts", () => {
  const header = launcherHeader({
    sha256: "ab".repeat(32),
    version: "9.9.9",
    deno: "2.9.6",
    platform: "x86_64-unknown-linux-gnu",
    denoFlags: ["--v8-flags=--no-memory-reducer"],
  });
  const bytes = new TextEncoder().encode(header).length;
  const offset = Number(/^hastmon_offset=(\d+)$/m.exec(header)![1]);
  assertEquals(offset, bytes + 1); // tail -c +N counts from 1
  assertStringIncludes(header, `hastmon_sum=${"ab".repeat(32)}\n`);
  assertStringIncludes(header, "--v8-flags=--no-memory-reducer");
  assertEquals(header.endsWith("#__HASTMON_PAYLOAD_BELOW__\n"), true);
});
