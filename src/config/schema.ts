/**
 * Every key of hastmon.toml: where it may be written, its default, and how its
 * value is checked and converted (seconds to ms, addresses to host and port,
 * relative paths to absolute ones).
 */
import { FAILOVER_MODES, type FailoverMode, HOOK_METHODS } from "../core/types.ts";

import {
  type ControlAddress,
  parseControlAddress,
  parsePeerAddress,
  type PeerAddress,
} from "./address.ts";
import { resolvePath } from "./paths.ts";
import { didYouMean } from "./suggest.ts";
import { parsePublicKey } from "../wire/node_keys.ts";
import { ROLES } from "../core/types.ts";

/** The kinds of section a key can be written in, from least to most specific. */
export type Level = "global" | "on" | "resource" | "resource.on" | "member";

/** How a level is written, for messages. */
export const LEVEL_SYNTAX: Record<Level, string> = {
  global: "the top level",
  on: "[on.NODE]",
  resource: "[resource.NAME]",
  "resource.on": "[resource.NAME.on.NODE]",
  member: "[resource.NAME.member.M]",
};

export { FAILOVER_MODES, type FailoverMode };

/** Methods whose timeout can be set with `<method>_timeout` (validate runs outside the core). */
export const TIMED_METHODS = [...HOOK_METHODS, "validate"] as const;
export type TimedMethod = typeof TIMED_METHODS[number];

/**
 * Methods a member runs with its own command (start, stop, status also
 * through `exec`; the monitor methods never: Solaris declares them per type).
 */
export const MEMBER_METHODS = [
  "start",
  "stop",
  "status",
  "monitor_start",
  "monitor_stop",
  "monitor_check",
  "validate",
] as const;
export type MemberMethod = typeof MEMBER_METHODS[number];

/** A command: the program and its arguments (no shell, no PATH search). */
export type Command = string[];

/** What a value is checked as. */
export type ValueKind =
  | "duration" //         seconds > 0, stored as ms
  | "duration_or_zero" // seconds ≥ 0, stored as ms
  | "count" //            integer ≥ 1
  | "count_or_zero" //    integer ≥ 0
  | "priority" //         integer ≥ 0
  | "fraction" //         number in [0, 1)
  | "role"
  | "failover_mode"
  | "control_address"
  | "listen_address"
  | "address_list"
  | "remote" //           address list or "none"
  | "path" //             a file or directory, made absolute
  | "command" //          a path, or [path, args...], made absolute
  | "public_keys" //      "ed25519:BASE64" or a list of them (several during a key rotation)
  | "env"; //             a table of environment variables for hooks

/** One key of the file. Defaults are written in file units (seconds). */
export interface KeySpec {
  name: string;
  kind: ValueKind;
  levels: readonly Level[];
  default: unknown;
  /** One line for `config show --help`-style listings and docs. */
  doc: string;
}

const NODE: Level[] = ["global", "on"];
const RESOURCE: Level[] = ["global", "on", "resource", "resource.on"];
const EVERYWHERE: Level[] = ["global", "on", "resource", "resource.on", "member"];
const METHOD: Level[] = ["resource", "resource.on", "member"];

function spec(
  name: string,
  kind: ValueKind,
  levels: Level[],
  dflt: unknown,
  doc: string,
): KeySpec {
  return { name, kind, levels, default: dflt, doc };
}

