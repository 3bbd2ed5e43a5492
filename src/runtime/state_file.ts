/**
 * The format of a resource's state ("state file"): one JSON object on one
 * line, kept by the daemon's store (a line of its journal) and by the
 * simulator's disk alike, so that what the simulator proves about a restart is
 * what the daemon does.
 *
 * ```json
 * {"version":2,"resource":"web","role":"primary","epoch":7,"maxEpoch":7,
 *  "grantHolder":{"node":"b","epoch":6,"priority":20},"grantHoldMs":4750,
 *  "policy":{"restarts":{"db":[1764590000000]},"groupRestarts":[],
 *            "pingpong":[{"node":"a","member":"db","at":1764590100000}],"failedStarts":[]}}
 * ```
 *
 * Version 2 added `policy` (restart windows and pingpong marks, wall-clock
 * ms, scha-semantics.md §3–§4); a version 1 file reads with an empty one.
 * `quarantineMs`, only in a state written during a quarantine, is what was
 * left of it (a duration, like `grantHoldMs`); a restart keeps it in full.
 *
 * A state is validated before it is written (a bug must not leave a file
 * that the next start refuses) and when it is read; a file that does not pass
 * is never trusted.
 */
import type { Claim, PersistedState, PolicyState, Role } from "../core/types.ts";
import { MAX_EPOCH, ROLES } from "../core/types.ts";
import { emptyPolicy } from "../core/policy.ts";

/** The version written; version 1 (no policy) is still read. */
export const STATE_VERSION = 2;

/** More entries than this in one list of the policy is not a file we wrote. */
const MAX_POLICY_ENTRIES = 10_000;

/** The file text of `state` for `resource`; throws (before anything is written) when it is invalid. */
export function encodeState(resource: string, state: PersistedState): string {
  const record = {
    version: STATE_VERSION,
    resource,
    role: state.role,
    epoch: state.epoch,
    maxEpoch: state.maxEpoch,
    grantHolder: state.grantHolder,
    grantHoldMs: state.grantHoldMs,
    policy: state.policy,
    ...(state.quarantineMs ? { quarantineMs: state.quarantineMs } : {}),
  };
  const text = JSON.stringify(record) + "\n";
  parseState(text, resource); // what we could not read back, we do not write
  return text;
}

/**
 * The text that stands for `resource`'s state when it was lost: written by the
 * daemon's state journal for what its damage may have hidden
 * (src/daemon/state_store.ts), and by the simulator's damaged disk.
 * {@link parseState} refuses it, so the resource starts quarantined.
 */
export function lostState(resource: string, where: string): string {
  return JSON.stringify({ resource, damaged: where }) + "\n";
}

/** Validate a state file's text; throws the reason it cannot be trusted. */
export function parseState(text: string, resource: string): PersistedState {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(data)) throw new Error("not a JSON object");
  if (typeof data.damaged === "string") throw new Error(`lost: ${data.damaged}`);
  if (data.version !== STATE_VERSION && data.version !== 1) {
    throw new Error(
      `unsupported version ${JSON.stringify(data.version)} (expected ${STATE_VERSION})`,
    );
  }
  if (data.resource !== resource) {
    throw new Error(
      `holds resource ${JSON.stringify(data.resource)}, expected ${JSON.stringify(resource)}`,
    );
  }
  if (!ROLES.includes(data.role as Role)) throw new Error(`bad role ${JSON.stringify(data.role)}`);
  const epoch = epochField(data, "epoch");
  const maxEpoch = epochField(data, "maxEpoch");
  if (maxEpoch < epoch) throw new Error(`maxEpoch ${maxEpoch} is below epoch ${epoch}`);
  const grantHolder = data.grantHolder === null || data.grantHolder === undefined
    ? null
    : claimField(data.grantHolder);
  const hold = data.grantHoldMs;
  if (
    hold !== undefined && hold !== null &&
    !(typeof hold === "number" && Number.isFinite(hold) && hold >= 0 && hold < 1e12)
  ) {
    throw new Error(`bad grantHoldMs ${JSON.stringify(hold)}`);
  }
  const quarantine = data.quarantineMs;
  if (
    quarantine !== undefined &&
    !(typeof quarantine === "number" && Number.isFinite(quarantine) && quarantine > 0 &&
      quarantine < 1e12)
  ) {
    throw new Error(`bad quarantineMs ${JSON.stringify(quarantine)}`);
  }
  return {
    role: data.role as Role,
    epoch,
    maxEpoch,
    grantHolder,
    grantHoldMs: typeof hold === "number" ? hold : null,
    policy: data.version === 1 ? emptyPolicy() : policyField(data.policy),
    ...(quarantine ? { quarantineMs: quarantine } : {}),
  };
}

function policyField(v: unknown): PolicyState {
  const bad = () => new Error(`bad policy ${JSON.stringify(v).slice(0, 200)}`);
  if (!isRecord(v) || !isRecord(v.restarts)) throw bad();
  const times = (a: unknown): number[] => {
    if (
      !Array.isArray(a) || a.length > MAX_POLICY_ENTRIES ||
      !a.every((t) => typeof t === "number" && Number.isFinite(t) && t >= 0)
    ) throw bad();
    return a as number[];
  };
  const restarts: Record<string, number[]> = Object.create(null);
  for (const [k, a] of Object.entries(v.restarts)) restarts[k] = times(a);
  const pp = v.pingpong;
  if (
    !Array.isArray(pp) || pp.length > MAX_POLICY_ENTRIES ||
    !pp.every((p) =>
      isRecord(p) && typeof p.node === "string" && typeof p.member === "string" &&
      typeof p.at === "number" && Number.isFinite(p.at)
    )
  ) throw bad();
  return {
    restarts,
    groupRestarts: times(v.groupRestarts),
    pingpong: pp.map((p) => ({ node: p.node, member: p.member, at: p.at })),
    failedStarts: times(v.failedStarts),
  };
}

function epochField(data: Record<string, unknown>, key: string): number {
  const v = data[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > MAX_EPOCH) {
    throw new Error(`bad ${key} ${JSON.stringify(v)}`);
  }
  return v as number;
}

function claimField(v: unknown): Claim {
  if (
    !isRecord(v) || typeof v.node !== "string" || v.node === "" ||
    !Number.isSafeInteger(v.epoch) || (v.epoch as number) < 0 ||
    (v.epoch as number) > MAX_EPOCH || typeof v.priority !== "number" ||
    !Number.isFinite(v.priority)
  ) {
    throw new Error(`bad grantHolder ${JSON.stringify(v)}`);
  }
  return { node: v.node, epoch: v.epoch as number, priority: v.priority };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
