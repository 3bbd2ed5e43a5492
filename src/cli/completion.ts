/**
 * `hastmon completion bash|zsh|fish`: a script for the shell, and the hidden
 * `hastmon complete -- WORDS...` it calls on every TAB. Both are built by
 * @bomb.sh/tab from the command tree itself, so every subcommand, option and
 * `.choices()` (roles, log formats, and any optag list given as choices)
 * completes without a word here. What the tree cannot know comes from the
 * configuration at completion time (`-c FILE` on the line being completed,
 * else $HASTMON_CONFIG or the default path):
 *
 * - arguments named in {@link RESOURCE_ARGUMENTS} and options named in
 *   {@link RESOURCE_OPTIONS} complete resource names (and `all` where it is
 *   allowed): a new command taking a group or resource needs only its name
 *   added there;
 * - `--node` completes node names;
 * - {@link MEMBER_NAMES} complete the members of the groups, and
 *   {@link WORD_OPTIONS} fixed words (optags, tags, statuses).
 *
 * Loaded only by these two commands: tab stays out of `ctl` and the daemon.
 */
import type { Command } from "@commander-js/extra-typings";
import { buildProgram, type CliIO, type Register } from "./main.ts";
import { CliError, EX } from "./exit.ts";
import { RESOURCE_GET_TAG_NAMES } from "./scha_get.ts";
import { MEMBER_STATUSES, SCHA_OPTAGS } from "../core/types.ts";

/** Argument names completed with resource names; `all` is offered where the command takes it. */
export const RESOURCE_ARGUMENTS: Readonly<Record<string, { all: boolean }>> = {
  resources: { all: true },
  resource: { all: false },
  group: { all: false },
  groups: { all: true },
};

/** Long option names (without --) completed with resource names, e.g. a `-G, --group`. */
export const RESOURCE_OPTIONS: readonly string[] = ["group"];

/** Long option names completed with node names. */
export const NODE_OPTIONS: readonly string[] = ["node", "to"];

/** Argument names and long option names completed with the members of the groups. */
export const MEMBER_NAMES: readonly string[] = ["member", "resource"];

/**
 * Long option names completed with fixed words: values taken in any case
 * (Solaris's), which `.choices()` would refuse in lower case.
 */
export const WORD_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  optag: SCHA_OPTAGS,
  tag: RESOURCE_GET_TAG_NAMES,
  status: MEMBER_STATUSES,
};

const SHELLS = ["bash", "zsh", "fish"] as const;

/** Register `hastmon completion <shell>` and the hidden `hastmon complete -- …`. Register it last. */
export function completionRegister(others: readonly Register[]): Register {
  return (program: Command, io: CliIO) => {
    program.command("completion")
      .description("print the shell completion script for bash, zsh or fish")
      .argument("<shell>", "bash, zsh or fish")
      .addHelpText(
        "after",
        `
Resource and node names are read from the configuration when you press TAB
(-c FILE on the command line, else $HASTMON_CONFIG or the default path).

Examples:
  hastmon completion bash > /etc/bash_completion.d/hastmon     (needs bash-completion)
  hastmon completion zsh > "\${fpath[1]}/_hastmon"
  hastmon completion fish > ~/.config/fish/completions/hastmon.fish`,
      )
      .action(async (shell) => {
        if (!(SHELLS as readonly string[]).includes(shell)) {
          throw new CliError(`unknown shell ${JSON.stringify(shell)}: bash, zsh or fish`, EX.USAGE);
        }
        const root = await completionTree(io, others, []);
        root.setup(program.name(), program.name(), shell);
      });

    program.command("complete", { hidden: true })
      .description(
        "completion candidates for the words after --, one per line (used by the scripts)",
      )
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument("[words...]")
      .action(async (words) => {
        const root = await completionTree(io, others, words);
        root.parse(words);
      });
  };
}

/** The value of `-c`/`--config` or `--node` among `words`, if given. */
export function optionValue(
  words: readonly string[],
  short: string | null,
  long: string,
): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w === long || (short !== null && w === short)) && i + 1 < words.length) found = words[++i];
    else if (w.startsWith(`${long}=`)) found = w.slice(long.length + 1);
  }
  return found === "" ? undefined : found;
}

/** Resource and node names of the configuration the words name; none when it cannot be read. */
async function configNames(
  words: readonly string[],
): Promise<{ resources: string[]; nodes: string[]; members: string[] }> {
  const { configPath, loadConfig } = await import("../config/mod.ts");
  try {
    const path = configPath(optionValue(words, "-c", "--config"));
    const loaded = await loadConfig(path, { node: optionValue(words, null, "--node") });
    const resources = loaded.config?.resources ?? [];
    const nodes = new Set(resources.flatMap((r) => r.nodes.map((n) => n.node)));
    const members = new Set(
      resources.flatMap((r) => r.nodes.flatMap((n) => n.members.map((m) => m.name))),
    );
    return { resources: resources.map((r) => r.name), nodes: [...nodes], members: [...members] };
  } catch {
    return { resources: [], nodes: [], members: [] };
  }
}

/**
 * The tab completion tree of a fresh program (every command but these two),
 * with resource and node names from the configuration `words` name.
 */
async function completionTree(io: CliIO, others: readonly Register[], words: readonly string[]) {
  const { default: tab } = await import("@bomb.sh/tab/commander");
  const fresh = buildProgram(io, [...others]);
  // tab is typed against commander's own Command, of which extra-typings' is a typed view.
  const root = tab(fresh as unknown as Parameters<typeof tab>[0], {
    completionCommandName: "completion",
  });
  const names = await configNames(words);
  for (const cmd of [root, ...root.commands.values()]) {
    for (const arg of cmd.arguments.values()) {
      if (MEMBER_NAMES.includes(arg.name)) {
        arg.handler = (complete) => {
          for (const m of names.members) complete(m, "member");
        };
        continue;
      }
      const kind = RESOURCE_ARGUMENTS[arg.name];
      if (!kind) continue;
      arg.handler = (complete) => {
        if (kind.all) complete("all", "every resource");
        for (const r of names.resources) complete(r, "resource");
      };
    }
    for (const [name, option] of cmd.options) {
      if (RESOURCE_OPTIONS.includes(name)) {
        option.handler = (complete) => {
          for (const r of names.resources) complete(r, "resource");
        };
      } else if (NODE_OPTIONS.includes(name)) {
        option.handler = (complete) => {
          for (const n of names.nodes) complete(n, "node");
        };
      } else if (MEMBER_NAMES.includes(name)) {
        option.handler = (complete) => {
          for (const m of names.members) complete(m, "member");
        };
      } else if (Object.hasOwn(WORD_OPTIONS, name)) {
        option.handler = (complete) => {
          for (const w of WORD_OPTIONS[name]) complete(w, "");
        };
      }
    }
  }
  return root;
}
