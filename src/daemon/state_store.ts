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
 * A line is `<crc32> <generation> <record>`: the CRC (of the rest of the line)
 * tells a line written whole from a torn or damaged one, and the generation
 * (random, one per journal file) tells this journal's lines from stale blocks
 * of an older one that a crash in the middle of an append can expose.
 *
 * The journal is rewritten (compacted) to its last line per resource at every
 * start and when it has grown to several times that: a fresh `O_EXCL`
 * temporary file, fsync, rename over the journal, fsync of the directory.
 * Appends go only to the descriptor that rewrite created, never to a file
 * opened by name. A lock on `<state_dir>/lock` keeps a second daemon out.
 *
 * Bad lines at the end, with no good line after them, are an append that never
 * completed: no save of it was acknowledged, so nothing rests on it, and it is
 * dropped (with a warning). A bad line before a good one is damage: it may have
 * been the last state of any resource written before it, so each of those, and
 * every resource not seen yet, is restored as a damaged record, which the
 * runtime refuses (quarantine, docs/SAFETY.md §3). A rewrite keeps those marks
 * in place; a resource saved since has its own line after them.
 *
 * Files of an older hastmon (`<name>.state.json`, one per resource) are read
 * at a start, written into the journal, and replaced by a mark that the older
 * hastmon refuses (so going back to it quarantines rather than trusting
 * nothing). A file of that form that is not the mark was written by an older
 * hastmon after the journal, so it is newer and wins.
 */
import { openNoFollowSync, UnsafePathError } from "./safe_open.ts";
import { lostState } from "../runtime/state_file.ts";

const JOURNAL = "state.journal";
const LOCK = "lock";
/** Temporary files: `.<name>.<pid>.<seq>.tmp` (a crashed writer's are removed at a start). */
const TEMP = /^\..*\.\d+\.\d+\.tmp$/;
/** An older hastmon's file per resource, and what replaces it once migrated. */
const LEGACY_SUFFIX = ".state.json";
const MIGRATED = JSON.stringify({ migrated: `moved into ${JOURNAL} by a newer hastmon` }) + "\n";
/** The journal is rewritten when it holds more than this many times its live lines (and the slack). */
const REWRITE_FACTOR = 4;
const REWRITE_SLACK = 64 * 1024;
/** The key of the mark "a resource not seen before this point may have lost its state". */
const ANY = "";
/** The first line of every journal (what follows it is its generation's). */
const HEADER = JSON.stringify({ hastmon: "state journal", version: 1 });

/** A state record that was not used, and why. */
export interface StateWarning {
  path: string;
  reason: string;
}

/** Another daemon holds the state directory. */
export class StateDirInUseError extends Error {
  constructor(readonly dir: string) {
    super(
      `state_dir ${dir} is in use by another hastmon daemon, or one still exiting ` +
        `(${dir}/${LOCK} is locked)`,
    );
    this.name = "StateDirInUseError";
  }
}

interface Waiter {
  resource: string;
  text: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The state journal of one node in one directory. */
export class StateStore {
  /** The last record per resource (and the damage marks), in the order a rewrite writes them. */
  #records = new Map<string, string>();
  #liveBytes = 0;
  /** Bytes in the journal file (what a rewrite would shrink). */
  #fileBytes = 0;
  /** The journal, open for appending once a rewrite made it; null until then or after a failure. */
  #file: Deno.FsFile | null = null;
  #generation = "";
  #lock: Deno.FsFile | null = null;
  #pending: Waiter[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  #seq = 0;

  constructor(readonly dir: string) {}

  /** The journal's path. */
  get path(): string {
    return `${this.dir}/${JOURNAL}`;
  }

