/**
 * What survives a restart of the daemon (PRODUCT.md §3.6): per resource, the
 * text of its state record, in the format of src/runtime/state_file.ts (one
 * JSON line, which the simulator's disk uses too). This module only stores and
 * finds the texts; the runtime encodes, validates and decodes them.
 *
 * Layout: one journal per node, `<state_dir>/state.journal`, a record per
 * line; a resource's last line is its state. A save appends its line and
 * returns once an fdatasync covers it. Saves that arrive while one is being
 * made durable are appended together (a group commit): a thousand resources
 * changing role at once cost a few dozen fsyncs, not the four thousand (file,
 * fsync, rename, directory fsync each) of a file per resource, which held every
 * message about those resources back for seconds (docs/BENCHMARKS.md).
 *
 * The journal is rewritten (compacted) to its last line per resource when it
 * has grown to several times that, and at the first save after a start: a
 * fresh `O_EXCL` temporary file, fsync, rename over the journal, fsync of the
 * directory. Appends go only to the descriptor that rewrite created, never to
 * a file opened by name.
 *
 * A line that is not a record (bytes torn by a crash in the middle of a write,
 * damage) may have been the last state of any resource written before it: each
 * of those, and every resource not seen yet, is then restored as a damaged
 * record, which the runtime refuses, so it starts quarantined (docs/SAFETY.md
 * §3). A rewrite keeps those marks in place, so a restart during the
 * quarantine quarantines again; a resource saved since has its own line after
 * the damage and is trusted.
 *
 * Files of an older hastmon (`<name>.state.json`, one per resource) are read
 * at a start and removed once their states are in the journal.
 */

const JOURNAL = "state.journal";
/** Temporary files: `.state.journal.<pid>.<seq>.tmp`, so a restart can tell its own from a crashed writer's. */
const TEMP = /^\..*\.(\d+)\.\d+\.tmp$/;
/** An older hastmon's file per resource. */
const LEGACY_SUFFIX = ".state.json";
/** The journal is rewritten when it holds more than this many times its live lines (and the slack). */
const REWRITE_FACTOR = 4;
const REWRITE_SLACK = 64 * 1024;
/** The key of the mark "a resource not seen before this point may have lost its state". */
const ANY = "";

/** A state record that was not used, and why. */
export interface StateWarning {
  path: string;
  reason: string;
}

interface Waiter {
  resource: string;
  text: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The state journal of one node in one directory. */
export class StateStore {
  /** The last line per resource (and the damage marks), in the order a rewrite writes them. */
  #records = new Map<string, string>();
  #liveBytes = 0;
  /** Bytes in the journal file (what a rewrite would shrink). */
  #fileBytes = 0;
  /** The journal, open for appending once a rewrite made it; null until then or after a failure. */
  #file: Deno.FsFile | null = null;
  /** Files of an older hastmon, removed once the journal holds their states. */
  #legacy: string[] = [];
  #pending: Waiter[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  #seq = 0;

  /** `dir` is created on the first save if it does not exist. */
  constructor(readonly dir: string) {}

  /** The journal's path. */
  get path(): string {
    return `${this.dir}/${JOURNAL}`;
  }