/** Every key, in the order `config show` prints them. */
export const KEYS: readonly KeySpec[] = [
  spec("control", "control_address", NODE, "/var/run/hastmonctl", "control socket"),
  spec("listen", "listen_address", NODE, "tcp://0.0.0.0:8458", "peer listener"),
  spec("metrics_listen", "listen_address", NODE, null, "Prometheus metrics listener"),
  spec("state_dir", "path", NODE, "/var/db/hastmon", "persisted roles, epochs, counters"),
  spec(
    "addresses",
    "address_list",
    ["on"],
    [],
    "addresses this node connects from; bind its name without per-node keys",
  ),
  spec("public_key", "public_keys", ["on"], null, 'this node\'s key(s): "ed25519:BASE64"'),
  spec("private_key_file", "path", NODE, null, "this node's private key (hastmon keygen)"),
  spec("hook_env", "env", NODE, {}, "environment variables added for every hook"),
  spec("role_on_start", "role", RESOURCE, "init", "role when no persisted role exists"),
  spec("priority", "priority", ["on", "resource.on"], 100, "lower wins between two primaries"),
  spec("remote", "remote", ["resource.on"], null, 'peer addresses, or "none"'),
  spec("friends", "address_list", RESOURCE, [], "extra addresses allowed to connect"),
  spec("timeout", "duration", RESOURCE, 5, "connect and I/O timeout"),
  spec("heartbeat_interval", "duration", RESOURCE, 10, "the period of every check"),
  spec("complaint_count", "count", RESOURCE, 3, "takeover after more than this many complaints"),
  spec("complaint_interval", "duration", RESOURCE, 60, "…received within this window"),
  spec("attempts", "count", RESOURCE, 5, "start attempts before giving up on this node"),
  spec("stop_timeout", "duration", RESOURCE, 5, "bound on a stop; part of the takeover wait"),
  spec("clock_skew", "fraction", RESOURCE, 0.1, "bound on clock-rate difference"),
  spec("panic", "command", RESOURCE, null, "runs when a stop does not finish in time"),
  spec("fence", "command", RESOURCE, null, "fences a silent primary before a takeover"),
  spec(
    "pingpong_interval",
    "duration_or_zero",
    ["resource", "resource.on"],
    3600,
    "anti-flapping window",
  ),
  spec("exec", "path", EVERYWHERE, null, "hastmon-style script: exec EVENT RESOURCE"),
  spec("start", "command", METHOD, null, "member start command"),
  spec("stop", "command", METHOD, null, "member stop command"),
  spec("status", "command", METHOD, null, "member probe: 0 running, 1 stopped, else unknown"),
  spec("monitor_start", "command", METHOD, null, "member: starts its fault monitor after start"),
  spec("monitor_stop", "command", METHOD, null, "member: stops its fault monitor before stop"),
  spec("monitor_check", "command", METHOD, null, "member veto before a giveover here"),
  spec(
    "validate",
    "command",
    METHOD,
    null,
    "member check of a new configuration (config check, reload)",
  ),
  spec("failover_mode", "failover_mode", EVERYWHERE, "SOFT", "what a failing member escalates to"),
  spec("retry_count", "count_or_zero", EVERYWHERE, 2, "restarts allowed within retry_interval"),
  spec("retry_interval", "duration", EVERYWHERE, 300, "window of the restart budget"),
  spec(
    "probe_interval",
    "duration",
    EVERYWHERE,
    null,
    "how often a member's status runs (default: heartbeat_interval)",
  ),
  spec("hook_timeout", "duration", EVERYWHERE, 60, "default timeout of any hook"),
  ...TIMED_METHODS.filter((m) => m !== "stop").map((m) =>
    spec(
      `${m}_timeout`,
      "duration",
      (MEMBER_METHODS as readonly string[]).includes(m) ? EVERYWHERE : RESOURCE,
      null,
      `timeout of ${m} (default: hook_timeout)`,
    )
  ),
];

/** Keys by name. */
export const KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEYS.map((k) => [k.name, k]));

/** Keys that a member section can set, and that members inherit from their resource. */
export const MEMBER_KEYS: readonly KeySpec[] = KEYS.filter((k) => k.levels.includes("member"));

/** Keys that describe a resource on a node (everything but the node-wide ones). */
export const RESOURCE_KEYS: readonly KeySpec[] = KEYS.filter((k) =>
  k.levels.includes("resource") || k.levels.includes("resource.on")
);

/** Keys of this node as a whole. */
export const NODE_KEYS: readonly KeySpec[] = KEYS.filter((k) =>
  (k.levels.includes("global") || k.levels.includes("on")) &&
  !k.levels.includes("resource") && !k.levels.includes("resource.on")
);

/** Variables every hook gets from the daemon itself; `hook_env` cannot set them. */
export const RESERVED_HOOK_ENV = [
  "HASTMON_RESOURCE",
  "HASTMON_MEMBER",
  "HASTMON_NODE",
  "HASTMON_ROLE",
  "HASTMON_EPOCH",
  "HASTMON_EVENT",
] as const;

export { parsePublicKey } from "../wire/node_keys.ts";

/** Keys of the `[key]` table. */
export const KEY_TABLE_KEYS = ["algorithm", "secret", "secret_file"] as const;
/** The one authentication algorithm so far. */
export const KEY_ALGORITHMS = ["hmac-sha256"] as const;

/** A checked value in internal units. */
export type Value =
  | number
  | string
  | null
  | PeerAddress
  | PeerAddress[]
  | ControlAddress
  | Command
  | Record<string, string>
  | "none";

/** Where a problem with a value is: the value itself, or one item of a list or table. */
export type Report = (message: string, item?: number | string) => void;

/** Context for checking values: relative paths are relative to `baseDir`. */
export interface CheckContext {
  baseDir: string;
}

