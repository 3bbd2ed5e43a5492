/**
 * The daemon's and the guard's resident pages of their executable, given
 * back after start-up.
 *
 * Deno's binary is 95 MB. Starting a process reads much of it once and never
 * again: V8's start-up snapshot, which is copied into the heap, and the code
 * that initialises V8, Deno's runtime, TLS, the module loader and the
 * program's start (configuration, keys, sockets). Those pages stay mapped, so
 * they count in the process's RSS for its whole life: 29 MB of an idle
 * guard's 42 MB and 40 MB of its daemon's 58 MB were pages of the binary,
 * where an idle Deno process with one timer keeps about 8 MB of them in use
 * (docs/BENCHMARKS.md, "the idle node").
 *
 * {@link releaseExecutablePages} drops this process's mappings of those pages
 * (madvise MADV_DONTNEED). The pages stay in the page cache, shared with the
 * other hastmon processes and reclaimable; a page the process touches again
 * comes back on a minor fault, so the resident set settles at what the
 * process really uses. Nothing is lost: only mappings of the executable that
 * are private, not writable and hold no anonymous page are released, and a
 * page of such a mapping is always the file's own (the relocated, read-only
 * RELRO part has anonymous pages and stays, as do .data and .bss).
 * Anonymous memory (V8's heap, malloc's) is not touched.
 *
 * {@link keepExecutablePagesLean} does it after start-up, then every ten
 * minutes, so that what a failover or a reload touched once goes back too.
 */
import { bindLibcFunctions } from "./libc.ts";

/** A mapping of /proc/self/smaps, with what deciding whether to release it needs. */
export interface Mapping {
  start: bigint;
  end: bigint;
  /** As in the file: "r-xp". */
  perms: string;
  /** The mapped file's path; "" for an anonymous mapping. */
  path: string;
  /** Resident kB of the mapping. */
  rssKb: number;
  /** kB of anonymous pages in it (for a private file mapping, its pages written since). */
  anonymousKb: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/;

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
        path: header[4],
        rssKb: 0,
        anonymousKb: 0,
      };
      out.push(current);
    } else if (current !== null && line.startsWith("Rss:")) {
      current.rssKb = parseInt(line.slice(4));
    } else if (current !== null && line.startsWith("Anonymous:")) {
      current.anonymousKb = parseInt(line.slice(10));
    }
  }
  return out;
}

/**
 * The mappings of `executable` that can be released without losing a byte:
 * private (a shared mapping's pages may be another process's to keep),
 * neither writable nor holding an anonymous page, so that every page of it is
 * the file's. Dirty pages do not matter: a file just unpacked is dirty in the
 * page cache until written back, and stays there.
 */
export function releasable(mappings: readonly Mapping[], executable: string): Mapping[] {
  return mappings.filter((m) =>
    m.path === executable && m.perms[1] !== "w" && m.perms[3] === "p" && m.anonymousKb === 0
  );
}

const MADV_DONTNEED = 4;

const SYMBOLS = {
  madvise: { parameters: ["u64", "u64", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

/** What {@link releaseExecutablePages} did. */
export interface Released {
  mappings: number;
  /** Resident kB of the released mappings before. */
  kb: number;
}

/** Release this process's pages of its executable (see the module's comment). */
export function releaseExecutablePages(): Released {
  // The kernel's own name for the file, as /proc/self/smaps writes it (a " (deleted)" included).
  const executable = Deno.readLinkSync("/proc/self/exe");
  const mappings = releasable(parseSmaps(Deno.readTextFileSync("/proc/self/smaps")), executable);
  libc ??= bindLibcFunctions(SYMBOLS);
  const done: Released = { mappings: 0, kb: 0 };
  for (const m of mappings) {
    if (libc.madvise(m.start, m.end - m.start, MADV_DONTNEED) !== 0) continue;
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
 * {@link releaseExecutablePages} {@link FIRST_RELEASE_MS} from now, then
 * every {@link RELEASE_EVERY_MS}, on timers that do not keep the process
 * alive. `log` gets a line for each, which names `who` ("daemon", "guard");
 * `onError` what failed (e.g. no FFI): then it stops trying. Returns what
 * cancels it.
 */
export function keepExecutablePagesLean(
  who: string,
  log: (line: string) => void,
  onError: (message: string) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    let released: Released;
    try {
      released = releaseExecutablePages();
    } catch (e) {
      onError(`${who} cannot release its executable's pages: ${(e as Error).message}`);
      return;
    }
    log(
      `${who} released ${(released.kb / 1024).toFixed(1)} MB of its executable's resident pages ` +
        `(${released.mappings} mapping(s))`,
    );
    schedule(RELEASE_EVERY_MS);
  };
  const schedule = (ms: number) => {
    const t = setTimeout(run, ms);
    Deno.unrefTimer(t);
    timer = t;
  };
  schedule(FIRST_RELEASE_MS);
  return () => clearTimeout(timer);
}
