import { assertEquals, assertRejects, assertStringIncludes } from "../tests/assert.ts";
import { bundle, patchBundle, TUI_BUNDLED, TUI_ENTRY_SOURCE } from "./build.ts";
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

const HELPERS = `var __defProp = Object.defineProperty;
import { createRequire as __deno_internal_createRequire } from "node:module";
var __require = __deno_internal_createRequire(import.meta.url);
var __export = (target, all) => {};
export {
  __require,
  __export
};
`;

Deno.test("build: the bare imports of the CommonJS helpers' chunk are dropped; named ones stay", () => {
  const patched = patchBundle(
    new Map([
      ["chunk-H.js", HELPERS],
      ["guard.js", `import { a } from "./chunk-A.js";\nimport "./chunk-H.js";\nrun();\n`],
      [
        "cli.js",
        `import {\n  __require\n} from "./chunk-H.js";\nimport "./chunk-H.js";\n${ENTRY};\n`,
      ],
      ["tui/run.js", `import "../chunk-H.js";\nimport "../chunk-A.js";\n`],
      // Exports something of ours: its evaluation may matter, so it is imported as before.
      ["chunk-O.js", HELPERS.replace("__export\n}", "__export,\n  mine\n}")],
      ["other.js", `import "./chunk-O.js";\n`],
    ]),
  );
  assertEquals(patched.get("guard.js"), `import { a } from "./chunk-A.js";\nrun();\n`);
  assertEquals(
    patched.get("cli.js")!.startsWith(`import {\n  __require\n} from "./chunk-H.js";\nnew URL(`),
    true,
  );
  assertEquals(patched.get("tui/run.js"), `import "../chunk-A.js";\n`);
  assertEquals(patched.get("other.js"), `import "./chunk-O.js";\n`);
});

/** Every module `entry` loads before it runs (static imports, transitively), `node:` ones included. */
function staticClosure(files: ReadonlyMap<string, string>, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    if (path.startsWith("node:")) return;
    const code = files.get(path) ?? "";
    for (const m of code.matchAll(/^(?:import|export)\b[^;()]*?["']([^"']+)["'];?$/gm)) {
      const spec = m[1];
      visit(spec.startsWith("node:") ? spec : new URL(spec, `file:///${path}`).pathname.slice(1));
    }
  };
  visit(entry);
  return seen;
}

Deno.test("build: the bundled guard and the daemon load none of Node's modules, and the daemon not commander", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-bundle-" });
  try {
    const files = new Map<string, string>();
    for (const f of await bundle(dir)) files.set(f, await Deno.readTextFile(`${dir}/${f}`));
    const guard = /import\("\.\/(guard_main-[^"]+)"\)/.exec(files.get("app.js")!)![1];
    const loaded = [...staticClosure(files, guard)];
    assertEquals(loaded.filter((m) => m.startsWith("node:")), []);
    // The walk sees imports at all: the guard's own chunks are there.
    assertEquals(loaded.length > 3, true);
    // Nor the daemon: not node:process for its title (src/daemon/proc_title.ts), not the
    // command line's parser.
    const daemon = /import\("\.\/(daemon_run-[^"]+)"\)/.exec(files.get("app.js")!)![1];
    const daemonLoads = [...staticClosure(files, daemon)];
    assertEquals(daemonLoads.filter((m) => m.startsWith("node:")), []);
    const commander = (m: string) => files.get(m)?.includes("node_modules/.deno/commander@");
    assertEquals(daemonLoads.filter(commander), []);
    // The command line still loads them (commander is CommonJS).
    const cli = /import\("\.\/(main-[^"]+)"\)/.exec(files.get("app.js")!)![1];
    const cliLoads = [...staticClosure(files, cli)];
    assertEquals(cliLoads.includes("node:module"), true);
    assertEquals(cliLoads.some(commander), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
