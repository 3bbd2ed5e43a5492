/** `hastmon daemon`: run this node. Background by default, foreground with -F. */
import { type Command, Option } from "@commander-js/extra-typings";
import { LOG_FORMATS } from "../daemon/log.ts";
import { CONFIG_HELP, NODE_HELP } from "./options.ts";
import { DEFAULT_PIDFILE } from "./daemon_args.ts";
import type { CliIO, Register } from "./main.ts";

/** Register `hastmon daemon`. */
export const registerDaemon: Register = (program: Command, io: CliIO) => {
  program.command("daemon")
    .description("run this node's hastmon daemon")
    .option(
      "-c, --config <file>",
      CONFIG_HELP,
    )
    .option(
      "-d, --debug",
      "more log detail (repeat for more)",
      (_v: string, prev: number) => prev + 1,
      0,
    )
    .option("-F, --foreground", "stay in the foreground and log to standard error")
    .option(
      "-P, --pidfile <file>",
      `pidfile, locked while the daemon runs (default: ${DEFAULT_PIDFILE})`,
    )
    .option("--node <name>", NODE_HELP)
    .option("--log <file>", "log file in the background (default: <state_dir>/hastmon.log)")
    .addOption(
      new Option(
        "--log-format <format>",
        "text, or json: one object per line (time, level, node, resource, event, message, reason)",
      ).choices(LOG_FORMATS).default("text" as const),
    )
    .addHelpText(
      "after",
      `
Signals: SIGTERM (and SIGINT in the foreground) stop or hand over what this node runs as
primary, then exit 0; SIGHUP reloads the configuration (a bad file keeps the old one).

Exit status: 0 after a clean shutdown, 66 no configuration file, 69 another daemon holds the
pidfile, 73 cannot create the pidfile, control socket or listener, 78 invalid configuration.

Examples:
  hastmon daemon -c /usr/local/etc/hastmon.toml
  hastmon daemon -F -d --node alpha -P /tmp/alpha.pid
  hastmon daemon -F --log-format json     one JSON object per log line, for a collector

Identical log lines within a minute (a refused connection, a failing hook) are
written once, then summarised: "… [repeated 312 times in the last 60s]".`,
    )
    .action(async (opts) => {
      const { runDaemon } = await import("./daemon_run.ts");
      await runDaemon(opts, io);
    });
};
