/**
 * The service timeline of an end-to-end cluster, and the check that matters
 * most (PRODUCT.md §3.1): never two nodes active for one resource at once.
 *
 * The test hook script (harness.ts) appends one line per event to a file
 * shared by every node, with a wall-clock timestamp taken by `date +%s.%N`:
 *
 * ```
 * <seconds.nanoseconds> <node> <resource> <kind> [detail...]
 * ```
 *
 * Kinds that matter here: `spawn` (the daemon's own record, from its log, of
 * deciding to start: before the start hook is even spawned), `begin` (a start
 * hook began, written BEFORE the service is launched), `end` (a stop hook saw the service dead, written
 * AFTER; `end none` when it found nothing launched and no start launching),
 * and `died` (the harness killed the service and saw it dead). A
 * resource is active on a node from a `begin` until the next `end` or `died`;
 * one still open when the file ends is active until forever. Other kinds
 * (`up`, `hang`, `start-failed`) are kept for the report.
 */

/** One line of the timeline file. */
export interface TimelineEvent {
  /** Wall-clock time in ms since the epoch (sub-millisecond precision). */
  t: number;
  node: string;
  resource: string;
  kind: string;
  detail: string[];
}

/** A span during which `resource` was (possibly) active on `node`. */
export interface ActiveInterval {
  node: string;
  resource: string;
  from: number;
  /** Infinity while still open. */
  to: number;
}

/** Two nodes active for one resource at the same time. */
export interface Overlap {
  resource: string;
  first: ActiveInterval;
  second: ActiveInterval;
}

const OPENS = new Set(["spawn", "begin"]);
const CLOSES = new Set(["end", "died"]);

/** Parse the timeline file's text; malformed lines are an error (the file is ours). */
export function parseTimeline(text: string): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const [stamp, node, resource, kind, ...detail] = line.trim().split(/\s+/);
    const t = parseStamp(stamp);
    if (t === null || !node || !resource || !kind) {
      throw new Error(`timeline line ${i + 1} is malformed: ${JSON.stringify(line)}`);
    }
    events.push({ t, node, resource, kind, detail });
  }
  // Lines from different processes may land slightly out of order.
  return events.sort((a, b) => a.t - b.t);
}

/** `seconds.nanoseconds` as ms, without losing the fraction to float rounding of 1e18. */
function parseStamp(s: string | undefined): number | null {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(s ?? "");
  if (!m) return null;
  const frac = (m[2] ?? "").padEnd(9, "0");
  return Number(m[1]) * 1000 + Number(frac) / 1e6;
}

/** Read and parse a timeline file; a missing file is an empty timeline. */
export async function readTimeline(path: string): Promise<TimelineEvent[]> {
  try {
    return parseTimeline(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** The active intervals of every (node, resource), in order of their start. */
export function activeIntervals(events: readonly TimelineEvent[]): ActiveInterval[] {
  const open = new Map<string, ActiveInterval>();
  const out: ActiveInterval[] = [];
  for (const e of events) {
    const key = `${e.node}\0${e.resource}`;
    if (OPENS.has(e.kind)) {
      // A second begin while active (a start retried over a live service) extends nothing.
      if (!open.has(key)) {
        const iv = { node: e.node, resource: e.resource, from: e.t, to: Infinity };
        open.set(key, iv);
        out.push(iv);
      }
    } else if (CLOSES.has(e.kind)) {
      const iv = open.get(key);
      if (iv) {
        iv.to = e.t;
        open.delete(key);
      }
    }
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Every pair of intervals of one resource on two nodes that share an instant. */
export function findOverlaps(intervals: readonly ActiveInterval[]): Overlap[] {
  const out: Overlap[] = [];
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i], b = intervals[j];
      if (a.resource !== b.resource || a.node === b.node) continue;
      if (a.from < b.to && b.from < a.to) out.push({ resource: a.resource, first: a, second: b });
    }
  }
  return out;
}

/** Nodes on which `resource` is active at the end of the timeline. */
export function activeAtEnd(events: readonly TimelineEvent[], resource: string): string[] {
  return activeIntervals(events)
    .filter((iv) => iv.resource === resource && iv.to === Infinity)
    .map((iv) => iv.node);
}

/** The timeline as text for people: times relative to its first event. */
export function formatTimeline(events: readonly TimelineEvent[]): string {
  if (events.length === 0) return "(empty timeline)";
  const t0 = events[0].t;
  return events.map((e) =>
    `+${((e.t - t0) / 1000).toFixed(4)}s  ${e.node.padEnd(4)} ${e.resource.padEnd(4)} ${e.kind}` +
    (e.detail.length > 0 ? ` ${e.detail.join(" ")}` : "")
  ).join("\n");
}

/** Throw, with the overlaps and the whole timeline, if two nodes were ever active at once. */
export function assertNeverTwoActive(events: readonly TimelineEvent[]): void {
  const overlaps = findOverlaps(activeIntervals(events));
  if (overlaps.length === 0) return;
  const t0 = events[0]?.t ?? 0;
  const at = (t: number) => Number.isFinite(t) ? `+${((t - t0) / 1000).toFixed(4)}s` : "(still)";
  const lines = overlaps.map((o) =>
    `${o.resource}: ${o.first.node} active ${at(o.first.from)}..${at(o.first.to)} and ` +
    `${o.second.node} active ${at(o.second.from)}..${at(o.second.to)}`
  );
  throw new Error(
    `two nodes active at once (${overlaps.length} overlap(s)):\n  ${lines.join("\n  ")}\n` +
      `timeline:\n${formatTimeline(events)}`,
  );
}
