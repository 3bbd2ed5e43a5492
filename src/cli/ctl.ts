/** `hastmon ctl role|status|check|events`: the local daemon, through its control socket. */
import { Argument, type Command, Option } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import { CONFIG_HELP, NODE_HELP, positiveInt } from "./options.ts";
import { type CliIO, type Register, setExitCode } from "./main.ts";
import { ROLES } from "../core/types.ts";
import {
  CONTROL_TIMEOUT_MS,
  ctlAsk as ask,
  ctlSocketPath,
  type SocketOptions,
} from "./control_socket.ts";
import { registerCtlScha } from "./ctl_scha.ts";
import { CHECK, checkLine, type CheckResult, evaluateCheck } from "../control/check.ts";
import { followEvents } from "./follow.ts";
import {
  eventJson,
  formatEvent,
  formatRoleText,
  formatStatusText,
  statusJson,
} from "../control/format.ts";
import type {
  ControlResponse,
  DaemonEvent,
  EventsResult,
  RoleResult,
  StatusResult,
} from "../control/protocol.ts";

const SOCKET_HELP = "control socket (default: `control` of this node in the configuration)";

const EXAMPLES = `
Examples:
  hastmon ctl status                     every resource of this node
  hastmon ctl status web --json          one resource as JSON (docs/STATUS_JSON.md)
  hastmon ctl role secondary all         every resource becomes secondary here; a primary
                                         hands over to its best connected secondary
  hastmon ctl role secondary web --to b  switch web over to node b (refused, exit 75,
                                         when b is not a connected secondary)
  hastmon ctl role primary web           primary here; starts once a peer grants a lease
  hastmon ctl role primary --force web   start without a lease (only when no other
                                         node can possibly run web)
  hastmon ctl restart web                stop and start every member of web here
  hastmon ctl resource-restart web db    restart one member (monitor_stop, stop, start,
                                         monitor_start)
  hastmon ctl giveover web --check       where a giveover would go, what blocks each node
  hastmon ctl giveover web               move web to that node; waits until it runs there
  hastmon ctl check                      one line and 0/1/2/3 for Nagios and friends
  hastmon ctl events --follow            print events as they happen
  hastmon ctl -s /run/h.sock status      the daemon listening on another socket

The control socket is --socket, else \`control\` of this node in the configuration
(-c, --node), else $HASTMON_CONTROL when there is no configuration file at all.

Exit status: 0 done, 64 usage, 65 unknown resource (the known ones are still
shown), 66 configuration file unreadable, 69 no daemon (or it did not answer),
70 daemon or protocol error, 75 refused for now (e.g. the switchover target is
not connected, a giveover blocked by pingpong), 77 permission denied, 78 invalid
configuration. Scripts written for Solaris: \`hastmon scha_control\` and
\`hastmon scha-links\` (docs/SCHA.md).
`;

/** The options of `ctl` that every subcommand sees. */
type CtlOptions = SocketOptions;

const CHECK_HELP = `
Judged from this node's status view:
  CRITICAL  no primary runs anywhere this node knows of; a stop failed here;
            no daemon answers on the control socket (or it does not answer in time)
  WARNING   no watchdog reachable (no automatic failover); a primary with no
            secondary connected; a forced primary; this node in init
  UNKNOWN   an unknown resource; an unreadable configuration; permission denied
  OK        otherwise
The worst resource comes first in the line.

Examples:
  hastmon ctl check                      every resource of this node
  hastmon ctl check web                  one resource
  # Nagios / Icinga (NRPE): command[hastmon]=/usr/local/sbin/hastmon ctl check
`;

const ROLE_HELP = `
What each role does here:
  primary    run the resource once a peer grants a lease; a primary elsewhere yields
  secondary  stop it here; on the primary, hand it at once to the best connected
             secondary (or --to NODE), which keeps it: it does not come back by itself
  init       stop it here and take no part; watchdog: run nothing, watch the others

Examples:
  hastmon ctl role secondary all         hand everything this node runs to another node
  hastmon ctl role secondary web --to b  switch web over to node b
  hastmon ctl role primary web           take web here (the primary elsewhere yields)
  hastmon ctl role init web              stop web here and leave it alone

Exit status: 0 done, 64 usage, 65 unknown resource (the others are changed),
66/78 configuration unreadable/invalid, 69 no daemon, 75 refused for now (the --to
node is not a connected secondary; nothing changed), 77 permission denied.
`;

