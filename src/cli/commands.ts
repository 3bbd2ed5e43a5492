/** Every command group of the executable, in the order `--help` lists them. */
import type { Register } from "./main.ts";

export const registers: Register[] = [];
