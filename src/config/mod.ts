/**
 * The configuration layer: hastmon.toml parsed, checked and resolved into
 * what each node runs with, plus the converter from the original hastmon.conf.
 *
 * Typical use (daemon, simulator):
 *
 *   const result = await loadConfig(path, { node });
 *   for (const e of result.errors) log(formatDiagnostic(e));
 *   for (const res of usableResources(result)) {
 *     const settings = resourceSettings(result.config!, res.name);  // for the core
 *     const view = res.self!;  // members, remote addresses, friends, exec, panic, fence, …
 *   }
 */

export type { ControlAddress, PeerAddress } from "./address.ts";
export {
  DEFAULT_PORT,
  formatPeerAddress,
  parseControlAddress,
  parsePeerAddress,
} from "./address.ts";
export type { ConfigError, ConfigWarning, Pos } from "./diagnostics.ts";
export { formatDiagnostic } from "./diagnostics.ts";
export {
  ConfigFileError,
  configPath,
  configuredNodeNames,
  DEFAULT_CONFIG_PATH,
  loadConfig,
} from "./load.ts";
export { identifyNode, type NodeIdentity, resolveNodeName } from "./node_identity.ts";
export { parseConfig, type ParseOptions } from "./parse.ts";
export { renderCheck, renderSummary, renderTimelines } from "./report.ts";
export type { Command, FailoverMode, MemberMethod, TimedMethod } from "./schema.ts";
export { FAILOVER_MODES, KEYS } from "./schema.ts";
export { hasFileErrors, resourceNode, resourceSettings, usableResources } from "./settings.ts";
export { renderShow, SHOW_JSON_VERSION, showJson } from "./show.ts";
export { isWatchdog, resourceTimelines, timingParams } from "./timing_check.ts";
export type * from "./types.ts";
