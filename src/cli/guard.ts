/**
 * `hastmon guard`: the daemon's dead man's switch (src/daemon/guard.ts), as a
 * hidden subcommand so that every form of the program (source, single file,
 * compiled) can start its guard by running itself. Not for people: the daemon
 * starts it and speaks to it on its standard input.
 */
import type { Command } from "@commander-js/extra-typings";
import type { Register } from "./main.ts";

/** Register the hidden `hastmon guard [--log PATH] [--grace-ms N] [-d]...`. */
export const registerGuard: Register = (program: Command) => {
  program.command("guard", { hidden: true })
    .description("the daemon's guard process (started by the daemon itself)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args) => {
      const { guardMain } = await import("../daemon/guard_main.ts");
      // Exit here: a stop hook may leave processes that hold the guard's output pipes open.
      Deno.exit(await guardMain(args));
    });
};