  /**
   * Lock the directory (made if missing), read what a previous run left, and
   * rewrite the journal from it. Throws {@link StateDirInUseError} when another
   * daemon holds it, and when the journal exists but cannot be read: guessing
   * would be unsafe.
   */
  async open(): Promise<StateWarning[]> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lockPath = `${this.dir}/${LOCK}`;
    // A directory some daemon has used has a journal: one without is damage, not a fresh start.
    const used = await Deno.lstat(lockPath).then(() => true, () => false);
    const lock = openNoFollowSync(lockPath, { mode: 0o600 });
    try {
      if (!lock.tryLockSync(true)) throw new StateDirInUseError(this.dir);
      const warnings = await this.#restore(used);
      this.#lock = lock;
      return warnings;
    } catch (e) {
      this.#file?.close();
      this.#file = null;
      lock.close();
      throw e;
    }
  }

  async #restore(used: boolean): Promise<StateWarning[]> {
    this.#records = new Map();
    this.#liveBytes = 0;
    const warnings: StateWarning[] = [];
    const legacy: string[] = [];
    const entries = await Array.fromAsync(Deno.readDir(this.dir));
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${this.dir}/${entry.name}`;
      if (TEMP.test(entry.name)) await Deno.remove(path).catch(noop);
      else if (entry.name.endsWith(LEGACY_SUFFIX) && !entry.name.startsWith(".")) legacy.push(path);
    }
    const found = await this.#readJournal(warnings);
    // After the journal: a file that is not our mark is newer (an older hastmon ran since).
    const migrated: string[] = [];
    let marked = false; // a file our mark replaced: a journal was made here
    for (const path of legacy) {
      const read = await this.#readLegacy(path, warnings);
      if (read === "state") migrated.push(path);
      marked ||= read === "mark";
    }
    if (!found && (used || marked)) {
      warnings.push({
        path: this.path,
        reason: "missing, though a daemon has used this directory; every resource starts " +
          "quarantined",
      });
      this.#damage("a missing journal");
    }
    await this.#rewrite(this.#records);
    // Only once the journal holds their states, so that an older hastmon refuses them.
    for (const path of migrated) await this.#markMigrated(path);
    if (migrated.length > 0) await syncDir(this.dir);
    return warnings;
  }

  /** The state text restored for `resource`, or saved since; null when it has none. */
  text(resource: string): string | null {
    return this.#records.get(resource) ??
      (this.#records.has(ANY) ? lostState(resource, "an unreadable line") : null);
  }

  /**
   * Write `text` (`resource`'s record: one line ending in a newline) as its
   * state. Resolves once it is durable; saves are applied in call order.
   */
  save(resource: string, text: string): Promise<void> {
    if (text.indexOf("\n") !== text.length - 1 || recordOf(text.slice(0, -1)) !== resource) {
      return Promise.reject(
        new Error(`not a record of ${JSON.stringify(resource)} on one line`),
      );
    }
    if (this.#closed) return Promise.reject(new Error("the state store is closed"));
    if (this.#lock === null) return Promise.reject(new Error("the state store is not open"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resource, text, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  /** Wait for the saves under way, then close the journal and let go of the directory. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
    this.#file?.close();
    this.#file = null;
    this.#lock?.close();
    this.#lock = null;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        if (
          this.#file === null || this.#fileBytes > REWRITE_FACTOR * this.#liveBytes + REWRITE_SLACK
        ) {
          const records = new Map(this.#records);
          for (const w of batch) moveToEnd(records, w.resource, w.text);
          await this.#rewrite(records);
        } else {
          await this.#append(batch);
        }
        for (const w of batch) w.resolve();
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        for (const w of batch) w.reject(error);
      }
    }
    // In the same step as the last look at #pending (a waiter resumes only after it), so a save
    // from here on starts a new drain.
    this.#draining = null;
  }

  async #append(batch: Waiter[]): Promise<void> {
    const file = this.#file!;
    const bytes = new TextEncoder().encode(
      batch.map((w) => line(this.#generation, w.text)).join(""),
    );
    try {
      await writeAll(file, bytes);
      await file.syncData();
    } catch (e) {
      // Cut off what may have been written, so that a restart finds no torn line; the next save
      // rewrites the journal whole in any case.
      await file.truncate(this.#fileBytes).catch(noop);
      file.close();
      this.#file = null;
      throw new Error(`cannot append to ${this.path}: ${message(e)}`, { cause: e });
    }
    this.#fileBytes += bytes.length;
    for (const w of batch) this.#set(w.resource, w.text);
  }

  /** Make `records` the journal, a new file in a new generation, and append to it from here on. */
  async #rewrite(records: Map<string, string>): Promise<void> {
    this.#file?.close();
    this.#file = null;
    const generation = randomGeneration();
    const bytes = new TextEncoder().encode(
      [HEADER + "\n", ...records.values()].map((text) => line(generation, text)).join(""),
    );
    const file = await this.#writeNew(JOURNAL, bytes).catch((e) => {
      throw new Error(`cannot write ${this.path}: ${message(e)}`, { cause: e });
    });
    this.#file = file;
    this.#generation = generation;
    this.#fileBytes = bytes.length;
    if (records !== this.#records) {
      this.#records = records;
      this.#liveBytes = [...records.values()].reduce((n, t) => n + t.length, 0);
    }
  }

  /**
   * `bytes` as `dir/name`, made durable: a fresh temporary file, fsync, rename,
   * fsync of the directory. Returns the file, open for writing at its end.
   */
  async #writeNew(name: string, bytes: Uint8Array, dirSync = true): Promise<Deno.FsFile> {
    const temp = `${this.dir}/.${name}.${Deno.pid}.${++this.#seq}.tmp`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    } catch (e) {
      // Something at our temporary name (never followed: createNew) goes, so the next try works.
      await Deno.remove(temp).catch(noop);
      throw e;
    }
    try {
      await writeAll(file, bytes);
      await file.sync();
      await Deno.rename(temp, `${this.dir}/${name}`);
      if (dirSync) await syncDir(this.dir);
      return file;
    } catch (e) {
      file.close();
      await Deno.remove(temp).catch(noop);
      throw e;
    }
  }

  /** Read the journal into #records; false when there is none. */
  async #readJournal(warnings: StateWarning[]): Promise<boolean> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    if (!info.isFile) {
      throw new UnsafePathError(this.path, "it is not a regular file", "refusing to read it");
    }
    let text: string;
    try {
      text = new TextDecoder().decode(await Deno.readFile(this.path));
    } catch (e) {
      throw new Error(`cannot read ${this.path}: ${message(e)}`);
    }
    const lines = text.split("\n");
    const tail = lines.pop()!; // "" when the file ends with a newline, as every append does
    if (tail !== "") lines.push(tail);
    const parsed = lines.map((l) => parseLine(l));
    // The header, made durable by a rewrite before its rename, names the journal's generation
    // (a rewrite never leaves an empty journal either).
    const generation = parsed[0]?.json === HEADER ? parsed[0].generation : null;
    if (generation === null) {
      warnings.push({
        path: this.path,
        reason: `line 1: ${
          lines.length === 0 ? "empty" : "not the journal's header"
        }; every resource starts quarantined`,
      });
      this.#damage("line 1");
      return true;
    }
    const good = parsed.map((p) => p !== null && p.generation === generation);
    const lastGood = good.lastIndexOf(true);
    for (let i = 1; i < lines.length; i++) {
      const where = `line ${i + 1}`;
      const resource = good[i] ? recordOf(parsed[i]!.json) : null;
      if (resource !== null) {
        this.#set(resource, parsed[i]!.json + "\n");
        continue;
      }
      // What a crash in an append leaves at the end: its last line unfinished, bytes never
      // written (zeros), or blocks of an older journal. A whole line of this journal whose CRC
      // fails was written, maybe acknowledged, then damaged: that is damage.
      const unwritten = (i === lines.length - 1 && tail !== "") || lines[i].includes("\0") ||
        (parsed[i] !== null && parsed[i]!.generation !== generation);
      if (i > lastGood && unwritten) {
        warnings.push({
          path: this.path,
          reason: `${where}: an append that never completed (nothing rests on it): dropped`,
        });
        continue;
      }
      const what = !good[i]
        ? (parsed[i] === null ? "damaged" : "from another journal")
        : parsed[i]!.json.startsWith('{"damaged":')
        ? "states lost at an earlier start"
        : "not a record";
      warnings.push({
        path: this.path,
        reason: `${where}: ${what}; every resource whose state was written before it ` +
          "starts quarantined",
      });
      this.#damage(where);
    }
    return true;
  }

  /**
   * Read an older hastmon's file: "state" when it is one (now in #records, to be marked), "mark"
   * when our mark replaced it, "other" when it is neither (left alone).
   */
  async #readLegacy(
    path: string,
    warnings: StateWarning[],
  ): Promise<"state" | "mark" | "other"> {
    const name = path.slice(this.dir.length + 1, -LEGACY_SUFFIX.length);
    let resource: string;
    try {
      resource = decodeURIComponent(name);
    } catch {
      warnings.push({ path, reason: "file name is not a percent-encoded resource name" });
      return "other";
    }
    let text: string;
    try {
      const info = await Deno.lstat(path);
      if (!info.isFile) throw new Error("not a regular file");
      text = await Deno.readTextFile(path);
    } catch (e) {
      warnings.push({ path, reason: `cannot read: ${message(e)}; it starts quarantined` });
      this.#set(resource, lostState(resource, `unreadable ${path}`));
      return "state";
    }
    if (text === MIGRATED) return "mark";
    if (text.indexOf("\n") !== text.length - 1 || recordOf(text.slice(0, -1)) !== resource) {
      warnings.push({ path, reason: `not a state of ${resource}; it starts quarantined` });
      this.#set(resource, lostState(resource, `bad ${path}`));
    } else {
      this.#set(resource, text);
    }
    return "state";
  }

  /** Replace an older hastmon's file by the mark it refuses (the directory is synced after all). */
  async #markMigrated(path: string): Promise<void> {
    const file = await this.#writeNew(
      path.slice(this.dir.length + 1),
      new TextEncoder().encode(MIGRATED),
      false,
    );
    file.close();
  }

  /** `resource`'s record is now `text`, after every other. */
  #set(resource: string, text: string) {
    const old = this.#records.get(resource);
    if (old !== undefined) this.#liveBytes -= old.length;
    moveToEnd(this.#records, resource, text);
    this.#liveBytes += text.length;
  }

  /** A damaged line: no state written before it can be trusted. */
  #damage(where: string) {
    for (const resource of [...this.#records.keys()]) {
      if (resource !== ANY) this.#set(resource, lostState(resource, where));
    }
    // Not a record (no resource): read back, it marks everything before it again.
    this.#set(ANY, JSON.stringify({ damaged: where }) + "\n");
  }
}

