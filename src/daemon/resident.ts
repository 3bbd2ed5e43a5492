/**
 * The daemon's resident pages of its executable, given back after start-up.
 *
 * Deno's binary is 95 MB. Starting a process reads much of it once and never
 * again: V8's start-up snapshot, which is copied into the heap, and the code
 * that initialises V8, Deno's runtime, TLS, the module loader and the
 * program's start (configuration, keys, sockets). Those pages stay mapped, so
 * they count in the process's RSS for its whole life: 40 MB of an idle
 * daemon's 58 MB were pages of the binary, where an idle Deno process with one
 * timer keeps about 8 MB of them in use (docs/BENCHMARKS.md, "Idle").
 *
 * {@link releaseExecutablePages} drops this process's mappings of the pages
 * of the binary's read-only segments (madvise MADV_DONTNEED). The pages stay
 * in the page cache, shared with the other hastmon processes, and the kernel
 * may reclaim them; a page the process touches again comes back from the
 * page cache, or from the disk if it was reclaimed, so the resident set
 * settles at what the process keeps using. MADV_DONTNEED on a private
 * mapping discards the process's own copies of its pages, so only mappings
 * that cannot have one are released ({@link releasable}): never writable,
 * of a segment the ELF program headers load read-only, and with no page of
 * their own in memory or in swap. A page of .data that a program made
 * read-only after writing it (V8 does that to its flags) must stay: dropped,
 * it would come back with the file's bytes. Anonymous memory (V8's heap,
 * malloc's) is not touched.
 *
 * The daemon does it ({@link keepExecutablePagesLean}) after start-up and
 * then every ten minutes, so that what a failover or a reload touched once
 * goes back too; a daemon that waits on the disk for a page is late, and its
 * guard covers for it. The guard releases only the binary's read-only data
 * (V8's start-up snapshot is most of it) and keeps its code resident as it
 * was; read-only data that its stop path reads may come back from the page
 * cache or, under memory pressure, from the disk, as the code it never ran
 * (its stop hook's spawn, for one) does either way.
 */
import { bindLibcFunctions, errno, strerror } from "./libc.ts";

/** A mapping of /proc/self/smaps, with what deciding whether to release it needs. */
export interface Mapping {
  start: bigint;
  end: bigint;
  /** As in the file: "r-xp". */
  perms: string;
  /** Where in the file it begins. */
  offset: bigint;
  /** The mapped file's path; "" for an anonymous mapping. */
  path: string;
  /** Resident kB. */
  rssKb: number;
  /** kB of anonymous pages in memory (for a private file mapping: its own copies); null: no line. */
  anonymousKb: number | null;
  /** kB in swap (for a private file mapping: its own copies too); null: no line. */
  swapKb: number | null;
  /** From KernelPageSize; null: no line. */
  pageBytes: number | null;
  /** The two-letter VmFlags ("rd", "ex", "ac", ...); null: no line. */
  flags: string[] | null;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \S+ *(.*)$/;

/** The mappings of a /proc/PID/smaps text. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | null = null;
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header !== null) {
      current = {
        start: BigInt(`0x${header[1]}`),
        end: BigInt(`0x${header[2]}`),
        perms: header[3],
        offset: BigInt(`0x${header[4]}`),
        path: header[5],
        rssKb: 0,
        anonymousKb: null,
        swapKb: null,
        pageBytes: null,
        flags: null,
      };
      out.push(current);
      continue;
    }
    if (current !== null && line.startsWith("VmFlags:")) {
      current.flags = line.slice(8).trim().split(/\s+/);
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (current === null || field === null) continue;
    const kb = Number(field[2]);
    if (field[1] === "Rss") current.rssKb = kb;
    else if (field[1] === "Anonymous") current.anonymousKb = kb;
    else if (field[1] === "Swap") current.swapKb = kb;
    else if (field[1] === "KernelPageSize") current.pageBytes = kb * 1024;
  }
  return out;
}

/** A loadable segment of an ELF file: the bytes [offset, offset + size) of the file. */
export interface Segment {
  offset: bigint;
  size: bigint;
  writable: boolean;
}

const PT_LOAD = 1;
const PF_W = 2;

/** Where a 64-bit little-endian ELF file's program headers are, from its first 64 bytes. */
export function programHeaders(header: Uint8Array): { at: number; size: number; count: number } {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const elf = header.length >= 64 && view.getUint32(0) === 0x7f454c46; // "\x7fELF"
  if (!elf || header[4] !== 2 || header[5] !== 1) {
    throw new Error("the executable is not a 64-bit little-endian ELF file");
  }
  const size = view.getUint16(0x36, true);
  if (size < 56) throw new Error(`ELF program headers of ${size} bytes`);
  return { at: Number(view.getBigUint64(0x20, true)), size, count: view.getUint16(0x38, true) };
}

/** The loadable segments of the program headers `table` ({@link programHeaders}' `count` of them). */
export function loadSegments(table: Uint8Array, size: number, count: number): Segment[] {
  if (table.length < size * count) throw new Error("the ELF program headers are cut short");
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const segments: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const p = i * size;
    if (view.getUint32(p, true) !== PT_LOAD) continue;
    segments.push({
      offset: view.getBigUint64(p + 8, true),
      size: view.getBigUint64(p + 32, true),
      writable: (view.getUint32(p + 4, true) & PF_W) !== 0,
    });
  }
  return segments;
}

