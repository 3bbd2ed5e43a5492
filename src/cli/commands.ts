/**
 * Every command group of the executable, in the order `--help` lists them.
 * A group's module is loaded only when needed: a command line whose first
 * word names a command loads that command's group alone, so the daemon (a
 * process that lives for months) does not keep the code, strings and help
 * text of ctl, config, the simulator, scha and completion in its memory.
 */
import type { Register } from "./main.ts";

/** A command group: the top-level commands it adds, and its module's register function. */
export interface CommandGroup {
  commands: readonly string[];
  load: () => Promise<Register>;
}

/** The groups, in the order `--help` lists them; completion last (see {@link allRegisters}). */
export const GROUPS: readonly CommandGroup[] = [
  { commands: ["daemon"], load: async () => (await import("./daemon.ts")).registerDaemon },
  { commands: ["ctl"], load: async () => (await import("./ctl.ts")).registerCtl },
  { commands: ["config"], load: async () => (await import("./config.ts")).registerConfig },
  { commands: ["simulate"], load: async () => (await import("./simulate.ts")).registerSimulate },
  {
    commands: ["tui", "demo", "demo-service"],
    load: async () => (await import("./console.ts")).registerConsole,
  },
  { commands: ["keygen"], load: async () => (await import("./keygen.ts")).registerKeygen },
  {
    commands: ["scha_control", "scha_resource_get", "scha_resource_setstatus", "scha-links"],
    load: async () => (await import("./scha.ts")).registerScha,
  },
];

/** The commands of completion, which completes all the others. */
export const COMPLETION_COMMANDS: readonly string[] = ["completion", "complete"];

/** Every command group, loaded; completion last, as it completes all the others. */
export async function allRegisters(): Promise<Register[]> {
  const commands = await Promise.all(GROUPS.map((g) => g.load()));
  const { completionRegister } = await import("./completion.ts");
  return [...commands, completionRegister(commands)];
}

/**
 * What the command line `args` needs: the one group of its first word when
 * that names a command (other than completion's), else every group (help,
 * version, completion, a mistyped command and its suggestions).
 */
export async function registersFor(args: readonly string[]): Promise<Register[]> {
  const group = GROUPS.find((g) => g.commands.includes(args[0]));
  return group ? [await group.load()] : await allRegisters();
}