  /**
   * Read what a previous run left (a missing directory is empty), and remove
   * temporary files that a crashed writer left behind. Throws when the journal
   * exists but cannot be read: guessing would be unsafe.
   */
  async open(): Promise<StateWarning[]> {
    const warnings: StateWarning[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return warnings;
      throw e;
    }
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${this.dir}/${entry.name}`;
      const temp = TEMP.exec(entry.name);
      if (temp !== null) {
        if (Number(temp[1]) !== Deno.pid) await Deno.remove(path).catch(noop);
        continue;
      }
      if (!entry.name.endsWith(LEGACY_SUFFIX) || entry.name.startsWith(".")) continue;
      await this.#readLegacy(path, entry.name.slice(0, -LEGACY_SUFFIX.length), warnings);
    }
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return warnings;
      throw new Error(`cannot read ${this.path}: ${message(e)}`);
    }
    this.#fileBytes = text.length;
    const lines = text.split("\n");
    const tail = lines.pop()!;
    const torn = tail !== ""; // a last line without its newline was never completed
    if (torn) lines.push(tail);
    lines.forEach((line, i) => {
      const resource = recordOf(line);
      if (resource !== null) return this.#set(resource, line + "\n");
      const where = `line ${i + 1}`;
      const what = torn && i === lines.length - 1
        ? "incomplete"
        : line.startsWith('{"damaged":')
        ? "states lost at an earlier start"
        : "not a state record";
      warnings.push({
        path: this.path,
        reason: `${where}: ${what}; every resource whose state was written before it ` +
          "starts quarantined",
      });
      this.#damage(where);
    });
    return warnings;
  }

  /** The state text restored for `resource`, or saved since; null when it has none. */
  text(resource: string): string | null {
    return this.#records.get(resource) ??
      (this.#records.has(ANY) ? damaged(resource, "an unreadable line") : null);
  }

  /**
   * Write `text` (one line ending in a newline) as `resource`'s state.
   * Resolves once it is durable; saves are applied in call order.
   */
  save(resource: string, text: string): Promise<void> {
    if (resource === ANY) return Promise.reject(new Error("empty resource name"));
    if (text.indexOf("\n") !== text.length - 1) {
      return Promise.reject(new Error("a state record is one line ending in a newline"));
    }
    if (this.#closed) return Promise.reject(new Error("the state store is closed"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resource, text, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  /** Wait for the saves under way, then close the journal; later saves are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
    this.#file?.close();
    this.#file = null;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        const live = this.#liveBytes;
        if (this.#file === null || this.#fileBytes > REWRITE_FACTOR * live + REWRITE_SLACK) {
          for (const w of batch) this.#set(w.resource, w.text);
          await this.#rewrite();
        } else {
          const bytes = new TextEncoder().encode(batch.map((w) => w.text).join(""));
          await writeAll(this.#file, bytes);
          await this.#file.syncData();
          this.#fileBytes += bytes.length;
          for (const w of batch) this.#set(w.resource, w.text);
        }
        for (const w of batch) w.resolve();
      } catch (e) {
        // What is in the file is now unknown: the next save rewrites it whole.
        this.#file?.close();
        this.#file = null;
        const error = e instanceof Error ? e : new Error(String(e));
        for (const w of batch) w.reject(error);
      }
    }
    // In the same step as the last look at #pending (a waiter resumes only after it), so a save
    // from here on starts a new drain.
    this.#draining = null;
  }

  /** Replace the journal with its live lines, and append to the new one from here on. */
  async #rewrite(): Promise<void> {
    this.#file?.close();
    this.#file = null;
    const temp = `${this.dir}/.${JOURNAL}.${Deno.pid}.${++this.#seq}.tmp`;
    const create = () => Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    const bytes = new TextEncoder().encode([...this.#records.values()].join(""));
    let file: Deno.FsFile;
    try {
      try {
        file = await create();
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        // The directory went away (or was never made): make it, once, and try again.
        await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
        file = await create();
      }
    } catch (e) {
      // Something at our temporary name (never followed: createNew) goes, so the next try works.
      await Deno.remove(temp).catch(noop);
      throw e;
    }
    try {
      await writeAll(file, bytes);
      await file.sync();
      await Deno.rename(temp, this.path);
      await syncDir(this.dir);
    } catch (e) {
      file.close();
      await Deno.remove(temp).catch(noop);
      throw e;
    }
    this.#file = file;
    this.#fileBytes = bytes.length;
    // Their states are in the journal now (a crash before this reads both; the journal wins).
    for (const path of this.#legacy.splice(0)) await Deno.remove(path).catch(noop);
  }

  /** `resource`'s line is now `text`, after every other line. */
  #set(resource: string, text: string) {
    const old = this.#records.get(resource);
    if (old !== undefined) this.#liveBytes -= old.length;
    this.#records.delete(resource);
    this.#records.set(resource, text);
    this.#liveBytes += text.length;
  }

  /** A damaged line: no state written before it can be trusted. */
  #damage(where: string) {
    for (const resource of [...this.#records.keys()]) {
      if (resource !== ANY) this.#set(resource, damaged(resource, where));
    }
    this.#set(ANY, JSON.stringify({ damaged: where }) + "\n");
  }

  async #readLegacy(path: string, encoded: string, warnings: StateWarning[]) {
    let resource: string;
    try {
      resource = decodeURIComponent(encoded);
    } catch {
      warnings.push({ path, reason: "file name is not a percent-encoded resource name" });
      return;
    }
    this.#legacy.push(path);
    try {
      const text = await Deno.readTextFile(path);
      // One line as this store writes it; anything else is refused by the runtime anyway.
      this.#set(resource, text.endsWith("\n") ? text : text + "\n");
    } catch (e) {
      warnings.push({ path, reason: `cannot read: ${message(e)}; it starts quarantined` });
      this.#set(resource, damaged(resource, `unreadable ${path}`));
    }
  }
}

/**
 * The resource a journal line is a record of, or null when the line is not a
 * record (the runtime validates the rest).
 */
function recordOf(line: string): string | null {
  if (!line.startsWith("{")) return null;
  try {
    const data = JSON.parse(line);
    return typeof data?.resource === "string" && data.resource !== ANY ? data.resource : null;
  } catch {
    return null;
  }
}

/** A record for `resource` that says it was lost; the runtime refuses it (quarantine). */
function damaged(resource: string, where: string): string {
  return JSON.stringify({ resource, damaged: where }) + "\n";
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function noop(): void {}
