/**
 * The query tags of `hastmon scha_resource_get` (scha-semantics.md §3.2),
 * read from the one status view: a member's restart counts, states, status
 * and settings, printed as Solaris prints them (an int as `%d`, an enum as
 * its name, STATUS as two lines: the value, then the message).
 */
import type { MemberStatus, ResourceStatus } from "../core/status.ts";
import { oneLine } from "../control/format.ts";

/** One tag: its value for a member of a group, as the lines to print. */
type Getter = (group: ResourceStatus, member: MemberStatus) => string[];

/**
 * Seconds as Solaris's `%d`, rounded up: a fractional setting (`0.5`) must
 * not read as 0, which a script would sleep for in a tight loop.
 */
function seconds(ms: number): string[] {
  return [String(Math.ceil(ms / 1000))];
}

/** Every tag hastmon answers, by its upper-case name. */
export const RESOURCE_GET_TAGS: Readonly<Record<string, Getter>> = {
  /** RESTART requests of the group on this node within the member's retry_interval. */
  NUM_RG_RESTARTS: (_, x) => [String(x.groupRestarts)],
  /** RESOURCE_RESTART and RESOURCE_IS_RESTARTED (and the monitor's restarts) within retry_interval. */
  NUM_RESOURCE_RESTARTS: (_, x) => [String(x.restarts.used)],
  RESOURCE_STATE: (_, x) => [x.resourceState],
  RG_STATE: (g) => [g.rgState],
  STATUS: (_, x) => [x.status, x.statusMessage],
  RETRY_COUNT: (_, x) => [String(x.restarts.max)],
  RETRY_INTERVAL: (_, x) => seconds(x.restarts.windowMs),
  FAILOVER_MODE: (_, x) => [x.failoverMode],
  THOROUGH_PROBE_INTERVAL: (_, x) => seconds(x.probeIntervalMs),
};

/** The tag names, for help and completion. */
export const RESOURCE_GET_TAG_NAMES: readonly string[] = Object.keys(RESOURCE_GET_TAGS);

/** A tag as typed (any case; a `SCHA_` prefix as in C is allowed), or null when unknown. */
export function parseGetTag(text: string): string | null {
  const t = text.toUpperCase().replace(/^SCHA_/, "");
  return Object.hasOwn(RESOURCE_GET_TAGS, t) ? t : null;
}

/** What `scha_resource_get -O tag` prints for `member` of `group`, newline-terminated. */
export function resourceGetText(tag: string, group: ResourceStatus, member: MemberStatus): string {
  // A status message must not forge lines of output.
  return RESOURCE_GET_TAGS[tag](group, member).map(oneLine).join("\n") + "\n";
}
