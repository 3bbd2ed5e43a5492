/**
 * `hastmon ctl restart|resource-restart|giveover`: scha_control for people.
 * The same requests as the Solaris command, through the same executor in the
 * daemon, answered with sysexits codes and, for a giveover, the plan: which
 * node would take the group and what blocks every other one.
 */
import type { Command } from "@commander-js/extra-typings";
import { CliError } from "./exit.ts";
import type { CliIO } from "./main.ts";
import { ctlAsk, type SocketOptions } from "./control_socket.ts";
import { schaResultOf, sysexitOfScha } from "./scha_result.ts";
import type { ControlRequestInput } from "../control/client.ts";
import type { SchaResult } from "../control/protocol.ts";
import { formatGiveoverPlan, schaErrName, schaJson } from "../control/format_scha.ts";

const EXIT_HELP = `
Exit status: 0 done, 64 usage, 65 no such group or member, 69 no daemon,
70 the daemon failed (e.g. a stop failed), 75 refused for now: a request or
transition under way, the group not online here, or refused by failover_mode,
restart budget, pingpong, monitor_check or no eligible node (the message says
which; retry or act on it), 77 permission denied. --json prints the answer with
its SCHA_ERR number (docs/SCHA.md).`;

/** Send one scha request (no deadline: it answers once done) and check the answer. */
async function schaRequest(
  opts: SocketOptions,
  request: ControlRequestInput & { type: "scha" },
): Promise<SchaResult> {
  const response = await ctlAsk(opts, (c) => c.request(request, { timeoutMs: null }));
  try {
    return schaResultOf(response);
  } catch (e) {
    if (e instanceof CliError) throw new CliError(e.message, sysexitOfScha(e.code));
    throw e;
  }
}

/**
 * Print the answer (JSON, or the message and the plan when asked for or
 * when it explains a refusal) and exit with its sysexits code.
 */
function report(io: CliIO, result: SchaResult, json: boolean, showPlan: boolean): void {
  if (json) io.out(JSON.stringify(schaJson(result), null, 2) + "\n");
  else {
    if (result.code === 0) io.out(`${result.message}\n`);
    if (result.plan && (showPlan || result.code !== 0)) {
      io.out(formatGiveoverPlan(result.plan, Date.now()));
    }
  }
  if (result.code !== 0) {
    throw new CliError(
      `${schaErrName(result.code)}: ${result.message}`,
      sysexitOfScha(result.code),
    );
  }
}

/** Register the friendly forms of scha_control under `ctl`. */
export function registerCtlScha(ctl: Command, io: CliIO): void {
  ctl.command("restart")
    .description(
      "restart a resource group here (scha_control RESTART); waits until it has started again",
    )
    .argument("<group>", "the resource group (a resource of the configuration)")
    .option("--json", "print the answer as JSON")
    .addHelpText(
      "after",
      `
Every member stops (monitor_stop, stop) in reverse order, then starts (start,
monitor_start) in order. Counted in NUM_RG_RESTARTS. Refused unless the group
is online on this node.

Examples:
  hastmon ctl restart web
  hastmon ctl restart web --json
${EXIT_HELP}`,
    )
    .action(async (group, opts, cmd) => {
      const result = await schaRequest(cmd.optsWithGlobals() as SocketOptions, {
        type: "scha",
        group,
        optag: "RESTART",
      });
      report(io, result, opts.json === true, false);
    });

  ctl.command("resource-restart")
    .description("restart one member of a group here (scha_control RESOURCE_RESTART)")
    .argument("<group>", "the resource group")
    .argument("<member>", "its member")
    .option("--json", "print the answer as JSON")
    .addHelpText(
      "after",
      `
Runs the member's monitor_stop, stop, start and monitor_start here; the other
members keep running. Counted in its restart budget (retry_count within
retry_interval): with failover_mode RESTART_ONLY a restart beyond it is refused.

Examples:
  hastmon ctl resource-restart web httpd
${EXIT_HELP}`,
    )
    .action(async (group, member, opts, cmd) => {
      const result = await schaRequest(cmd.optsWithGlobals() as SocketOptions, {
        type: "scha",
        group,
        optag: "RESOURCE_RESTART",
        member,
      });
      report(io, result, opts.json === true, false);
    });

  ctl.command("giveover")
    .description(
      "move a resource group to another node (scha_control GIVEOVER), or --check where it would go",
    )
    .argument("<group>", "the resource group")
    .option("--to <node>", "the node to give it to (default: the best eligible one)")
    .option("--check, --dry-run", "change nothing: print the plan (CHECK_GIVEOVER)")
    .option("--json", "print the answer, with the plan, as JSON")
    .addHelpText(
      "after",
      `
The target is the connected secondary of best priority that no pingpong mark
blocks and whose members' monitor_check agree. Once given over, the group may
not come back to this node by a giveover before pingpong_interval has passed.

Examples:
  hastmon ctl giveover web --check       where it would go, and why not elsewhere:
                                           target: beta
                                             beta   target
                                             gamma  blocked: pingpong: …, until 13:05 (in 58m12s)
  hastmon ctl giveover web               move it (to beta, as above)
  hastmon ctl giveover web --to gamma    only to gamma; refused (75) when gamma may not
${EXIT_HELP}`,
    )
    .action(async (group, opts, cmd) => {
      const result = await schaRequest(cmd.optsWithGlobals() as SocketOptions, {
        type: "scha",
        group,
        optag: opts.dryRun ? "CHECK_GIVEOVER" : "GIVEOVER",
        ...(opts.to !== undefined ? { to: opts.to } : {}),
      });
      report(io, result, opts.json === true, opts.dryRun === true);
    });
}
