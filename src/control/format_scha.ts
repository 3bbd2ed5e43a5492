/**
 * Renderings of a scha answer ({@link SchaResult}) for `hastmon ctl restart`,
 * `resource-restart` and `giveover`: the SCHA_ERR name of its number, the
 * giveover plan as text (the target, and what blocks every other node), and
 * the JSON document of `--json`.
 */
import { SCHA_ERR } from "../core/scha.ts";
import type { GiveoverPlan } from "../core/types.ts";
import { human } from "../core/timing.ts";
import type { SchaResult } from "./protocol.ts";
import { oneLine } from "./format.ts";

const NAMES = new Map<number, string>(
  Object.entries(SCHA_ERR).map(([name, code]) => [code, `SCHA_ERR_${name}`]),
);

/** `SCHA_ERR_CHECKS` for 16; `SCHA_ERR_?` followed by the number for one the table lacks. */
export function schaErrName(code: number): string {
  return NAMES.get(code) ?? `SCHA_ERR_? (${code})`;
}

/**
 * Wall-clock ms as local hours and minutes, `13:05` (the TZ of the process);
 * the daemon's status sentences too. By hand rather than `toLocaleTimeString`:
 * Intl's formatting loads ICU's locale data, some 6 MB resident for the rest
 * of a daemon's life from the first pingpong mark it shows.
 */
export function localClock(wallMs: number): string {
  const d = new Date(wallMs);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * A giveover plan as lines for people: the target (or that there is none),
 * then each other node and what blocks it. A pingpong mark is shown with
 * its end in local time and how long is left, `until 13:05 (in 58m12s)`,
 * from `nowWallMs`.
 */
export function formatGiveoverPlan(
  plan: GiveoverPlan,
  nowWallMs: number,
  clock: (wallMs: number) => string = localClock,
): string {
  const lines = [
    plan.target !== null
      ? `target: ${oneLine(plan.target)}`
      : "target: none (no node may take the group)",
  ];
  const width = Math.max(0, ...plan.nodes.map((n) => n.node.length));
  for (const n of plan.nodes) {
    const until = n.untilWallMs === undefined
      ? null
      : `until ${clock(n.untilWallMs)} (in ${human(n.untilWallMs - nowWallMs)})`;
    let what: string;
    if (n.node === plan.target) what = "target";
    else if (n.blocked === null) {
      what = plan.target === null ? "eligible" : `eligible (after ${oneLine(plan.target)})`;
    } else if (until !== null && n.blocked.startsWith("pingpong")) {
      // The daemon's sentence ends with its own (UTC) clock: the first clause says why.
      what = `blocked: ${oneLine(n.blocked.split(";")[0])}, ${until}`;
    } else {
      what = `blocked: ${oneLine(n.blocked)}` + (until !== null ? `; pingpong mark ${until}` : "");
    }
    lines.push(`  ${oneLine(n.node).padEnd(width)}  ${what}`);
  }
  return lines.join("\n") + "\n";
}

/** The document `ctl restart|resource-restart|giveover --json` prints. */
export interface SchaJson {
  /** The SCHA_ERR number (0: done). */
  code: number;
  /** Its name, e.g. `SCHA_ERR_CHECKS`. */
  error: string;
  message: string;
  /** GIVEOVER and CHECK_GIVEOVER; `until` of a node is ISO 8601 (wall clock). */
  plan?: {
    target: string | null;
    nodes: { node: string; blocked: string | null; until?: string }[];
  };
}

/** A scha answer as {@link SchaJson}. */
export function schaJson(result: SchaResult): SchaJson {
  return {
    code: result.code,
    error: schaErrName(result.code),
    message: result.message,
    ...(result.plan
      ? {
        plan: {
          target: result.plan.target,
          nodes: result.plan.nodes.map((n) => ({
            node: n.node,
            blocked: n.blocked,
            ...(n.untilWallMs !== undefined
              ? { until: new Date(n.untilWallMs).toISOString() }
              : {}),
          })),
        },
      }
      : {}),
  };
}
