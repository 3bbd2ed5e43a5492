/**
 * What survives a restart of the daemon (PRODUCT.md §3.6): per resource, the
 * text of its state file in `state_dir`, in the format of
 * src/runtime/state_file.ts (which the simulator's disk uses too). This module
 * only stores and finds the texts; the runtime encodes, validates and decodes.
 *
 * Layout: one file per resource, `<state_dir>/<name>.state.json` (the name
 * percent-encoded as by encodeURIComponent). One file per resource because
 * persisting is a hot path of a role change: a write touches only that
 * resource, needs no read-modify-write of a shared file, and a damaged file
 * costs one resource, not the node.
 *
 * A write is atomic: temporary file in the same directory, write, fsync,
 * rename over the old file, fsync the directory.
 */

const SUFFIX = ".state.json";
/** Temporary files: `.<file>.<pid>.<seq>.tmp`, so a restart can tell its own from a crashed writer's. */
const TEMP = /^\..*\.state\.json\.(\d+)\.\d+\.tmp$/;

/** A state file that was not used, and why. */
export interface StateWarning {
  path: string;
  reason: string;
}

/** Every state file found in a state directory, as text. */
export interface RestoredTexts {
  texts: Map<string, string>;
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
   * Write `text` as `resource`'s state atomically. Saves of one resource are
   * applied in call order. Rejects when it could not be made durable.
   */
  save(resource: string, text: string): Promise<void> {
    const previous = this.#writes.get(resource) ?? Promise.resolve();
    const write = previous.then(() => this.#write(resource, text));
    const tail = write.then(noop, noop);
    this.#writes.set(resource, tail);
    tail.then(() => {
      if (this.#writes.get(resource) === tail) this.#writes.delete(resource);
    });
    return write;
  }

  /** The text of `resource`'s state file: null when there is none, a warning when unreadable. */
  async load(resource: string): Promise<{ text: string | null; warning: StateWarning | null }> {
    const path = this.pathOf(resource);
    try {
      return { text: await Deno.readTextFile(path), warning: null };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { text: null, warning: null };
      return { text: null, warning: { path, reason: `cannot read: ${message(e)}` } };
    }
  }

  /**
   * Every state file found in the directory (a missing directory is empty),
   * and remove temporary files that a crashed writer left behind.
   */
  async loadAll(): Promise<RestoredTexts> {
    const restored: RestoredTexts = { texts: new Map(), warnings: [] };
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
      const { text, warning } = await this.load(resource);
      if (warning !== null) restored.warnings.push(warning);
      if (text !== null) restored.texts.set(resource, text);
    }
    return restored;
  }

  async #write(resource: string, text: string): Promise<void> {
    const path = this.pathOf(resource);
    const temp = `${this.dir}/.${encodeURIComponent(resource)}${SUFFIX}.${Deno.pid}.${++this
      .#seq}.tmp`;
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

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function noop(): void {}
