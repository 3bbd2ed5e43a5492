import { assertEquals, assertRejects, assertStringIncludes } from "../tests/assert.ts";
import { patchBundle, TUI_BUNDLED, TUI_ENTRY_SOURCE } from "./build.ts";
import { launcherHeader } from "./build/launcher.ts";

const ENTRY = TUI_ENTRY_SOURCE;

Deno.test("build: Ink's react-devtools-core import becomes a stand-in; any other bare import is refused", async () => {
  const code =
    `import a from "node:fs";\nimport devtools from "react-devtools-core";\nconst x = 1;\n`;
  const patched = patchBundle(new Map([["devtools.js", code], ["commands.js", `${ENTRY};\n`]]));
  assertEquals(
    patched.get("devtools.js"),
    `import a from "node:fs";\nconst devtools = { initialize() {}, connectToDevTools() {} };\nconst x = 1;\n`,
  );
  await assertRejects(
    async () =>
      await patchBundle(
        new Map([["a.js", `import x from "left-pad";\nexport { y } from "other";\n${ENTRY}`]]),
      ),
    "a.js still imports left-pad, other",
  );
});

Deno.test("build: the console's entry is pointed at the bundled console, from wherever it is", async () => {
  const patched = patchBundle(new Map([["commands.js", `const e = ${ENTRY}.href;\n`]]));
  assertEquals(
    patched.get("commands.js"),
    `const e = new URL("./${TUI_BUNDLED}", import.meta.url).href;\n`,
  );
  const deeper = patchBundle(new Map([["sub/commands.js", `${ENTRY}\n`]]));
  assertEquals(deeper.get("sub/commands.js"), `new URL("../${TUI_BUNDLED}", import.meta.url)\n`);
  // Missing (console.ts changed how it names the entry), or there twice: the build stops.
  await assertRejects(
    async () => await patchBundle(new Map([["a.js", "const x = 1;\n"]])),
    "in the bundle 0 times",
  );
  await assertRejects(
    async () => await patchBundle(new Map([["a.js", ENTRY], ["b.js", ENTRY]])),
    "in the bundle 2 times",
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
