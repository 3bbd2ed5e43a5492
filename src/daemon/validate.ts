/**
 * Members' `validate` methods (Solaris VALIDATE): a member's own check that a
 * configuration can work on this node (its binaries, mounts, files). They run
 * where Solaris runs them, before a configuration is taken: `hastmon config
 * check` and a reload (SIGHUP) that adds or changes the resource. A failure
 * refuses that resource's new configuration; nothing running is touched.
 * They do not run at daemon start: a restarted daemon must take charge of
 * what may already run, whatever its checks say.
 */
import type { EffectiveConfig, ResourceNodeConfig } from "../config/mod.ts";
import { configuredHookEnv } from "./hook_hygiene.ts";
import { hookEnvironment } from "./hook_hygiene.ts";
import { runHook } from "./hooks.ts";
import { describeOutcome } from "../core/types.ts";

/** A failed validate: the member, where its key is written, and why in words. */
export interface ValidateFailure {
  resource: string;
  member: string;
  line?: number;
  col?: number;
  message: string;
}

/** Characters of a validate's output kept for its message. */
const MAX_SAID = 200;

/**
 * Run every member's `validate` of `view` (this node's configuration of a
 * resource), one after the other, each under its `validate_timeout`.
 */
export async function validateResource(
  cfg: EffectiveConfig,
  view: ResourceNodeConfig,
): Promise<ValidateFailure[]> {
  const failures: ValidateFailure[] = [];
  for (const m of view.members) {
    const cmd = m.commands.validate;
    if (!cmd) continue;
    let said = "";
    const result = await runHook({
      command: cmd.argv,
      env: hookEnvironment(configuredHookEnv(cfg), {
        resource: view.resource,
        member: m.name,
        node: view.node,
        role: "init",
        epoch: 0,
        event: "validate",
      }),
      timeoutMs: m.timeoutMs.validate,
      graceMs: Math.min(1000, m.timeoutMs.validate),
      log: (_stream, line) => {
        if (line.trim() !== "") said = line.trim().slice(0, MAX_SAID);
      },
    });
    const o = result.outcome;
    if (o.kind === "exit" && o.code === 0) continue;
    failures.push({
      resource: view.resource,
      member: m.name,
      line: cmd.from.line,
      col: cmd.from.col,
      message: `validate of member ${m.name} (resource ${view.resource}) failed: ` +
        `${describeOutcome(o)}${said ? `: ${said}` : ""}`,
    });
  }
  return failures;
}
