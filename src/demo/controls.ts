/**
 * What the demo offers its console: the state of the demo cluster (who
 * serves the page, which faults are in force) and the fault keys. The
 * console renders it; src/demo/controller.ts implements it.
 */

/** The demo's fault keys: the key, a short label, and what it does. */
export const DEMO_KEYS: readonly (readonly [DemoKey, string, string])[] = [
  ["1", "kill primary", "kill the primary node: kill -9 of its daemon, guard and service"],
  ["2", "freeze/thaw", "freeze the primary's daemon (SIGSTOP); again: thaw it (SIGCONT)"],
  ["3", "cut A–B", "cut the link between nodeA and nodeB (both ways)"],
  ["4", "isolate primary", "isolate the primary from every other node"],
  ["5", "heal", "heal every link"],
  ["6", "revive", "bring killed nodes back (their daemons start again)"],
];

/** A fault key. */
export type DemoKey = "1" | "2" | "3" | "4" | "5" | "6";

/** Whether `input` is a fault key. */
export function isDemoKey(input: string): input is DemoKey {
  return DEMO_KEYS.some(([k]) => k === input);
}

/** The state of the demo, as its console shows it. */
export interface DemoSnapshot {
  phase: "starting" | "running" | "failed";
  /** Why the demo could not start. */
  error: string | null;
  /** The temporary directory everything lives in. */
  dir: string;
  /** The page the demo fetches. */
  url: string;
  /** Who serves the page now (the demo fetches it every 250 ms), or null when nobody answers. */
  page: { node: string; epoch: string } | null;
  /** When that answer (or the silence) began, wall clock ms. */
  pageSince: number;
  /** The last fault that took the primary away: what, when (wall clock ms), and what followed. */
  lastFault: {
    what: string;
    node: string;
    at: number;
    /** When the page was first served by another node after it (wall clock ms), or null. */
    servedAgainAt: number | null;
    servedBy: string | null;
  } | null;
  /** The takeover bound that `hastmon config check` prints for the demo's configuration (ms). */
  boundMs: number | null;
  killed: string[];
  frozen: string[];
  /** Links cut, as "nodeA–nodeB". */
  cuts: string[];
  /** What the last key did, or why it did nothing. */
  notice: string | null;
}

/** The demo as its console drives it. */
export interface DemoControls {
  subscribe(fn: () => void): () => void;
  snapshot(): DemoSnapshot;
  /** Run the fault of `key`; `primary` is the node the console shows as primary now. */
  act(key: DemoKey, primary: string | null): void;
}
