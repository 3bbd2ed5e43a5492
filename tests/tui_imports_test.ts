/**
 * Ink and React stay out of the daemon and of `hastmon ctl`: the modules
 * those commands load (main.ts, the command tree that every command loads,
 * and the daemon's own modules, with their static imports) do not include
 * ink, react or @inkjs/ui. Only `tui` and `demo` import them, lazily. Read
 * from `deno info --json`, which lists each import and whether it is dynamic.
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

/** Every module loaded by importing `roots`: their static imports, transitively (npm leaves included). */
function staticClosure(modules: Map<string, InfoModule>, roots: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of modules.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  return seen;
}

const file = (path: string) => new URL(path, ROOT).href;

Deno.test("imports: daemon and ctl load neither Ink nor React; tui and demo do, lazily", async () => {
  const modules = await graph("main.ts");
  // Every command loads main.ts and the command tree; ctl needs nothing more.
  const ctl = staticClosure(modules, [file("main.ts"), file("src/cli/commands.ts")]);
  const daemon = staticClosure(modules, [
    file("main.ts"),
    file("src/cli/commands.ts"),
    file("src/cli/daemon_run.ts"),
  ]);
  for (const [name, closure] of [["ctl", ctl], ["daemon", daemon]] as const) {
    assert(closure.has(file("src/cli/ctl.ts")), `${name}: the graph was not read`);
    const ui = [...closure].filter((s) => UI_PACKAGES.test(s) || s.endsWith(".tsx"));
    assert(ui.length === 0, `${name} loads ${ui.join(", ")}`);
  }
  assert(daemon.has(file("src/daemon/daemon.ts")));
  // The console itself does load Ink and React (so the check above can fail), and only
  // through a dynamic import.
  const tui = staticClosure(modules, [file("tui/run.tsx")]);
  assert([...tui].some((s) => /^npm:\/?ink@/.test(s)), "tui/run.tsx does not load ink?");
  assert([...tui].some((s) => /^npm:\/?react@/.test(s)), "tui/run.tsx does not load react?");
  assert(modules.has(file("tui/run.tsx")), "main.ts does not reach the console at all?");
});

Deno.test("imports: the guard process loads neither Ink nor React", async () => {
  const modules = await graph("src/daemon/guard_main.ts");
  const guard = staticClosure(modules, [file("src/daemon/guard_main.ts")]);
  const ui = [...guard].filter((s) => UI_PACKAGES.test(s));
  assert(ui.length === 0, `the guard loads ${ui.join(", ")}`);
});
