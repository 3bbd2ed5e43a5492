/**
 * The state file's format: one JSON object per resource, written by the
 * daemon's store and by the simulator's disk alike, so that what the simulator
 * proves about a restart is what the daemon does.
 *
 * ```json
 * {"version":1,"resource":"web","role":"primary","epoch":7,"maxEpoch":7,
 *  "grantHolder":{"node":"b","epoch":6,"priority":20},"grantHoldMs":4750}
 * ```
 *
 * A state is validated before it is written (a bug must not leave a file
 * that the next start refuses) and when it is read; a file that does not pass
 * is never trusted.
 */
import type { Claim, PersistedState, Role } from "../core/types.ts";
import { MAX_EPOCH, ROLES } from "../core/types.ts";

/** The version written, and the only one read. */
export const STATE_VERSION = 1;

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
  };
  const text = JSON.stringify(record) + "\n";
  parseState(text, resource); // what we could not read back, we do not write
  return text;
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
  if (data.version !== STATE_VERSION) {
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
  return {
    role: data.role as Role,
    epoch,
    maxEpoch,
    grantHolder,
    grantHoldMs: typeof hold === "number" ? hold : null,
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
