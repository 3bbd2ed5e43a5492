/**
 * SIGHUP: parse → validate → diff → apply, as hastd does. A file that cannot
 * be used keeps the old configuration and says why; a usable one becomes
 * `reconfigure` events for the resources that changed, new machines for the
 * ones added, and `remove` for the ones gone (stopped, then dropped).
 */
import {
  type EffectiveConfig,
  formatDiagnostic,
  loadConfig,
  type ResourceConfig,
  resourceSettings,
  usableResources,
} from "../config/mod.ts";
import type { NodeId, ResourceSettings } from "../core/types.ts";

/** What a reload decided, for the log and the event stream. */
export interface ReloadPlan {
  cfg: EffectiveConfig;
  usable: ResourceConfig[];
  added: string[];
  removed: string[];
  changed: string[];
  /** Settings of every usable resource on this node. */
  settings: Map<string, ResourceSettings>;
  /** Problems that do not stop the reload (a resource skipped, a setting that needs a restart). */
  warnings: string[];
}

/** A reload that cannot be used, and why. */
export class ReloadRefused extends Error {
  /** Construct with the reasons, one per line. */
  constructor(readonly reasons: string[]) {
    super(reasons.join("; "));
    this.name = "ReloadRefused";
  }
}

/**
 * Read `path` again as `node` and compare it with `old` and the settings the
 * machines run with now (`running`). Throws {@link ReloadRefused} when the file as a whole
 * cannot be used.
 */
export async function planReload(
  path: string,
  node: NodeId,
  old: EffectiveConfig,
  running: ReadonlyMap<string, ResourceSettings>,
): Promise<ReloadPlan> {
  let result;
  try {
    result = await loadConfig(path, { node });
  } catch (e) {
    throw new ReloadRefused([(e as Error).message]);
  }
  const fileErrors = result.errors.filter((e) => e.resource === undefined);
  if (!result.config || fileErrors.length > 0) {
    throw new ReloadRefused(result.errors.map((e) => formatDiagnostic(e)));
  }
  const cfg = result.config;
  const warnings = result.errors.map((e) => `${formatDiagnostic(e)} (resource skipped)`);
  for (const k of ["listen", "control", "stateDir", "metricsListen"] as const) {
    const was = JSON.stringify(old.global[k]), now = JSON.stringify(cfg.global[k]);
    if (was !== now) {
      warnings.push(`${k} changed from ${was} to ${now}; restart the daemon to apply it`);
    }
  }
  // Keys are the peer links' business: Peers.reconfigure applies new node keys and
  // says what needs a restart (another mode, another shared secret).
  const usable = usableResources(result);
  const settings = new Map(usable.map((r) => [r.name, resourceSettings(cfg, r.name)]));
  const added: string[] = [], changed: string[] = [];
  const removed = [...running.keys()].filter((n) => !settings.has(n));
  for (const res of usable) {
    const now = running.get(res.name) ?? null;
    const oldView = old.resources.find((r) => r.name === res.name)?.self;
    if (now === null) added.push(res.name);
    else if (
      JSON.stringify(settings.get(res.name)) !== JSON.stringify(now) ||
      JSON.stringify(res.self) !== JSON.stringify(oldView)
    ) {
      changed.push(res.name);
    }
  }
  return { cfg, usable, added, removed, changed, settings, warnings };
}
