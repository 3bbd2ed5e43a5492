/**
 * What a hook gets from the daemon, and nothing more:
 *
 * - a minimal environment: `PATH` (a fixed system path unless `hook_env`
 *   sets one), what `hook_env` in the configuration adds, and the HASTMON_*
 *   variables; nothing else of the daemon's own environment;
 * - arguments a peer supplied (the `complain` hook's complainer and reason)
 *   after a `--`, made printable and short, so that a peer's text is never
 *   taken for an option nor carries control or bidi characters.
 */
import type { HookMethod } from "../core/types.ts";
import type { EffectiveConfig } from "../config/types.ts";
import { printable } from "../wire/text.ts";
import { type HookContext, hookEnv } from "./hooks.ts";

/** PATH of a hook when `hook_env` sets none. */
export const DEFAULT_HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Methods whose extra arguments come from a peer's message. */
const PEER_ARGUMENT_METHODS: readonly HookMethod[] = ["complain"];

/** What `hook_env` in `cfg` adds to every hook's environment. */
export function configuredHookEnv(cfg: EffectiveConfig): Readonly<Record<string, string>> {
  return (cfg.global.settings.hook_env?.value ?? {}) as Record<string, string>;
}

/**
 * The whole environment of a hook run for `ctx`: PATH, then `extra` (the
 * configured `hook_env`, see {@link configuredHookEnv}), then the HASTMON_* variables.
 */
export function hookEnvironment(
  extra: Readonly<Record<string, string>>,
  ctx: HookContext,
): Record<string, string> {
  return { PATH: DEFAULT_HOOK_PATH, ...extra, ...hookEnv(ctx) };
}

/** The extra arguments of `method` as passed on the command line. */
export function hookArguments(method: HookMethod, args: readonly string[]): string[] {
  if (!PEER_ARGUMENT_METHODS.includes(method)) return [...args];
  return ["--", ...args.map((a) => printable(a))];
}
