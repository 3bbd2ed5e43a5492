/** Every command group of the executable, in the order `--help` lists them. */
import type { Register } from "./main.ts";
import { registerConfig } from "./config.ts";
import { registerCtl } from "./ctl.ts";
import { registerSimulate } from "./simulate.ts";

export const registers: Register[] = [
  registerCtl,
  registerConfig,
  registerSimulate,
];