/** Check `raw` as a value of `key`; report problems and return the converted value, or undefined. */
export function checkValue(
  key: KeySpec,
  raw: unknown,
  ctx: CheckContext,
  report: Report,
): Value | undefined {
  const name = `\`${key.name}\``;
  const bad = (expected: string) => {
    report(`${name} must be ${expected}, not ${describe(raw)}`);
    return undefined;
  };
  switch (key.kind) {
    case "duration":
    case "duration_or_zero": {
      if (typeof raw !== "number" || !Number.isFinite(raw)) {
        return bad("a number of seconds (e.g. 5 or 0.25)");
      }
      if (key.kind === "duration" ? raw <= 0 : raw < 0) {
        return bad(key.kind === "duration" ? "greater than 0 seconds" : "0 seconds or more");
      }
      return Math.round(raw * 1000);
    }
    case "count":
    case "count_or_zero":
    case "priority": {
      const min = key.kind === "count" ? 1 : 0;
      if (typeof raw !== "number" || !Number.isInteger(raw) || raw < min) {
        return bad(`an integer ≥ ${min}`);
      }
      return raw;
    }
    case "fraction":
      if (typeof raw !== "number" || !(raw >= 0 && raw < 1)) {
        return bad("a number in [0, 1), e.g. 0.1 for 10 %");
      }
      return raw;
    case "role":
    case "failover_mode": {
      const allowed: readonly string[] = key.kind === "role" ? ROLES : FAILOVER_MODES;
      if (typeof raw !== "string" || !allowed.includes(raw)) {
        const hint = typeof raw === "string" ? didYouMean(raw, allowed) : "";
        report(`${name} must be one of ${allowed.join(", ")}, not ${describe(raw)}${hint}`);
        return undefined;
      }
      return raw;
    }
    case "control_address": {
      if (typeof raw !== "string") return bad("a socket path (uds://PATH, unix://PATH or a path)");
      const r = parseControlAddress(raw);
      if (!r.ok) return report(r.error), undefined;
      return { ...r.value, path: resolvePath(ctx.baseDir, r.value.path) };
    }
    case "listen_address": {
      if (typeof raw !== "string") return bad("an address (tcp://HOST:PORT or HOST[:PORT])");
      const r = parsePeerAddress(raw, { allowPortZero: true });
      if (!r.ok) return report(r.error), undefined;
      return r.value;
    }
    case "remote":
      if (raw === "none") return "none";
      if (typeof raw === "string") {
        return bad(`a list of addresses (write ["${raw}"]) or "none"`);
      }
      return checkAddressList(name, raw, report, `a list of addresses or "none"`);
    case "address_list":
      return checkAddressList(name, raw, report, "a list of addresses");
    case "path":
      if (typeof raw !== "string" || raw === "") return bad("a path");
      return resolvePath(ctx.baseDir, raw);
    case "command": {
      if (typeof raw === "string" && raw !== "") return [resolvePath(ctx.baseDir, raw)];
      if (
        Array.isArray(raw) && raw.length > 0 && raw.every((a) => typeof a === "string") &&
        raw[0] !== ""
      ) {
        return [resolvePath(ctx.baseDir, raw[0]), ...raw.slice(1)];
      }
      return bad(`a program path or a list ["/path/to/program", "arg", ...]`);
    }
    case "public_keys": {
      const list = typeof raw === "string" ? [raw] : raw;
      if (!Array.isArray(list) || list.length === 0) {
        return bad('"ed25519:BASE64" (from `hastmon keygen`) or a list of such keys');
      }
      let ok = true;
      list.forEach((k, i) => {
        if (typeof k !== "string" || parsePublicKey(k) === null) {
          ok = false;
          report(
            `${name} must be "ed25519:" and 32 bytes in base64 (as \`hastmon keygen\` prints), ` +
              `not ${describe(k)}`,
            typeof raw === "string" ? undefined : i,
          );
        }
      });
      return ok ? list as string[] : undefined;
    }
    case "env": {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Date) {
        return bad('a table of variables, e.g. { PATH = "/usr/bin:/bin" }');
      }
      const out: Record<string, string> = {};
      let ok = true;
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        let problem: string | null = null;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
          problem = `${describe(k)} is not a variable name (letters, digits, _)`;
        } else if ((RESERVED_HOOK_ENV as readonly string[]).includes(k)) {
          problem = `${k} is set by hastmon for every hook and cannot be changed`;
        } else if (typeof v !== "string" || v.includes("\0")) {
          problem = `${k} must be a string without NUL bytes, not ${describe(v)}`;
        }
        if (problem) {
          ok = false;
          report(`${name}: ${problem}`, k);
        } else out[k] = v as string;
      }
      return ok ? out : undefined;
    }
  }
}

function checkAddressList(
  name: string,
  raw: unknown,
  report: Report,
  expected: string,
): PeerAddress[] | undefined {
  if (!Array.isArray(raw)) {
    report(`${name} must be ${expected}, not ${describe(raw)}`);
    return undefined;
  }
  const out: PeerAddress[] = [];
  let ok = true;
  raw.forEach((item, i) => {
    if (typeof item !== "string") {
      report(`${name} items must be address strings, not ${describe(item)}`, i);
      ok = false;
      return;
    }
    const r = parsePeerAddress(item);
    if (r.ok) out.push(r.value);
    else {
      report(r.error, i);
      ok = false;
    }
  });
  return ok ? out : undefined;
}

/** A value's TOML type in words, with the value when it is short: `a string ("x")`. */
export function describe(v: unknown): string {
  if (typeof v === "string") return `a string (${JSON.stringify(v)})`;
  if (typeof v === "number") return `${v}`;
  if (typeof v === "boolean") return `a boolean (${v})`;
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  if (v !== null && typeof v === "object") return "a table";
  return String(v);
}