const STATUS_HELP = `
The original hastmonctl layout, extended with the epoch, lease, takeover wait, group
state, last transition and notes: what is going on and what blocks what. A remote a
watchdog shows as role/state is that peer's last word, "disconnected" when it is old.

Examples:
  hastmon ctl status                     every resource of this node
  hastmon ctl status web db              two of them
  hastmon ctl status --json | jq -r '.resources[] | "\\(.name) \\(.role) \\(.state)"'

Exit status: 0 shown, 64 usage, 65 an unknown resource (the known ones are shown),
66/78 configuration unreadable/invalid, 69 no daemon (or it did not answer),
70 daemon error, 77 permission denied.
`;

const EVENTS_HELP = `
One line per event: TIME NODE RESOURCE LEVEL KIND: TEXT (KIND transition, log, hook
or reload); --json prints one object per line (docs/STATUS_JSON.md).

Examples:
  hastmon ctl events -n 20               the last 20 events
  hastmon ctl events --follow --json     a feed for a collector, reconnecting on restarts

Exit status: 0 done, 64 usage, 66/78 configuration unreadable/invalid, 69 no
daemon, 77 permission denied; --follow runs until interrupted (130 after Ctrl-C).
`;

/** Register `hastmon ctl …`. */
export const registerCtl: Register = (program: Command, io: CliIO) => {
  const ctl = program.command("ctl")
    .description("change roles, show status and follow events of the daemon on this node")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .option("-s, --socket <path>", SOCKET_HELP)
    // Without "[options]" (each command's help lists them), the longest command line
    // stays short enough for commander to wrap the descriptions beside it.
    .configureHelp({
      subcommandTerm: (cmd) => [cmd.name(), ...cmd.registeredArguments.map(argumentTerm)].join(" "),
    })
    .addHelpText("after", EXAMPLES);

  ctl.command("role")
    .description("set the role of resources on this node, as hastmonctl role")
    .addArgument(new Argument("<role>", "the new role").choices(ROLES))
    .argument("<resources...>", "all, or resource names")
    .addOption(
      new Option(
        "--force",
        "with primary: start without waiting for a lease; if another node runs the " +
          "resource, both will (the operator's risk)",
      ),
    )
    .option(
      "--to <node>",
      "with secondary, on the primary: the secondary to hand over to (default: the best " +
        "connected one)",
    )
    .addHelpText("after", ROLE_HELP)
    .action(async (role, resources, opts, cmd) => {
      const target = resourceList(resources);
      if (target === undefined) throw new CliError("role needs `all` or resource names", EX.USAGE);
      if (opts.force && role !== "primary") {
        throw new CliError("--force only applies to `role primary`", EX.USAGE);
      }
      if (opts.to !== undefined && role !== "secondary") {
        throw new CliError("--to only applies to `role secondary`", EX.USAGE);
      }
      if (opts.force) {
        io.err(
          "hastmon: warning: --force starts the resource without a lease: nothing stops " +
            "another node from running it at the same time\n",
        );
      }
      const response = await ask(
        cmd.optsWithGlobals() as CtlOptions,
        (c) =>
          c.request({
            type: "role",
            role,
            resources: target,
            force: opts.force === true,
            ...(opts.to !== undefined ? { to: opts.to } : {}),
          }),
      );
      const result = answer<RoleResult>(response, isRoleResult);
      if (result) io.out(formatRoleText(result));
      unknownResources(response);
    });

  ctl.command("status")
    .description("show the status of resources on this node (no names: all)")
    .argument("[resources...]", "all, or resource names")
    .option("--json", "print JSON (versioned schema, durations in seconds; docs/STATUS_JSON.md)")
    .addHelpText("after", STATUS_HELP)
    .action(async (resources, opts, cmd) => {
      const names = resourceList(resources);
      const response = await ask(
        cmd.optsWithGlobals() as CtlOptions,
        (c) =>
          c.request(
            names === "all" || names === undefined ? { type: "status" } : {
              type: "status",
              resources: names,
            },
          ),
      );
      const result = answer<StatusResult>(response, isStatusResult);
      if (result) {
        io.out(
          opts.json ? JSON.stringify(statusJson(result), null, 2) + "\n" : formatStatusText(result),
        );
      }
      unknownResources(response);
    });

  ctl.command("check")
    .description(
      "one line for Nagios-style monitoring; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
    )
    .argument("[resources...]", "resource names (default: all)")
    .addHelpText("after", CHECK_HELP)
    .action(async (resources, _opts, cmd) => {
      let verdict: CheckResult;
      try {
        const names = resourceList(resources);
        const response = await ask(
          cmd.optsWithGlobals() as CtlOptions,
          (c) =>
            c.request(
              names === "all" || names === undefined ? { type: "status" } : {
                type: "status",
                resources: names,
              },
            ),
        );
        const result = answer<StatusResult>(response, isStatusResult);
        const unknown = response.ok ? [] : response.error.unknown ?? [];
        verdict = result
          ? evaluateCheck(result, unknown)
          : checkLine(CHECK.UNKNOWN, `unknown resource: ${unknown.join(", ")}`);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        // No daemon answering is the daemon's failure; anything else keeps us from judging.
        verdict = checkLine(
          e.code === EX.UNAVAILABLE ? CHECK.CRITICAL : CHECK.UNKNOWN,
          e.message.split("\n")[0],
        );
      }
      io.out(verdict.line + "\n");
      setExitCode(verdict.code);
    });

  ctl.command("events")
    .description("print the daemon's recent events in order; with --follow, then every new one")
    .option(
      "-f, --follow",
      "keep printing events as they happen, until interrupted; a daemon that restarts " +
        "is reconnected to (said on stderr)",
    )
    .option("--json", "one JSON object per line (docs/STATUS_JSON.md)")
    .option("-n, --limit <count>", "at most this many recent events first", positiveInt)
    .addHelpText("after", EVENTS_HELP)
    .action(async (opts, cmd) => {
      const print = (e: DaemonEvent) => io.out((opts.json ? eventJson(e) : formatEvent(e)) + "\n");
      const limit = opts.limit === undefined ? {} : { limit: opts.limit };
      try {
        if (opts.follow) {
          const path = await ctlSocketPath(cmd.optsWithGlobals() as CtlOptions);
          await followEvents(path, print, { ...limit, timeoutMs: CONTROL_TIMEOUT_MS }, io);
          return;
        }
        const response = await ask(
          cmd.optsWithGlobals() as CtlOptions,
          (c) => c.request({ type: "events", ...limit }),
        );
        const result = answer<EventsResult>(response, isEventsResult);
        for (const e of result?.events ?? []) print(e);
      } catch (e) {
        // `ctl events | head`: the reader left, which is not an error.
        if (e instanceof Deno.errors.BrokenPipe) return;
        throw e;
      }
    });

  registerCtlScha(ctl, io);
};

