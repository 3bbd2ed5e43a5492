/**
 * How this program starts itself again: the background daemon's re-exec and
 * the guard's spawn. hastmon ships in three forms, and each has its own way:
 *
 * - the single-file launcher of `deno task build` (a shell header that runs a
 *   cached Deno on the bundled program) exports `HASTMON_SELF`, its own
 *   absolute path: running that file again goes through the same checks and
 *   the same cache;
 * - a `deno compile` binary is its own program (`Deno.build.standalone`);
 * - from source, `deno run` of the main module with the daemon's Deno options.
 */
import { DAEMON_DENO_FLAGS } from "./v8_flags.ts";

/** Where the program to run comes from: a read-only view, replaceable in tests. */
export interface SelfContext {
  /** `HASTMON_SELF`, when set. */
  self?: string;
  standalone: boolean;
  execPath: string;
  mainModule: string;
}

/** This process's context. */
export function currentSelfContext(): SelfContext {
  return {
    self: Deno.env.get("HASTMON_SELF") || undefined,
    standalone: Deno.build.standalone === true,
    execPath: Deno.execPath(),
    mainModule: Deno.mainModule,
  };
}

/**
 * The argv that runs `hastmon` itself; its own arguments (`daemon …`,
 * `guard …`) follow. Throws when the main module is not a local file (nothing
 * on disk to run again).
 */
export function selfCommand(ctx: SelfContext = currentSelfContext()): string[] {
  if (ctx.self) return [ctx.self];
  if (ctx.standalone) return [ctx.execPath];
  const main = new URL(ctx.mainModule);
  if (main.protocol !== "file:") {
    throw new Error(`cannot run ${main.href} again: set HASTMON_SELF to the hastmon executable`);
  }
  return [ctx.execPath, "run", "-A", ...DAEMON_DENO_FLAGS, decodeURIComponent(main.pathname)];
}

/**
 * The argv that runs this program's guard (src/daemon/guard.ts); its own
 * arguments follow. The single-file forms run `hastmon guard`, whose entry
 * loads the guard's modules alone. From source, `deno run` of guard_main.ts
 * itself: `deno run main.ts guard` resolves, parses and keeps the module
 * graph of every command first (all that main.ts can import), 3–4 MB of the
 * guard's RSS for as long as it lives, and reads the project's configuration
 * (the guard imports no package).
 */
export function guardCommand(ctx: SelfContext = currentSelfContext()): string[] {
  const here = new URL(import.meta.url);
  const fromSource = !ctx.self && !ctx.standalone && here.protocol === "file:" &&
    here.pathname.endsWith("/src/daemon/self.ts") && new URL(ctx.mainModule).protocol === "file:";
  if (!fromSource) return [...selfCommand(ctx), "guard"];
  return guardFromSource(ctx.execPath);
}

/**
 * `deno run` of the guard's own entry (guard_main.ts, beside this file) with
 * the daemon's Deno options. Throws when this module is not a local file.
 */
export function guardFromSource(execPath: string = Deno.execPath()): string[] {
  const main = new URL("./guard_main.ts", import.meta.url);
  if (main.protocol !== "file:") {
    throw new Error(`cannot run the guard from ${main.href}: pass GuardSpawnOptions.command`);
  }
  return [
    execPath,
    "run",
    "-A",
    "--no-config",
    ...DAEMON_DENO_FLAGS,
    decodeURIComponent(main.pathname),
  ];
}
