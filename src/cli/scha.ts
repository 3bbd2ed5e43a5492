/**
 * The Solaris Cluster commands that fault-monitor scripts call, under their
 * own names: `hastmon scha_control`, `scha_resource_get` and
 * `scha_resource_setstatus`, with Solaris's options and exit numbers (the
 * SCHA_ERR numbers of scha_calls(3HA), 0–18, never more), and
 * `hastmon scha-links DIR`, which puts `scha_control` and friends on a PATH
 * (docs/SCHA.md).
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { type CliIO, type Register, setUsageExitCode } from "./main.ts";
import { CONFIG_HELP, NODE_HELP } from "./options.ts";
import {
  CONTROL_TIMEOUT_MS,
  schaSocketPath,
  type SocketOptions,
  SocketPathError,
  withClient,
} from "./control_socket.ts";
import { parseGetTag, RESOURCE_GET_TAG_NAMES, resourceGetText } from "./scha_get.ts";
import { registerSchaLinks } from "./scha_links.ts";
import { type ControlClient, ControlClientError } from "../control/client.ts";
import type { ControlResponse, SchaResult, StatusResult } from "../control/protocol.ts";
import { schaError, schaResultOf } from "./scha_result.ts";
import { SCHA_ERR } from "../core/scha.ts";
import { MEMBER_STATUSES, SCHA_OPTAGS } from "../core/types.ts";
import type { MemberStatus, ResourceStatus } from "../core/status.ts";

const SOCKET_HELP = "control socket (default: $HASTMON_CONTROL, else `control` in the " +
  "configuration, else /var/run/hastmonctl)";

const EXIT_HELP = `
The daemon is found at --socket, else $HASTMON_CONTROL (set by the daemon for
every hook, so a monitor started by monitor_start finds it), else \`control\` of
this node in the configuration (-c, --node), else /var/run/hastmonctl.

Exit status: the SCHA_ERR numbers of Solaris (scha_calls(3HA)):
   0  NOERR     done
   3  INVAL     usage error or bad argument
   4  TAG       unknown optag or tag, or one hastmon does not carry out
   5  RECONF    another request, a start or a stop is under way: retry later
   6  ACCESS    permission denied on the control socket
   9  STATE     the group is not online on this node
  11  NODE      not another node of the group
  12  RG        no such resource group
  14  RSRC      no such member of the group
  16  CHECKS    refused: failover_mode, restart budget, pingpong, monitor_check, no node
  17  RSTATUS   not a status value
  18  INTERNAL  no daemon answers on the socket (named in the message), or it failed
See docs/SCHA.md for what each optag does in hastmon.
`;

/** The daemon's socket for a scha_* command; a problem finding it is a SCHA_ERR. */
async function socketFor(opts: SocketOptions): Promise<string> {
  try {
    return await schaSocketPath(opts);
  } catch (e) {
    if (!(e instanceof SocketPathError)) throw e;
    throw schaError(e.message, e.kind === "usage" ? SCHA_ERR.INVAL : SCHA_ERR.INTERNAL);
  }
}

/** Connect and run `call`; no daemon, no answer or a broken one are SCHA_ERR_INTERNAL. */
async function schaAsk<T>(
  opts: SocketOptions,
  call: (client: ControlClient) => Promise<T>,
): Promise<T> {
  const path = await socketFor(opts);
  try {
    return await withClient(path, call);
  } catch (e) {
    if (!(e instanceof ControlClientError)) throw e;
    throw schaError(e.message, e.kind === "permission" ? SCHA_ERR.ACCESS : SCHA_ERR.INTERNAL);
  }
}

/** Exit with the result's number; say why on stderr when it is not 0. */
function finish(what: string, result: SchaResult): void {
  if (result.code !== 0) throw schaError(`${what}: ${result.message}`, result.code);
}

/** Refuse Solaris's -Z (zone clusters have no meaning here, scha-semantics.md §9.6). */
function noZone(zone: string | undefined): void {
  if (zone !== undefined) {
    throw schaError("-Z: hastmon has no zone clusters (docs/SCHA.md)", SCHA_ERR.INVAL);
  }
}

/** Solaris's -Z, refused with SCHA_ERR_INVAL when given (not listed in the help). */
function zoneOption() {
  return new Option("-Z <zone>", "zone cluster (not supported: exit 3)").hideHelp();
}

