/** Every command group of the executable, in the order `--help` lists them. */
import type { Register } from "./main.ts";
import { registerConfig } from "./config.ts";
import { registerCtl } from "./ctl.ts";
import { registerSimulate } from "./simulate.ts";
import { registerDaemon } from "./daemon.ts";
import { registerConsole } from "./console.ts";

export const registers: Register[] = [
  registerDaemon,
  registerCtl,
  registerConfig,
  registerSimulate,
  registerConsole,
];
