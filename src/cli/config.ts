/** `hastmon config check|show|convert`: the configuration file, checked, explained, converted. */

import type { Command } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import { CONFIG_HELP, NODE_HELP } from "./options.ts";
import { type CliIO, type Register, setExitCode } from "./main.ts";
import {
  ConfigFileError,
  configPath,
  loadConfig,
  type LoadResult,
  renderCheck,
  renderShow,
  showJson,
} from "../config/mod.ts";
import { byPosition, formatDiagnostic } from "../config/diagnostics.ts";
import { preflight } from "../config/preflight.ts";
import { validateResource } from "../daemon/validate.ts";
import { convertLegacy } from "../config/legacy/convert.ts";
import { LegacyConfigError } from "../config/legacy/parser.ts";

async function load(opts: { config?: string; node?: string }): Promise<LoadResult> {
  try {
    return await loadConfig(configPath(opts.config), { node: opts.node });
  } catch (e) {
    if (e instanceof ConfigFileError) throw new CliError(e.message, EX.NOINPUT);
    throw e;
  }
}

/** Register `hastmon config …`. */
export const registerConfig: Register = (program: Command, io: CliIO) => {
  const config = program.command("config")
    .description("check, show and convert the configuration file");

  config.command("check")
    .description(
      "validate the configuration and the timing rule; print every error as file:line:col: message",
    )
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .option(
      "--no-preflight",
      "do not check that this node's programs (exec, methods, panic, fence) exist and are executable, nor run the members' validate (for a file checked on another machine)",
    )
    .addHelpText(
      "after",
      `
Examples:
  hastmon config check                             this node, its programs and validate included
  hastmon config check -c new.toml --node beta     as beta sees it, on beta
  hastmon config check --node beta --no-preflight  beta's view, checked elsewhere

Errors and warnings go to standard error, the summary and the timing table to
standard output. Every key is described in docs/CONFIG.md.

Exit status: 0 valid (warnings allowed), 64 usage, 66 the file cannot be read,
78 invalid (every error printed as file:line:col: message).`,
    )
    .action(async (opts) => {
      const result = await load(opts);
      if (opts.preflight && result.config !== null) {
        const cfg = result.config;
        const missing = await preflight(cfg);
        result.errors.push(...missing);
        // The members' own checks, for resources whose programs all exist.
        for (const res of cfg.resources) {
          if (!res.self || missing.some((e) => e.resource === res.name)) continue;
          for (const f of await validateResource(cfg, res.self)) {
            result.errors.push({
              file: cfg.file,
              line: f.line ?? res.self.pos.line,
              col: f.col ?? res.self.pos.col,
              message: f.message,
              resource: f.resource,
            });
          }
        }
        result.errors.sort(byPosition);
      }
      const { out, err } = renderCheck(result);
      io.out(out);
      io.err(err);
      if (result.errors.length > 0) setExitCode(EX.CONFIG);
    });

  config.command("show")
    .description("print the effective settings after inheritance, with where each comes from")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .option("--json", "print JSON (versioned schema, durations in seconds)")
    .addHelpText(
      "after",
      `
Examples:
  hastmon config show                        this node's effective settings and their origin
  hastmon config show --node beta            as beta sees the same file
  hastmon config show --json | jq '.resources[].settings.heartbeat_interval.value'

Exit status: 0 shown, 64 usage, 66 the file cannot be read, 78 invalid (the errors
on standard error; what could be read is still shown).`,
    )
    .action(async (opts) => {
      const result = await load(opts);
      for (const e of result.errors) io.err(formatDiagnostic(e) + "\n");
      if (result.config !== null) {
        io.out(
          opts.json
            ? JSON.stringify(showJson(result.config), null, 2) + "\n"
            : renderShow(result.config),
        );
      }
      if (result.errors.length > 0) setExitCode(EX.CONFIG);
    });

  config.command("convert")
    .description("convert an original hastmon.conf into hastmon.toml, printed on standard output")
    .argument("<file>", "the hastmon.conf to convert")
    .addHelpText(
      "after",
      `
Where the original behaved otherwise than its text suggests, a # NOTE: comment
says so, and standard error says how many there are (docs/CONFIG.md).

Examples:
  hastmon config convert /usr/local/etc/hastmon.conf > hastmon.toml
  hastmon config check -c hastmon.toml --no-preflight   then check the result

Exit status: 0 converted, 64 usage, 66 the file cannot be read, 78 a syntax error
in the original (file:line:col: message).`,
    )
    .action(async (file) => {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (e) {
        const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
        throw new CliError(`cannot read ${file}: ${why}`, EX.NOINPUT);
      }
      try {
        const { toml, notes } = convertLegacy(text, file);
        io.out(toml);
        if (notes > 0) {
          io.err(
            `hastmon: ${notes} difference${
              notes === 1 ? " is" : "s are"
            } marked with NOTE comments\n`,
          );
        }
      } catch (e) {
        if (!(e instanceof LegacyConfigError)) throw e;
        io.err(`${file}:${e.line}:${e.col}: ${e.message}\n`);
        setExitCode(EX.CONFIG);
      }
    });
};
