/**
 * What survives a restart of the daemon (PRODUCT.md §3.6): per resource, the
 * core's PersistedState (role, epochs, grant holder) and an open record of
 * counters, in `state_dir`.
 *
 * Layout: one JSON file per resource, `<state_dir>/<name>.state.json` (the
 * name percent-encoded as by encodeURIComponent). One file per resource
 * because persisting is a hot path of a role change: a write touches only that
 * resource, needs no read-modify-write of a shared file, and a damaged file
 * costs one resource, not the node.
 *
 * ```json
 * {"version":1,"resource":"web","role":"primary","epoch":7,"maxEpoch":7,
 *  "grantHolder":null,"counters":{}}
 * ```
 *
 * A write is atomic: temporary file in the same directory, write, fsync,
 * rename over the old file, fsync the directory. A file that cannot be read,
 * parsed or validated, or has another version, is reported as a warning and
 * ignored, never trusted.
 */
import type { Claim, PersistedState, Role } from "../core/types.ts";
import { ROLES } from "../core/types.ts";

/** The version written, and the only one read. */
export const STATE_VERSION = 1;

const SUFFIX = ".state.json";
/** Temporary files: `.<file>.<pid>.<seq>.tmp`, so a restart can tell its own from a crashed writer's. */
const TEMP = /^\..*\.state\.json\.(\d+)\.\d+\.tmp$/;

/** The persisted state of one resource. */
export interface ResourceState extends PersistedState {
  /** Open record for the core's counters (restart budgets, pingpong marks); JSON values only. */
  counters: Record<string, unknown>;
}

/** A state file that was not used, and why. */
export interface StateWarning {
  path: string;
  reason: string;
}

/** Everything restored from a state directory. */
export interface RestoredStates {
  states: Map<string, ResourceState>;
  warnings: StateWarning[];
}

/** The per-resource state files of one node in one directory. */
export class StateStore {
  #writes = new Map<string, Promise<void>>();
  #seq = 0;

  /** `dir` is created on the first save if it does not exist. */
  constructor(readonly dir: string) {}

  /** The file that holds `resource`'s state. */
  pathOf(resource: string): string {
    if (resource === "") throw new Error("empty resource name");
    return `${this.dir}/${encodeURIComponent(resource)}${SUFFIX}`;
  }

  /**
   * Persist `state` atomically. Saves of one resource are applied in call
   * order. Rejects when the state could not be made durable.
   */
  save(resource: string, state: ResourceState): Promise<void> {
    const previous = this.#writes.get(resource) ?? Promise.resolve();
    const write = previous.then(() => this.#write(resource, state));
    const tail = write.then(noop, noop);
    this.#writes.set(resource, tail);
    tail.then(() => {
      if (this.#writes.get(resource) === tail) this.#writes.delete(resource);
    });
    return write;
  }

  /** Restore one resource; `state` is null when there is no usable file. */
  async load(
    resource: string,
  ): Promise<{ state: ResourceState | null; warning: StateWarning | null }> {
    const path = this.pathOf(resource);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { state: null, warning: null };
      return { state: null, warning: { path, reason: `cannot read: ${message(e)}` } };
    }
    try {
      return { state: parseState(text, resource), warning: null };
    } catch (e) {
      return { state: null, warning: { path, reason: message(e) } };
    }
  }

  /**
   * Restore every resource found in the directory (a missing directory is
   * empty), and remove temporary files that a crashed writer left behind.
   */
  async loadAll(): Promise<RestoredStates> {
    const restored: RestoredStates = { states: new Map(), warnings: [] };
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return restored;
      throw e;
    }
    for (const entry of entries) {
      const path = `${this.dir}/${entry.name}`;
      const temp = TEMP.exec(entry.name);
      if (temp !== null) {
        if (Number(temp[1]) !== Deno.pid) await Deno.remove(path).catch(noop);
        continue;
      }
      if (!entry.name.endsWith(SUFFIX) || entry.name.startsWith(".")) continue;
      let resource: string;
      try {
        resource = decodeURIComponent(entry.name.slice(0, -SUFFIX.length));
      } catch {
        restored.warnings.push({
          path,
          reason: "file name is not a percent-encoded resource name",
        });
        continue;
      }
      const { state, warning } = await this.load(resource);
      if (warning !== null) restored.warnings.push(warning);
      if (state !== null) restored.states.set(resource, state);
    }
    return restored;
  }

  async #write(resource: string, state: ResourceState): Promise<void> {
    const path = this.pathOf(resource);
    const temp = `${this.dir}/.${encodeURIComponent(resource)}${SUFFIX}.${Deno.pid}.${++this
      .#seq}.tmp`;
    const { role, epoch, maxEpoch, grantHolder, counters } = state;
    const record = {
      version: STATE_VERSION,
      resource,
      role,
      epoch,
      maxEpoch,
      grantHolder,
      counters,
    };
    const text = JSON.stringify(record) + "\n";
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
      try {
        await writeAll(file, new TextEncoder().encode(text));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, path);
    } catch (e) {
      await Deno.remove(temp).catch(noop);
      throw e;
    }
    // The rename is durable only once the directory entry is.
    const dir = await Deno.open(this.dir, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}

/** Validate a state file's text; throws the reason it cannot be trusted. */
export function parseState(text: string, resource: string): ResourceState {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${message(e)}`);
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
  const grantHolder = data.grantHolder === null ? null : claimField(data.grantHolder);
  const hold = data.grantHoldMs;
  if (
    hold !== undefined && hold !== null && !(typeof hold === "number" && hold >= 0 && hold < 1e12)
  ) {
    throw new Error(`bad grantHoldMs ${JSON.stringify(hold)}`);
  }
  const grantHoldMs = typeof hold === "number" ? hold : null;
  if (!isRecord(data.counters)) throw new Error("counters is not a JSON object");
  return {
    role: data.role as Role,
    epoch,
    maxEpoch,
    grantHolder,
    ...(grantHoldMs !== null ? { grantHoldMs } : {}),
    counters: data.counters,
  };
}

function epochField(data: Record<string, unknown>, key: string): number {
  const v = data[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new Error(`bad ${key} ${JSON.stringify(v)}`);
  }
  return v as number;
}

function claimField(v: unknown): Claim {
  if (
    !isRecord(v) || typeof v.node !== "string" || !Number.isSafeInteger(v.epoch) ||
    (v.epoch as number) < 0 || typeof v.priority !== "number" || !Number.isFinite(v.priority)
  ) {
    throw new Error(`bad grantHolder ${JSON.stringify(v)}`);
  }
  return { node: v.node, epoch: v.epoch as number, priority: v.priority };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function noop(): void {}
