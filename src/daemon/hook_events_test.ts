import { assert, assertEquals } from "../../tests/assert.ts";
import { hookFailure } from "./hook_events.ts";

Deno.test("hook events: success and a stopped status are not failures", () => {
  assertEquals(hookFailure("start", { kind: "exit", code: 0 }, 12), null);
  assertEquals(hookFailure("status", { kind: "exit", code: 1 }, 12), null);
  assertEquals(hookFailure("role", { kind: "exit", code: 0 }, 3), null);
});

Deno.test("hook events: failed starts and stops are errors, the rest warnings", () => {
  const start = hookFailure("start", { kind: "exit", code: 3 }, 120.4);
  assertEquals(start?.level, "error");
  assert(start!.message.includes("start") && start!.message.includes("exit 3"), start!.message);
  assertEquals(hookFailure("stop", { kind: "timeout" }, 800)?.level, "error");
  assertEquals(hookFailure("status", { kind: "exit", code: 2 }, 5)?.level, "warning");
  assertEquals(hookFailure("status", { kind: "killed", signal: "SIGKILL" }, 5)?.level, "warning");
  assertEquals(hookFailure("complain", { kind: "exit", code: 1 }, 5)?.level, "warning");
  const unstarted = hookFailure("start", { kind: "error", message: "not started: ENOENT" }, 1);
  assert(unstarted!.message.includes("ENOENT"), unstarted!.message);
});
