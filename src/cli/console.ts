/**
 * `hastmon tui` (the terminal console), `hastmon demo` (a three-node cluster
 * on loopback with the console and faults at a key) and the demo's hidden
 * `demo-service`. Ink and React are imported inside the actions of tui and
 * demo only, so that daemon and ctl never load them.
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import { CONFIG_HELP } from "./options.ts";
import type { CliIO, Register } from "./main.ts";
import { ctlSocketPath } from "./control_socket.ts";

const TUI_EXAMPLES = `
Examples:
  hastmon tui                              the local daemon (and what it hears of its peers)
  hastmon tui --node alpha --node beta     the daemons of alpha and beta, merged
  hastmon tui -s /run/a.sock -s /run/b.sock

Each cell of the matrix is the node's role, state and epoch, from its own daemon when the
console reaches it, else from a peer's heartbeats (~ and how old). Keys: arrows or j/k
select, enter details, r change a role, s switch over, g give over (the group's
GIVEOVER), ? help, q quit; r, s and g show a dry-run plan and ask before sending anything.

Exit status: 0 on quit, 64 when standard input or output is not a terminal (use
\`hastmon ctl status --json\` or \`hastmon ctl events --follow --json\` in scripts),
66 or 78 when the configuration cannot tell where a daemon listens.
`;

const DEMO_HELP = `
Everything lives in a temporary directory, removed on exit: a configuration with fast
intervals (heartbeat 0.25 s), a sample service (a web page on a loopback port naming the
node that serves it), three daemons (nodeA primary, nodeB secondary, nodeC watchdog)
connected through a relay the demo controls, and the console on all three.

Fault keys: 1 kill the primary node (kill -9 of daemon, guard and service), 2 freeze the
primary's daemon (SIGSTOP; again: SIGCONT), 3 cut nodeA–nodeB, 4 isolate the primary,
5 heal every link, 6 bring killed nodes back. q or Ctrl-C stops everything.
No root, no configuration, no network beyond loopback.
`;

/**
 * The console's entry module, imported by a specifier Deno cannot read ahead
 * of time: Deno resolves every dynamic import written as a literal string
 * when the program starts, and the console's (Ink, React and their npm
 * packages) cost every command about 0.1 s and 7 MB, daemon and ctl
 * included (docs/BENCHMARKS.md). scripts/build.ts bundles it as a second
 * entry and points this exact expression at the bundled file.
 */
export const TUI_ENTRY = new URL("../../tui/run.tsx", import.meta.url).href;
/** What {@link TUI_ENTRY} exports (a type: nothing is loaded for it at run time). */
type TuiEntry = typeof import("../../tui/run.tsx");

/** Every value of a repeated option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError("expected a port number (1–65535)");
  }
  return n;
}

/** The console needs a terminal on both ends; say so plainly rather than fail inside Ink. */
function requireTerminal(what: string): void {
  const missing = [
    ...(Deno.stdin.isTerminal() ? [] : ["standard input"]),
    ...(Deno.stdout.isTerminal() ? [] : ["standard output"]),
  ];
  if (missing.length > 0) {
    throw new CliError(
      `${what} needs a terminal, and ${missing.join(" and ")} ${
        missing.length > 1 ? "are" : "is"
      } not one; in scripts use \`hastmon ctl status --json\` or ` +
        "`hastmon ctl events --follow --json`",
      EX.USAGE,
    );
  }
}

/** Register `hastmon tui`, `hastmon demo` and the hidden `hastmon demo-service`. */
export const registerConsole: Register = (program: Command, io: CliIO) => {
  program.command("tui")
    .description("the terminal console: every resource on every node, live")
    .option("-c, --config <file>", CONFIG_HELP)
    .option(
      "--node <name>",
      "a node whose daemon to show, its `control` socket from the configuration (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "-s, --socket <path>",
      "a daemon's control socket (repeatable)",
      collect,
      [] as string[],
    )
    .addHelpText("after", TUI_EXAMPLES)
    .action(async (opts) => {
      // Each daemon found as `ctl` finds its own (--socket, or `control` of the node).
      const sockets: string[] = [];
      for (const socket of opts.socket) sockets.push(await ctlSocketPath({ socket }));
      for (const node of opts.node) {
        sockets.push(await ctlSocketPath({ config: opts.config, node }));
      }
      if (sockets.length === 0) sockets.push(await ctlSocketPath({ config: opts.config }));
      requireTerminal("the console");
      const { runConsole }: TuiEntry = await import(TUI_ENTRY);
      await runConsole(sockets);
    });

  program.command("demo")
    .description("try it: three nodes on loopback, the console, and faults at a keystroke")
    .addHelpText("after", DEMO_HELP)
    .action(async () => {
      requireTerminal("the demo");
      const { runDemo }: TuiEntry = await import(TUI_ENTRY);
      await runDemo(io);
    });

  program.command("demo-service", { hidden: true })
    .description("the demo's sample service: a page naming the node that serves it")
    .requiredOption("--port <port>", "loopback port", port)
    .requiredOption("--node <name>", "the node serving it")
    .option("--epoch <epoch>", "the epoch it was started under", "?")
    .action(async (opts) => {
      const { serveDemoPage } = await import("../demo/service.ts");
      try {
        await serveDemoPage(opts.port, opts.node, opts.epoch);
      } catch (e) {
        if (e instanceof Deno.errors.AddrInUse) {
          throw new CliError(`127.0.0.1:${opts.port} is taken`, EX.UNAVAILABLE);
        }
        throw e;
      }
    });
};
