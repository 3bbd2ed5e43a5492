/** Options and value parsers shared by the command groups. */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { DEFAULT_CONFIG_PATH } from "../config/mod.ts";

/** Help of `-c, --config`. */
export const CONFIG_HELP =
  `configuration file (default: $HASTMON_CONFIG, else ${DEFAULT_CONFIG_PATH})`;

/** Help of `--node`. */
export const NODE_HELP =
  "this node's name (default: $HASTMON_NODE, else the hostname or short hostname)";

/** A whole number ≥ 1. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("expected a whole number ≥ 1");
  }
  return n;
}

/** A whole number ≥ 0. */
export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError("expected a whole number ≥ 0");
  }
  return n;
}
