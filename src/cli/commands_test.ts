import { assert, assertEquals } from "../../tests/assert.ts";
import { allRegisters, COMPLETION_COMMANDS, GROUPS, registersFor } from "./commands.ts";
import { buildProgram, type CliIO } from "./main.ts";

const quiet: CliIO = { out: () => {}, err: () => {} };
const names = (registers: Parameters<typeof buildProgram>[1]) =>
  buildProgram(quiet, registers).commands.map((c) => c.name());

Deno.test("command groups: each group, loaded alone, adds exactly the commands it declares", async () => {
  for (const group of GROUPS) {
    assertEquals(names([await group.load()]), [...group.commands]);
  }
  // Together with completion they are the whole program, in the order --help lists them.
  assertEquals(names(await allRegisters()), [
    ...GROUPS.flatMap((g) => g.commands),
    ...COMPLETION_COMMANDS,
  ]);
});

Deno.test("command groups: a command line loads its own group only; help and the rest load all", async () => {
  // The daemon's process: no ctl, config, simulator, scha or completion.
  assertEquals(names(await registersFor(["daemon", "-F", "-c", "x.toml"])), ["daemon"]);
  assertEquals(names(await registersFor(["ctl", "status"])), ["ctl"]);
  assertEquals(names(await registersFor(["demo-service", "--port", "1"])), [
    "tui",
    "demo",
    "demo-service",
  ]);
  const all = names(await allRegisters());
  for (const args of [[], ["--help"], ["-V"], ["help", "daemon"], ["complete", "--"], ["deamon"]]) {
    assertEquals(names(await registersFor(args)), all, args.join(" "));
  }
  assert(all.includes("completion"));
});
