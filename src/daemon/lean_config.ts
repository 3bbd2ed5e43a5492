/**
 * The daemon's copy of its configuration. A loaded configuration keeps, for
 * every setting of every resource on every node and of every member, its raw
 * text and where it came from (file, line, column, or the default): what
 * `config check` and `config show` print. The daemon never prints them, and
 * with a thousand resources on three nodes they were 174,000 records, about
 * 16 MB of its heap, kept for as long as it ran.
 */
import type { EffectiveConfig, Settings } from "../config/mod.ts";

/** Nothing: what the daemon's resource and member views keep of their settings' provenance. */
const NO_PROVENANCE: Settings = Object.freeze({});

/**
 * Drop the per-setting provenance of `cfg`'s resources and members (in place;
 * returns `cfg`). Everything the daemon reads stays: the node-wide settings
 * (hook_env, keys, addresses) and every resolved value. Take what needs the
 * provenance (the core's settings: `resourceSettings`) before.
 */
export function leanConfig(cfg: EffectiveConfig): EffectiveConfig {
  for (const res of cfg.resources) {
    for (const view of res.nodes) {
      view.settings = NO_PROVENANCE;
      for (const m of view.members) m.settings = NO_PROVENANCE;
    }
  }
  return cfg;
}