/** An argument as commander's usage shows it: `<name>`, `[name]`, `<name...>`. */
function argumentTerm(arg: { name(): string; required: boolean; variadic: boolean }): string {
  const name = arg.name() + (arg.variadic ? "..." : "");
  return arg.required ? `<${name}>` : `[${name}]`;
}

/** `all` alone means every resource; `all` among names is a mistake. */
function resourceList(names: string[]): string[] | "all" | undefined {
  if (names.length === 0) return undefined;
  if (names.includes("all")) {
    if (names.length > 1) throw new CliError("`all` cannot be combined with names", EX.USAGE);
    return "all";
  }
  return names;
}

/**
 * The result to print: the whole result, the known part with
 * `unknown_resource`, or a CliError (70) for any other refusal or a result
 * of the wrong shape.
 */
function answer<T>(response: ControlResponse, valid: (v: unknown) => v is T): T | undefined {
  if (!response.ok && response.error.code === "refused") {
    throw new CliError(response.error.message, EX.TEMPFAIL);
  }
  if (!response.ok && response.error.code !== "unknown_resource") {
    throw new CliError(
      `the daemon refused the request (${response.error.code}): ${response.error.message}`,
      EX.SOFTWARE,
    );
  }
  const result = response.result;
  if (result === undefined && !response.ok) return undefined;
  if (!valid(result)) {
    throw new CliError("the daemon's answer has an unexpected shape", EX.SOFTWARE);
  }
  return result;
}

/** After printing the known ones: list the unknown ones on stderr and exit 65. */
function unknownResources(response: ControlResponse): void {
  if (response.ok) return;
  const unknown = response.error.unknown ?? [];
  throw new CliError(
    unknown.length > 0
      ? `unknown resource${unknown.length === 1 ? "" : "s"}: ${unknown.join(", ")}`
      : response.error.message,
    EX.DATAERR,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStatusResult(v: unknown): v is StatusResult {
  return isObject(v) && Array.isArray(v.resources) && typeof v.node === "string";
}

function isRoleResult(v: unknown): v is RoleResult {
  return isObject(v) && Array.isArray(v.changed);
}

function isEventsResult(v: unknown): v is EventsResult {
  return isObject(v) && Array.isArray(v.events);
}