/** Register the Solaris commands and `scha-links`. */
export const registerScha: Register = (program: Command, io: CliIO) => {
  const control = program.command("scha_control")
    .description(
      "Solaris scha_control: restart a group or member, or give the group to another node; " +
        "blocks until done",
    )
    .requiredOption(
      "-O, --optag <optag>",
      `${SCHA_OPTAGS.join(", ")} (any case)`,
    )
    .requiredOption("-G, --group <group>", "the resource group (a hastmon resource)")
    .requiredOption("-R, --resource <member>", "the member of the group that asks")
    .option("-s, --socket <path>", SOCKET_HELP)
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .addOption(zoneOption())
    .addHelpText(
      "after",
      `
Examples:
  scha_control -O RESOURCE_RESTART -G web -R httpd   restart one member here
  scha_control -O GIVEOVER -G web -R httpd           move the group to another node
  scha_control -O CHECK_GIVEOVER -G web -R httpd     would a GIVEOVER be accepted?

RESTART and RESOURCE_RESTART return once the group (member) has started again;
GIVEOVER once it runs on another node. A monitor that asks for either may be
stopped (monitor_stop) before it sees the answer: that is the normal outcome.
${EXIT_HELP}`,
    )
    .action(async (opts) => {
      noZone(opts.Z);
      const result = await schaAsk(opts, async (c) =>
        schaResultOf(
          // Blocks as Solaris does: a restart answers once the group has started again.
          await c.request(
            { type: "scha", group: opts.group, optag: opts.optag, member: opts.resource },
            { timeoutMs: null },
          ),
        ));
      finish(`scha_control ${opts.optag.toUpperCase()} of ${opts.group}`, result);
    });
  setUsageExitCode(control, SCHA_ERR.INVAL);

  const get = program.command("scha_resource_get")
    .description("Solaris scha_resource_get: a member's restart counts, state, status or settings")
    .requiredOption("-O, --tag <tag>", `${RESOURCE_GET_TAG_NAMES.join(", ")} (any case)`)
    .requiredOption("-R, --resource <member>", "the member")
    .option(
      "-G, --group <group>",
      "its resource group (optional, as on Solaris, when the member's name is unique)",
    )
    .option("-s, --socket <path>", SOCKET_HELP)
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .addOption(zoneOption())
    .addHelpText(
      "after",
      `
Printed as Solaris prints it: a number as one line, a state or mode as its
name, STATUS as two lines (OK|DEGRADED|FAULTED|UNKNOWN|OFFLINE, then the
message). RETRY_INTERVAL and THOROUGH_PROBE_INTERVAL are in whole seconds.

Examples:
  scha_resource_get -O NUM_RESOURCE_RESTARTS -G web -R httpd
  scha_resource_get -O RETRY_COUNT -R httpd
  scha_resource_get -O STATUS -G web -R httpd | head -1
${EXIT_HELP}`,
    )
    .action(async (opts) => {
      noZone(opts.Z);
      const tag = parseGetTag(opts.tag);
      if (tag === null) {
        throw schaError(
          `unknown tag ${JSON.stringify(opts.tag)} (hastmon answers ${
            RESOURCE_GET_TAG_NAMES.join(", ")
          })`,
          SCHA_ERR.TAG,
        );
      }
      const status = await schaAsk(
        opts,
        (c) =>
          c.request(
            opts.group === undefined ? { type: "status" } : {
              type: "status",
              resources: [opts.group],
            },
            { timeoutMs: CONTROL_TIMEOUT_MS },
          ),
      );
      const { group, member } = findMember(status, opts.group, opts.resource);
      io.out(resourceGetText(tag, group, member));
    });
  setUsageExitCode(get, SCHA_ERR.INVAL);

  const setStatus = program.command("scha_resource_setstatus")
    .description("Solaris scha_resource_setstatus: what a fault monitor says of a member")
    .requiredOption("-G, --group <group>", "the resource group")
    .requiredOption("-R, --resource <member>", "the member")
    .requiredOption("-s, --status <status>", `${MEMBER_STATUSES.join(", ")} (any case)`)
    .option("-m, --message <text>", "a message shown with the status")
    .option("--socket <path>", SOCKET_HELP)
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--node <name>", NODE_HELP)
    .addOption(zoneOption())
    .addHelpText(
      "after",
      `
The status is what \`ctl status\` and scha_resource_get -O STATUS show; the
daemon does not act on it. (-s is the status here, as on Solaris: the socket
is --socket.)

Examples:
  scha_resource_setstatus -G web -R httpd -s DEGRADED -m "slow answers (2.5 s)"
  scha_resource_setstatus -G web -R httpd -s OK
${EXIT_HELP}`,
    )
    .action(async (opts) => {
      noZone(opts.Z);
      const result = await schaAsk(opts, async (c) =>
        schaResultOf(
          await c.request({
            type: "setstatus",
            group: opts.group,
            member: opts.resource,
            status: opts.status,
            ...(opts.message !== undefined ? { message: opts.message } : {}),
          }),
        ));
      finish(`scha_resource_setstatus of ${opts.group}/${opts.resource}`, result);
    });
  setUsageExitCode(setStatus, SCHA_ERR.INVAL);

  registerSchaLinks(program, io);
};

/**
 * The group and member a scha_resource_get names, from a status answer:
 * no such group is SCHA_ERR_RG, no such member SCHA_ERR_RSRC; without -G the
 * member's name must be unique among the groups (else SCHA_ERR_INVAL).
 */
function findMember(
  response: ControlResponse,
  groupName: string | undefined,
  memberName: string,
): { group: ResourceStatus; member: MemberStatus } {
  if (!response.ok && response.error.code === "unknown_resource") {
    throw schaError(`no resource group ${groupName ?? ""}`.trimEnd(), SCHA_ERR.RG);
  }
  if (!response.ok) {
    throw schaError(
      `the daemon refused the request: ${response.error.message}`,
      response.error.code === "bad_request" ? SCHA_ERR.INVAL : SCHA_ERR.INTERNAL,
    );
  }
  const result = response.result as Partial<StatusResult> | null;
  if (!Array.isArray(result?.resources)) {
    throw schaError("the daemon's answer has an unexpected shape", SCHA_ERR.INTERNAL);
  }
  const found = result.resources.flatMap((group) =>
    (group.members ?? []).filter((m) => m.name === memberName).map((member) => ({ group, member }))
  );
  if (found.length === 0) {
    throw schaError(
      groupName === undefined
        ? `no group of this node has a member ${memberName}`
        : `${memberName} is not a member of ${groupName}`,
      SCHA_ERR.RSRC,
    );
  }
  if (found.length > 1) {
    throw schaError(
      `member ${memberName} is in groups ${found.map((f) => f.group.resource).join(", ")}: ` +
        `give -G GROUP`,
      SCHA_ERR.INVAL,
    );
  }
  return found[0];
}
