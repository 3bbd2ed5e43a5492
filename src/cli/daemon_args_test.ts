import { assertEquals } from "../../tests/assert.ts";
import type { Command } from "@commander-js/extra-typings";
import { type DaemonOptions, parsePlainDaemonArgs, PLAIN_DAEMON_OPTIONS } from "./daemon_args.ts";
import { buildProgram } from "./main.ts";
import { registerDaemon } from "./daemon.ts";

const quiet = { out: () => {}, err: () => {} };

/** commander's reading of `daemon ARGS` (the command line's), or null when it refuses them. */
async function commanderReads(args: string[]): Promise<DaemonOptions | null> {
  const program = buildProgram(quiet, [registerDaemon]);
  const daemon = (program.commands as Command[]).find((c) => c.name() === "daemon")!;
  let read: DaemonOptions | null = null;
  daemon.action((opts: unknown) => {
    read = opts as DaemonOptions;
  });
  try {
    await program.parseAsync(["daemon", ...args], { from: "user" });
  } catch {
    return null;
  }
  return read;
}

const PLAIN: string[][] = [
  [],
  ["-F"],
  ["-F", "-d"],
  ["-dF"],
  ["-dd", "-d"],
  ["--debug", "--debug", "--foreground"],
  ["-c", "/etc/hastmon.toml"],
  ["--config", "/etc/hastmon.toml"],
  ["--config=/etc/hastmon.toml"],
  ["-c", "a.toml", "-c", "b.toml"],
  ["-P", "a.pid", "--node", "alpha"],
  ["--pidfile=/run/h.pid", "--node=alpha"],
  ["--log", "/var/log/h.log", "--log-format", "json"],
  ["--log-format=text"],
  ["-F", "-c", "rel/hm.toml", "--node", "b", "-P", "/tmp/b.pid", "-d"],
];

/** Left to the command line: help, mistakes, forms the plain reader does not take. */
const NOT_PLAIN: string[][] = [
  ["--help"],
  ["-h"],
  ["-x"],
  ["--nope"],
  ["--log-format", "xml"],
  ["-c"],
  ["-c", "-F"],
  ["--config="],
  ["--foreground=yes"],
  ["-cfile.toml"],
  ["-dc", "x.toml"],
  ["extra"],
  ["--", "-F"],
  ["-F", "--node"],
];

Deno.test("daemon args: every plain form reads as the command line reads it", async () => {
  for (const args of PLAIN) {
    const plain = parsePlainDaemonArgs(args);
    assertEquals(plain !== null, true, `${JSON.stringify(args)} is plain`);
    assertEquals(plain, await commanderReads(args), JSON.stringify(args));
  }
});

Deno.test("daemon args: help, mistakes and unusual forms are left to the command line", () => {
  for (const args of NOT_PLAIN) {
    assertEquals(parsePlainDaemonArgs(args), null, JSON.stringify(args));
  }
});

Deno.test("daemon args: the plain reader and the command line know the same options", () => {
  const program = buildProgram(quiet, [registerDaemon]);
  const daemon = (program.commands as Command[]).find((c) => c.name() === "daemon")!;
  const known = daemon.options.map((o) => [o.long!.slice(2), o.short?.slice(1)]).sort();
  const plain = Object.entries(PLAIN_DAEMON_OPTIONS).map(([long, o]) => [long, o.short]).sort();
  assertEquals(known, plain);
});