/**
 * VmFlags of a mapping that is or was writable, or whose private copies the
 * kernel does not track as writable ones: "ac", the kernel charged it for
 * private copies, which it does when a private mapping becomes writable (mmap
 * or mprotect) and does not undo when it becomes read-only again; "nr"
 * (MAP_NORESERVE), which is never charged, writable or not; "ht", hugetlb.
 */
const ONCE_WRITABLE = ["ac", "nr", "ht"];

/**
 * The mappings of `executable` whose every page is the file's: private (a
 * shared mapping's pages are not this process's to drop), never writable
 * (not now, and no {@link ONCE_WRITABLE} flag), of the pages of a read-only
 * segment of the file, and with no page of its own in memory or in swap
 * (what ptrace or /proc/PID/mem wrote). A mapping whose smaps lack one of
 * those lines is kept. The page of .data that V8 makes read-only after
 * writing its flags is kept out by its flag "ac", by its place in the file,
 * and, in memory or in swap, by its copy.
 */
export function releasable(
  mappings: readonly Mapping[],
  executable: string,
  segments: readonly Segment[],
): Mapping[] {
  return mappings.filter((m) => {
    if (m.path !== executable || m.perms[1] === "w" || m.perms[3] !== "p") return false;
    if (m.flags === null || m.flags.some((f) => ONCE_WRITABLE.includes(f))) return false;
    if (m.anonymousKb !== 0 || m.swapKb !== 0 || m.pageBytes === null) return false;
    const page = BigInt(m.pageBytes);
    const from = m.offset;
    const to = m.offset + (m.end - m.start);
    // The pages a segment is loaded into, in the file.
    const pages = (s: Segment) => {
      const end = s.offset + s.size;
      return [s.offset / page * page, (end + page - 1n) / page * page];
    };
    // (The last page of the text is also the first of .data in the file, mapped twice: the
    // text's mapping of it is the file's all the same.)
    return segments.some((s) => {
      const [a, b] = pages(s);
      return !s.writable && a <= from && to <= b;
    });
  });
}

const MADV_DONTNEED = 4;

