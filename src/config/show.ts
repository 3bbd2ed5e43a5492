/**
 * What `hastmon config show` prints: this node's effective settings after
 * inheritance, each with the section and line it comes from; as text or JSON.
 */

import { fmt } from "../core/timing.ts";
import { describeSource } from "./checks.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { keySpec } from "./effective.ts";
import { MEMBER_METHODS, NODE_KEYS, RESOURCE_KEYS } from "./schema.ts";
import { table } from "./report.ts";
import type {
  EffectiveConfig,
  MemberConfig,
  Provenance,
  ResourceConfig,
  Settings,
} from "./types.ts";
import {
  commandLine,
  describeProvenance,
  displayValue,
  type FileValue,
  fileValue,
} from "./values.ts";

/** Keys that describe a member rather than the resource; shown under each member. */
const MEMBER_ONLY = new Set([
  ...MEMBER_METHODS,
  ...MEMBER_METHODS.filter((m) => m !== "stop").map((m) => `${m}_timeout`),
  "failover_mode",
  "retry_count",
  "retry_interval",
  "probe_interval",
]);

const RESOURCE_ROWS = RESOURCE_KEYS.map((k) => k.name).filter((k) => !MEMBER_ONLY.has(k));
const MEMBER_ROWS = [
  "failover_mode",
  "retry_count",
  "retry_interval",
  "probe_interval",
  "hook_timeout",
];

/** One row: key, value, origin. Unset method timeouts show hook_timeout's value and origin. */
function row(settings: Settings, name: string): string[] {
  const s = settings[name];
  if (s.value === null && name.endsWith("_timeout") && settings.hook_timeout) {
    const hook = settings.hook_timeout;
    return [name, fmt(hook.value as number), `${describeProvenance(hook.from)} (hook_timeout)`];
  }
  return [name, displayValue(keySpec(name), s), describeProvenance(s.from)];
}

/** The effective settings of this node as text. */
export function renderShow(cfg: EffectiveConfig): string {
  let out = `# ${cfg.file} as node ${cfg.node} sees it (${describeSource(cfg.nodeSource)})\n` +
    `# key, effective value, and where it comes from (section:line, or default)\n\n`;
  const rows = NODE_KEYS.map((k) => row(cfg.global.settings, k.name));
  rows.push([
    "key",
    cfg.key === null
      ? "-"
      : `${cfg.key.algorithm}, secret ${
        cfg.key.secretFile ?? "inline"
      } (${cfg.key.secret.length} bytes)`,
    cfg.key === null ? "default" : `key:${cfg.key.pos.line}`,
  ]);
  out += `node ${cfg.node}\n` + table(rows, "  ");
  for (const res of cfg.resources) out += "\n" + renderResource(res);
  return out;
}

function renderResource(res: ResourceConfig): string {
  const me = res.self;
  if (me === null) {
    return `resource ${res.name}: not configured for this node\n` +
      res.errors.map((e) => `  ${formatDiagnostic(e)}\n`).join("");
  }
  let out = `resource ${res.name}\n` + table(RESOURCE_ROWS.map((k) => row(me.settings, k)), "  ");
  for (const m of me.members) out += renderMember(m, me.settings);
  return out;
}

function renderMember(m: MemberConfig, resource: Settings): string {
  const rows: string[][] = [];
  for (const method of MEMBER_METHODS) {
    const c = m.commands[method];
    rows.push(
      c === null
        ? [method, "-", "default"]
        : [method, commandLine(c.argv), describeProvenance(c.from) + (c.viaExec ? " (exec)" : "")],
    );
  }
  for (const name of MEMBER_ROWS) {
    const s = m.settings[name];
    // An unset probe_interval is the resource's heartbeat_interval.
    if (name === "probe_interval" && s.value === null) {
      const hb = resource.heartbeat_interval;
      rows.push([
        name,
        fmt(hb.value as number),
        `${describeProvenance(hb.from)} (heartbeat_interval)`,
      ]);
    } else rows.push(row(m.settings, name));
  }
  for (const method of MEMBER_METHODS.filter((x) => x !== "stop")) {
    rows.push(row(m.settings, `${method}_timeout`));
  }
  return `  member ${m.name}${m.implicit ? " (implicit: the resource itself)" : ""}\n` +
    table(rows, "    ");
}

/** A setting in JSON: its value in file units (seconds, address texts) and its origin. */
export interface JsonSetting {
  value: FileValue;
  from: Provenance;
}

/** Schema version of `config show --json`. */
export const SHOW_JSON_VERSION = 1;

function jsonSettings(settings: Settings, names: readonly string[]): Record<string, JsonSetting> {
  const out: Record<string, JsonSetting> = {};
  for (const n of names) {
    out[n] = { value: fileValue(keySpec(n), settings[n]), from: settings[n].from };
  }
  return out;
}

/**
 * The effective settings as a JSON-ready object (`config show --json`):
 * `{ version, file, node, nodeSource, settings, key, resources: [{ name,
 * errors, settings, members: [{ name, implicit, commands, settings }] }] }`.
 * Durations are in seconds, as in the file. The secret itself is never included.
 */
export function showJson(cfg: EffectiveConfig): unknown {
  return {
    version: SHOW_JSON_VERSION,
    file: cfg.file,
    node: cfg.node,
    nodeSource: cfg.nodeSource,
    settings: jsonSettings(cfg.global.settings, NODE_KEYS.map((k) => k.name)),
    key: cfg.key === null ? null : {
      algorithm: cfg.key.algorithm,
      secretFile: cfg.key.secretFile,
      secretBytes: cfg.key.secret.length,
      line: cfg.key.pos.line,
    },
    resources: cfg.resources.map((res) => ({
      name: res.name,
      errors: res.errors.map((e) => formatDiagnostic(e)),
      settings: res.self === null ? null : jsonSettings(res.self.settings, RESOURCE_ROWS),
      members: (res.self?.members ?? []).map((m) => ({
        name: m.name,
        implicit: m.implicit,
        commands: Object.fromEntries(MEMBER_METHODS.map((x) => [x, m.commands[x]])),
        timeouts: Object.fromEntries(MEMBER_METHODS.map((x) => [x, m.timeoutMs[x] / 1000])),
        settings: jsonSettings(m.settings, ["failover_mode", "retry_count", "retry_interval"]),
      })),
    })),
  };
}
