/** The command tree of the one `hastmon` executable. */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import { VERSION } from "../version.ts";

import { type CliIO, stdIO as defaultIO } from "./io.ts";

export type { CliIO };

/** A command group module adds its commands to the program. */
export type Register = (program: Command, io: CliIO) => void;

/** Commands whose usage errors exit with their own number instead of 64. */
const usageExitCodes = new WeakMap<Command, number>();

/**
 * Make `cmd`'s usage errors (a missing option, an unknown one, an extra
 * argument) exit with `code`: the Solaris scha_* commands exit with
 * SCHA_ERR_INVAL (3), as the scripts written for them expect.
 */
export function setUsageExitCode(cmd: Command, code: number): void {
  usageExitCodes.set(cmd, code);
}

/** A usage error of a command with its own exit number ({@link setUsageExitCode}). */
class UsageExit extends CommanderError {
  constructor(error: CommanderError, readonly status: number) {
    super(error.exitCode, error.code, error.message);
  }
}

/** What `hastmon --help` adds after the list of commands: where to start, and the exit codes. */
const PROGRAM_HELP = `
Examples:
  hastmon demo                          three nodes on loopback, the console, faults at a key
  hastmon config check                  validate this node's configuration, print the timing
  hastmon daemon                        start this node's daemon (in the background)
  hastmon ctl status                    every resource on this node, and why it is so
  hastmon ctl role secondary all        hand what this node runs to the best secondary

Run \`hastmon COMMAND --help\` (or \`hastmon help COMMAND\`) for a command's options and examples.

Exit status (sysexits): 0 done, 64 usage, 65 unknown resource, 66 no input (configuration
file unreadable), 69 unavailable (no daemon answers), 70 software error, 73 cannot create,
75 refused for now, 77 permission denied, 78 invalid configuration. Exceptions, each in
its --help: \`ctl check\` (0-3, Nagios), \`simulate\` (1: a promise broken), and the scha_*
commands (Solaris's SCHA_ERR numbers, docs/SCHA.md).
`;

/** Build the whole command tree. */
export function buildProgram(io: CliIO = defaultIO, registers: Register[] = []): Command {
  const program = new Command()
    .name("hastmon")
    .description(
      "Keep a service running on exactly one node of a small cluster, and move it when a node or the service fails.",
    )
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addHelpText("after", PROGRAM_HELP)
    .exitOverride();
  for (const register of registers) register(program, io);
  // Every subcommand inherits the same output, error handling and exit override.
  const walk = (cmd: Command) => {
    for (const sub of cmd.commands as Command[]) {
      const status = usageExitCodes.get(sub);
      sub.configureOutput({ writeOut: io.out, writeErr: io.err })
        .showHelpAfterError("(run with --help for usage)")
        .exitOverride(
          status === undefined ? undefined : (e) => {
            throw new UsageExit(e, status);
          },
        );
      walk(sub);
    }
  };
  walk(program);
  return program;
}

/** Run the CLI and return the process exit code. */
export async function runCli(args: string[], io: CliIO = defaultIO): Promise<number> {
  const { registersFor } = await import("./commands.ts");
  const program = buildProgram(io, await registersFor(args));
  try {
    await program.parseAsync(args, { from: "user" });
    return process_exit_code ?? EX.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // An explicit --help, `help [COMMAND]` or --version; a group called without its
      // subcommand is a usage error (commander shows its help then too, with exit code 1).
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EX.OK;
      if (e.code === "commander.help" && e.exitCode === 0) return EX.OK;
      // Commander already printed the one-line error and the hint.
      return e instanceof UsageExit ? e.status : EX.USAGE;
    }
    if (e instanceof CliError) {
      io.err(`hastmon: ${e.message}\n`);
      return e.code;
    }
    throw e;
  }
}

let process_exit_code: number | undefined;
/** Let a command choose the exit code without throwing (e.g. warnings). */
export function setExitCode(code: number) {
  process_exit_code = code;
}
