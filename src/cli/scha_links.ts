/**
 * `hastmon scha-links DIR`: put `scha_control`, `scha_resource_get` and
 * `scha_resource_setstatus` in DIR as tiny /bin/sh wrappers that run this
 * hastmon, so that fault monitors written for Solaris find the commands under
 * their own names (on PATH, or at /usr/cluster/bin where many scripts call
 * them by full path) and run unchanged.
 *
 * Wrappers, not symbolic links: hastmon runs as `deno run … main.ts` from
 * source or through the single-file launcher, and neither can tell the name
 * it was called by; a wrapper names the command itself and survives any form.
 */
import type { Command } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import type { CliIO } from "./main.ts";
import { selfCommand } from "../daemon/self.ts";

/** The Solaris commands hastmon answers, each a subcommand of the same name. */
export const SCHA_COMMANDS = [
  "scha_control",
  "scha_resource_get",
  "scha_resource_setstatus",
] as const;

/** The line that marks a wrapper as ours: only those are replaced without --force. */
const MARK = "# Written by `hastmon scha-links`";

/** `s` quoted for /bin/sh: single quotes, with each ' written as '\''. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The wrapper script of `command` that runs `argv` (how to run this hastmon). */
export function wrapperScript(argv: readonly string[], command: string): string {
  return `#!/bin/sh\n${MARK} (docs/SCHA.md): Solaris's ${command} is hastmon's.\n` +
    `exec ${argv.map(shellQuote).join(" ")} ${command} "$@"\n`;
}

/**
 * Write the wrappers into `dir` (created if missing), each atomically
 * (a script that runs one meanwhile sees the old or the new file, never half).
 * A file there that is not one of our wrappers is kept unless `force`.
 * Returns the paths written.
 */
export async function writeSchaLinks(
  dir: string,
  argv: readonly string[],
  force: boolean,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const targets = SCHA_COMMANDS.map((c) => ({ command: c, path: `${dir}/${c}` }));
  // Check them all before writing any: a refusal changes nothing.
  if (!force) {
    for (const t of targets) {
      const existing = await Deno.readTextFile(t.path).catch(() => null);
      if (existing !== null && !existing.includes(MARK)) {
        throw new CliError(
          `${t.path} exists and was not written by hastmon scha-links (use --force to replace it)`,
          EX.CANTCREAT,
        );
      }
    }
  }
  for (const t of targets) {
    const tmp = `${t.path}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(tmp, wrapperScript(argv, t.command), { mode: 0o755 });
    // The mode of writeTextFile is filtered by the umask; a wrapper must be executable by all.
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, t.path);
  }
  return targets.map((t) => t.path);
}

/** Register `hastmon scha-links DIR`. */
export function registerSchaLinks(program: Command, io: CliIO): void {
  program.command("scha-links")
    .description(
      "write scha_control, scha_resource_get and scha_resource_setstatus wrappers into a " +
        "directory, for scripts written for Solaris",
    )
    .argument("<dir>", "where to write them (created if missing), e.g. /usr/cluster/bin")
    .option("--force", "replace files of those names that hastmon did not write")
    .addHelpText(
      "after",
      `
Each wrapper is a tiny /bin/sh script that runs this hastmon (as it was
invoked now: the installed executable, or deno run … main.ts) with the
command's name, so a script written for Solaris calls it unchanged. Run it
again after moving hastmon.

Examples:
  hastmon scha-links /usr/cluster/bin            where Solaris keeps them
  hastmon scha-links /usr/local/libexec/hastmon/bin
      then, in monitor_start: PATH=/usr/local/libexec/hastmon/bin:$PATH

Exit status: 0 written, 64 usage, 73 cannot write there (or a file of that
name that hastmon did not write, without --force).
`,
    )
    .action(async (dir, opts) => {
      let argv: string[];
      try {
        argv = selfCommand();
      } catch (e) {
        throw new CliError((e as Error).message, EX.SOFTWARE);
      }
      let written: string[];
      try {
        written = await writeSchaLinks(dir, argv, opts.force === true);
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(
          `cannot write the wrappers in ${dir}: ${(e as Error).message}`,
          EX.CANTCREAT,
        );
      }
      for (const path of written) io.out(`${path}\n`);
    });
}