const SYMBOLS = {
  madvise: { parameters: ["u64", "u64", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

/** What {@link releaseExecutablePages} did. */
export interface Released {
  mappings: number;
  /** Resident kB of the released mappings before. */
  kb: number;
  /** Why a mapping was not released ("madvise: Invalid argument"); null when none failed. */
  failed: string | null;
}

/** The loadable segments of the running executable. */
export function executableSegments(): Segment[] {
  const file = Deno.openSync("/proc/self/exe");
  try {
    const read = (at: number, length: number) => {
      const bytes = new Uint8Array(length);
      file.seekSync(at, Deno.SeekMode.Start);
      let n = 0;
      while (n < length) {
        const got = file.readSync(bytes.subarray(n));
        if (got === null) break;
        n += got;
      }
      return bytes.subarray(0, n);
    };
    const { at, size, count } = programHeaders(read(0, 64));
    return loadSegments(read(at, size * count), size, count);
  } finally {
    file.close();
  }
}

/**
 * What a process releases: "all", every mapping {@link releasable} allows;
 * "data", only those that are not executable (the read-only data: V8's
 * start-up snapshot, tables, strings), its code staying as it is.
 */
export type Releasing = "all" | "data";

/** Release this process's pages of its executable's read-only segments (see the module). */
export function releaseExecutablePages(what: Releasing = "all"): Released {
  // The kernel's own name for the file, as /proc/self/smaps writes it (a " (deleted)" included).
  const executable = Deno.readLinkSync("/proc/self/exe");
  const segments = executableSegments();
  const smaps = parseSmaps(Deno.readTextFileSync("/proc/self/smaps"));
  libc ??= bindLibcFunctions(SYMBOLS);
  const done: Released = { mappings: 0, kb: 0, failed: null };
  // Nothing maps, unmaps or writes the executable between the read of smaps and madvise: the
  // daemon runs one isolate, and its mappings of the binary last as long as the process.
  for (const m of releasable(smaps, executable, segments)) {
    if (what === "data" && m.perms[2] === "x") continue;
    if (libc.madvise(m.start, m.end - m.start, MADV_DONTNEED) !== 0) {
      done.failed = `madvise: ${strerror(libc, errno(libc))}`;
      continue;
    }
    done.mappings++;
    done.kb += m.rssKb;
  }
  return done;
}

/** After start-up: the first release. */
export const FIRST_RELEASE_MS = 15_000;
/** Then again at this interval. */
export const RELEASE_EVERY_MS = 600_000;

/**
 * V8's heaps where less than this lives are compacted by {@link compactSmallHeap}: the pause
 * grows with what lives (20 ms for 11 MB, 33 ms for 21 MB, 49 for 31, 76–120 for 36, measured on
 * these machines), and an idle daemon's is 5–10 MB.
 */
export const COMPACT_BELOW_MB = 16;
/** A compaction that took longer is the last: {@link keepExecutablePagesLean} stops compacting. */
export const COMPACT_PAUSE_LIMIT_MS = 50;

/** V8's `gc` (Deno's option `--v8-flags=--expose-gc`), with the options this module passes. */
export type Gc = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/** What {@link compactSmallHeap} did. */
export interface Compacted {
  ms: number;
  /** V8's heap (committed) before and after, MB. */
  beforeMb: number;
  afterMb: number;
}

/**
 * A full collection that also gives back V8's spare pages (the "last resort"
 * one V8 runs under memory pressure), when less than {@link COMPACT_BELOW_MB}
 * lives in the heap; otherwise why not.
 *
 * The daemon runs without V8's memory reducer (v8_flags.ts), so nothing
 * else shrinks its heap: an idle daemon's heap grows, slowly, from what
 * every heartbeat leaves behind, until V8's limit (about 10 MB past what
 * lives), and keeps the pages it grew into. Held idle at heartbeat_interval
 * 0.25, its anonymous memory went from 27 to 36 MB in seven minutes; at 10,
 * from 18 to 27 MB in 47 minutes (docs/BENCHMARKS.md). The collection stops
 * the event loop (20–35 ms for an idle daemon), hence the limit: a daemon
 * with many resources has more that lives, takes longer to collect, and
 * uses its pages.
 */
export function compactSmallHeap(
  usage: () => { heapUsed: number; heapTotal: number } = () => Deno.memoryUsage(),
  gc: Gc | undefined = (globalThis as { gc?: Gc }).gc,
): Compacted | string {
  const before = usage();
  if (gc === undefined) return "no gc (--v8-flags=--expose-gc)";
  if (before.heapUsed >= COMPACT_BELOW_MB * 1048576) {
    return `V8's heap left as it is: ${
      (before.heapUsed / 1048576).toFixed(1)
    } MB in use (${COMPACT_BELOW_MB} MB or more)`;
  }
  const t0 = performance.now();
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
  const ms = performance.now() - t0;
  return { ms, beforeMb: before.heapTotal / 1048576, afterMb: usage().heapTotal / 1048576 };
}

/** What {@link keepExecutablePagesLean} does each time. */
export interface Lean {
  /** The executable's pages to release. */
  pages: Releasing;
  /** Also {@link compactSmallHeap}. */
  compactHeap: boolean;
}

/** What {@link keepExecutablePagesLean} uses; tests give their own. */
export interface LeanDeps {
  release: (what: Releasing) => Released;
  compact: () => Compacted | string;
  /** Calls `fn` after `ms`, without keeping the process alive; returns what cancels it. */
  after: (ms: number, fn: () => void) => () => void;
}

const realDeps: LeanDeps = {
  release: releaseExecutablePages,
  compact: () => compactSmallHeap(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    Deno.unrefTimer(timer);
    return () => clearTimeout(timer);
  },
};

/**
 * {@link releaseExecutablePages} of `what.pages` {@link FIRST_RELEASE_MS}
 * from now, then every {@link RELEASE_EVERY_MS}, on Linux (elsewhere
 * nothing), each time followed by {@link compactSmallHeap} if
 * `what.compactHeap`. `log` gets a line for each; `warn` what went wrong,
 * once for each different problem (a release that failed is tried again at
 * the next interval). Returns what cancels it.
 */
export function keepExecutablePagesLean(
  what: Lean,
  log: (line: string) => void,
  warn: (message: string) => void,
  deps: LeanDeps = realDeps,
  os: string = Deno.build.os,
): () => void {
  if (os !== "linux") return () => {};
  const warned = new Set<string>();
  const problem = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    warn(`cannot release the executable's pages: ${message}`);
  };
  let cancel = () => {};
  const run = () => {
    cancel = deps.after(RELEASE_EVERY_MS, run);
    try {
      const released = deps.release(what.pages);
      if (released.failed !== null) problem(released.failed);
      const which = what.pages === "all" ? "resident pages" : "read-only data";
      log(
        `released ${(released.kb / 1024).toFixed(1)} MB of the executable's ${which} ` +
          `(${released.mappings} mapping(s))`,
      );
    } catch (e) {
      problem((e as Error).message);
    }
    if (compacting) compact();
  };
  let compacting = what.compactHeap;
  const compact = () => {
    let compacted: Compacted | string;
    try {
      compacted = deps.compact();
    } catch (e) {
      compacting = false;
      warn(`cannot compact V8's heap, and will not try again: ${(e as Error).message}`);
      return;
    }
    if (typeof compacted === "string") return log(compacted);
    log(
      `compacted V8's heap in ${compacted.ms.toFixed(0)} ms ` +
        `(${compacted.beforeMb.toFixed(1)} → ${compacted.afterMb.toFixed(1)} MB)`,
    );
    if (compacted.ms > COMPACT_PAUSE_LIMIT_MS) {
      compacting = false;
      warn(
        `compacting V8's heap held the daemon ${compacted.ms.toFixed(0)} ms, more than ` +
          `${COMPACT_PAUSE_LIMIT_MS}: not compacting again`,
      );
    }
  };
  cancel = deps.after(FIRST_RELEASE_MS, run);
  return () => cancel();
}