function moveToEnd(records: Map<string, string>, key: string, text: string) {
  records.delete(key);
  records.set(key, text);
}

/** A journal line: CRC-32 of the rest, the generation, the record (which ends the line). */
function line(generation: string, text: string): string {
  const rest = `${generation} ${text.slice(0, -1)}`;
  return `${hex8(crc32(rest))} ${rest}\n`;
}

/** A journal line's generation and JSON when its CRC holds; else null. */
function parseLine(l: string): { generation: string; json: string } | null {
  const m = /^([0-9a-f]{8}) ([0-9a-f]{16}) (.*)$/s.exec(l); // s: U+2028 is in a line too
  if (m === null || hex8(crc32(l.slice(9))) !== m[1]) return null;
  return { generation: m[2], json: m[3] };
}

/**
 * The resource a record names, or null when it is not a record (the runtime
 * validates the rest). A damage mark (no resource) is not a record.
 */
function recordOf(json: string): string | null {
  if (!json.startsWith("{")) return null;
  try {
    const data = JSON.parse(json);
    return typeof data?.resource === "string" && data.resource !== ANY ? data.resource : null;
  } catch {
    return null;
  }
}

function randomGeneration(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of the UTF-8 bytes of `s`. */
function crc32(s: string): number {
  let c = 0xffffffff;
  for (const b of new TextEncoder().encode(s)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

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
