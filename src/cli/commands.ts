/** Every command group of the executable, in the order `--help` lists them. */
import type { Register } from "./main.ts";
import { registerConfig } from "./config.ts";
import { registerCtl } from "./ctl.ts";
import { registerScha } from "./scha.ts";
import { registerSimulate } from "./simulate.ts";
import { registerDaemon } from "./daemon.ts";
import { registerConsole } from "./console.ts";
import { registerKeygen } from "./keygen.ts";
import { completionRegister } from "./completion.ts";

const commands: Register[] = [
  registerDaemon,
  registerCtl,
  registerConfig,
  registerSimulate,
  registerConsole,
  registerKeygen,
  registerScha,
];

/** Every command group; completion last, as it completes all the others. */
export const registers: Register[] = [...commands, completionRegister(commands)];
