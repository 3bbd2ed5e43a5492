/**
 * The import graph. No module reaches itself through its own imports (a cycle
 * makes the order of evaluation matter, and splits no longer hold apart).
 * Ink and React stay out of the daemon and of `hastmon ctl`. Deno resolves,
 * when a program starts, every module its entry reaches by code imports,
 * static or dynamic with a literal specifier; so main.ts must reach none of
 * ink, react or @inkjs/ui that way. The console is imported only by `tui`
 * and `demo`, through TUI_ENTRY (src/cli/console.ts), which Deno cannot read
 * ahead. Read from `deno info --json`, which lists each import as code or
 * type and whether it is dynamic.
 */
import { assert } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);
const UI_PACKAGES = /^npm:\/?(ink|react|react-reconciler|@inkjs\/ui|ink-testing-library)(@|\/|$)/;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

async function graph(entry: string): Promise<Map<string, InfoModule>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  return new Map(info.modules.map((m) => [m.specifier, m]));
}

/**
 * Every module reached from `roots` by code imports, transitively (npm
 * leaves included); with `dynamic`, by literal dynamic imports too.
 */
function closure(
  modules: Map<string, InfoModule>,
  roots: string[],
  dynamic: boolean,
): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of modules.get(s)?.dependencies ?? []) {
      if (d.code && (dynamic || !d.isDynamic)) todo.push(d.code.specifier);
    }
  }
  return seen;
}

const file = (path: string) => new URL(path, ROOT).href;

/** The import cycles among local modules, by static code imports: each as a path a -> … -> a. */
function cycles(modules: Map<string, InfoModule>): string[][] {
  const local = (s: string) => s.startsWith("file:");
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    state.set(v, "open");
    stack.push(v);
    for (const d of modules.get(v)?.dependencies ?? []) {
      const w = d.code?.specifier;
      if (!w || d.isDynamic || !local(w)) continue;
      if (state.get(w) === "open") found.push([...stack.slice(stack.indexOf(w)), w]);
      else if (!state.has(w)) visit(w);
    }
    stack.pop();
    state.set(v, "done");
  };
  for (const v of modules.keys()) if (local(v) && !state.has(v)) visit(v);
  return found;
}

Deno.test("imports: no import cycles in the program, the console or the guard", async () => {
  for (const entry of ["main.ts", "tui/run.tsx", "src/daemon/guard_main.ts"]) {
    const modules = await graph(entry);
    assert(modules.size > 10, `${entry}: the graph was not read`);
    const found = cycles(modules).map((c) => c.map((s) => s.replace(ROOT.href, "")).join(" -> "));
    assert(found.length === 0, `${entry}: import cycles:\n${found.join("\n")}`);
  }
  // The check sees a cycle when there is one.
  const a = file("a.ts"), b = file("b.ts");
  const dep = (s: string) => ({ code: { specifier: s } });
  const loop = new Map([[a, { specifier: a, dependencies: [dep(b)] }], [b, {
    specifier: b,
    dependencies: [dep(a)],
  }]]);
  assert(cycles(loop).length === 1, "a two-module cycle was not found");
});

Deno.test("imports: daemon and ctl load neither Ink nor React; the console does, when asked", async () => {
  const modules = await graph("main.ts");
  // What Deno resolves when any command starts: main.ts and everything it can reach.
  const startup = closure(modules, [file("main.ts")], true);
  assert(startup.has(file("src/cli/ctl.ts")), "the graph was not read");
  assert(startup.has(file("src/daemon/daemon.ts")), "the daemon's modules are not reached?");
  const ui = [...startup].filter((s) => UI_PACKAGES.test(s) || s.endsWith(".tsx"));
  assert(ui.length === 0, `every command loads ${ui.join(", ")}`);
  // The console's entry is real and does load Ink and React (so the check above can fail).
  const entry = (await import("../src/cli/console.ts")).TUI_ENTRY;
  assert(entry === file("tui/run.tsx"), entry);
  const tuiModules = await graph("tui/run.tsx");
  const tui = closure(tuiModules, [entry], false);
  assert([...tui].some((s) => /^npm:\/?ink@/.test(s)), "tui/run.tsx does not load ink?");
  assert([...tui].some((s) => /^npm:\/?react@/.test(s)), "tui/run.tsx does not load react?");
});

Deno.test("imports: the guard process loads neither Ink nor React", async () => {
  const modules = await graph("src/daemon/guard_main.ts");
  const guard = closure(modules, [file("src/daemon/guard_main.ts")], true);
  const ui = [...guard].filter((s) => UI_PACKAGES.test(s));
  assert(ui.length === 0, `the guard loads ${ui.join(", ")}`);
});

/** The bundle's files a file loads: static imports and dynamic ones with a literal path. */
function bundleImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
    out.push(m[1]);
  }
  return out;
}

/** A UI package bundled into a file, by the path comment the bundler writes above each module. */
const BUNDLED_UI = /^\/\/ node_modules\/\.deno\/(ink|react|react-reconciler|@inkjs\+ui)@/m;

Deno.test("imports: in the built program, what every command loads holds neither Ink nor React", async () => {
  const { bundle, TUI_BUNDLED } = await import("../scripts/build.ts");
  const dir = await Deno.makeTempDir({ prefix: "hastmon-bundle-" });
  try {
    const files = await bundle(dir);
    assert(files.includes("app.js") && files.includes(TUI_BUNDLED), files.join(" "));
    const reached = new Set<string>();
    const todo = ["app.js"];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (reached.has(f)) continue;
      reached.add(f);
      const code = await Deno.readTextFile(`${dir}/${f}`);
      for (const spec of bundleImports(code)) {
        todo.push(new URL(spec, `file:///${f}`).pathname.slice(1));
      }
    }
    assert(reached.size > 3 && reached.has("app.js"), [...reached].join(" "));
    assert(!reached.has(TUI_BUNDLED), "the console is reached by a literal import");
    for (const f of reached) {
      const ui = BUNDLED_UI.exec(await Deno.readTextFile(`${dir}/${f}`));
      assert(ui === null, `${f}, loaded by every command, holds ${ui?.[1]}`);
    }
    // The console's file does hold them (so that the check above can fail).
    assert(BUNDLED_UI.test(await Deno.readTextFile(`${dir}/${TUI_BUNDLED}`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("imports: the daemon's command reaches none of the other commands' modules", async () => {
  // `hastmon daemon` loads src/cli/daemon.ts alone among the command groups (see
  // src/cli/commands_test.ts); what it reaches, at once or later, is what a daemon can load.
  const modules = await graph("src/cli/daemon.ts");
  const daemon = closure(modules, [file("src/cli/daemon.ts")], true);
  assert(daemon.has(file("src/daemon/daemon.ts")), "the graph was not read");
  const foreign = [...daemon].filter((s) =>
    /\/src\/(sim|demo|config\/legacy)\/|\/src\/cli\/(ctl|config|simulate|scha|completion|console|keygen)\.ts$|\/tui\//
      .test(s) || /^npm:\/?@bomb\.sh\//.test(s) || UI_PACKAGES.test(s)
  );
  assert(foreign.length === 0, `the daemon loads ${foreign.join(", ")}`);
});
