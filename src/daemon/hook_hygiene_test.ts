import { assert, assertEquals } from "../../tests/assert.ts";
import { parseConfig } from "../config/parse.ts";
import {
  configuredHookEnv,
  DEFAULT_HOOK_PATH,
  hookArguments,
  hookEnvironment,
} from "./hook_hygiene.ts";
import { runHook } from "./hooks.ts";
import "./test_helpers.ts"; // loads the spawner before the tests
import { hookArgv } from "./io.ts";

const CONFIG = `exec = "/bin/true"
hook_env = { LANG = "C.UTF-8", PATH = "/opt/svc/bin:/usr/bin:/bin" }
[resource.r.on.x]
remote = "none"
`;

const ctx = {
  resource: "r",
  member: "r",
  node: "x",
  role: "primary" as const,
  epoch: 3,
  event: "start" as const,
};

Deno.test("hooks: a complaint's peer-supplied arguments come after --, printable and short", () => {
  assertEquals(hookArguments("role", ["secondary", "primary"]), ["secondary", "primary"]);
  assertEquals(hookArguments("complain", ["w", "-rf\u202e\n"]), ["--", "w", "-rf\\u{202e}\\u{a}"]);
  assertEquals(hookArguments("complain", ["x".repeat(500)])[1].length, 201);
});

Deno.test("hooks: the daemon's complain hook gets a peer's name and reason after --", () => {
  const cfg = parseConfig(CONFIG, "/etc/hastmon.toml", { node: "x" }).config!;
  const view = cfg.resources[0].self!;
  const hook = (method: "complain" | "role", args: string[]) =>
    hookArgv(view, {
      type: "hook",
      id: 1,
      method,
      member: null,
      args,
      role: "secondary",
      epoch: 3,
      timeoutMs: 1000,
    });
  assertEquals(hook("complain", ["w", "--help\u202e"]), [
    "/bin/true",
    "complain",
    "r",
    "--",
    "w",
    "--help\\u{202e}",
  ]);
  assertEquals(hook("role", ["init", "secondary"]), [
    "/bin/true",
    "role",
    "r",
    "init",
    "secondary",
  ]);
});

Deno.test("hooks: the environment is PATH, hook_env and HASTMON_*, nothing of the daemon's own", async () => {
  const cfg = parseConfig(CONFIG, "/etc/hastmon.toml", { node: "x" }).config!;
  const env = hookEnvironment(configuredHookEnv(cfg), ctx);
  assertEquals(env.PATH, "/opt/svc/bin:/usr/bin:/bin");
  assertEquals(env.LANG, "C.UTF-8");
  assertEquals(env.HASTMON_EPOCH, "3");
  const bare = parseConfig(`exec = "/bin/true"\n[resource.r.on.x]\nremote = "none"\n`, "/f", {
    node: "x",
  }).config!;
  assertEquals(hookEnvironment(configuredHookEnv(bare), ctx).PATH, DEFAULT_HOOK_PATH);
  // A real hook sees exactly that: not the variables of the process that runs it, nor the DENO_*
  // ones the single-file launcher sets for the daemon (DENO_NO_PROMPT=1 changes nothing here).
  Deno.env.set("HASTMON_TEST_DAEMON_SECRET", "leak");
  const noPrompt = Deno.env.get("DENO_NO_PROMPT");
  Deno.env.set("DENO_NO_PROMPT", "1");
  try {
    const lines: string[] = [];
    const r = await runHook({
      command: ["/bin/sh", "-c", "env | sort"],
      env,
      timeoutMs: 5000,
      graceMs: 100,
      log: (_s, l) => lines.push(l),
    });
    assertEquals(r.outcome, { kind: "exit", code: 0 });
    const names = lines.map((l) => l.split("=")[0]).filter((n) =>
      !["PWD", "SHLVL", "_"].includes(n)
    );
    assertEquals(names, Object.keys(env).sort());
    assert(!lines.some((l) => l.includes("leak")));
    assert(!lines.some((l) => l.startsWith("DENO_")), lines.join("\n"));
  } finally {
    Deno.env.delete("HASTMON_TEST_DAEMON_SECRET");
    if (noPrompt === undefined) Deno.env.delete("DENO_NO_PROMPT");
    else Deno.env.set("DENO_NO_PROMPT", noPrompt);
  }
});
