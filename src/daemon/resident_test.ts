import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  COMPACT_BELOW_MB,
  COMPACT_PAUSE_LIMIT_MS,
  type Compacted,
  compactSmallHeap,
  executableSegments,
  FIRST_RELEASE_MS,
  type Gc,
  keepExecutablePagesLean,
  type Lean,
  parseSmaps,
  programHeaders,
  releasable,
  RELEASE_EVERY_MS,
  type Released,
  type Segment,
} from "./resident.ts";
import { inOwnProcess } from "./test_helpers.ts";

const EXE = "/var/cache/hastmon/ab12/deno";

/** A mapping of smaps: its header line and the fields this module reads, among others. */
const mapping = (
  range: string,
  perms: string,
  offset: string,
  path: string,
  kb: { rss: number; anonymous?: number; swap?: number; flag?: string; page?: number },
) =>
  `${range} ${perms} ${offset} fe:00 5309068                    ${path}
Size:              25628 kB
KernelPageSize:        ${kb.page ?? 4} kB
MMUPageSize:           ${kb.page ?? 4} kB
Rss:               ${kb.rss} kB
Pss:               ${kb.rss} kB
Private_Dirty:       160 kB
Anonymous:         ${kb.anonymous ?? 0} kB
Swap:              ${kb.swap ?? 0} kB
VmFlags: rd${perms[1] === "w" ? " wr ac" : ""} mr mw me${kb.flag ? ` ${kb.flag}` : ""}
`;

// Deno 2.9.6's program headers (readelf -l): read-only data, text, and two writable segments.
const SEGMENTS: Segment[] = [
  { offset: 0x0n, size: 0x1b8dec6n, writable: false },
  { offset: 0x1b8e000n, size: 0x3cf3b70n, writable: false },
  { offset: 0x5881b70n, size: 0x270cf8n, writable: true },
  { offset: 0x5af2868n, size: 0x38d58n, writable: true },
];

// The layout of a Deno process's smaps: the executable's read-only data and its text; its data;
// the page of .data that V8 made read-only after writing its flags there, in memory, and then
// swapped out; V8's second mapping of a part of the text; pages of text with a debugger's
// breakpoint (a copy of their own), in memory and in swap; a shared mapping of the executable;
// libc; anonymous memory; a deleted executable. Then what each check alone keeps out: a mapping
// once writable (ac) in the pages of the text, one never charged (nr, MAP_NORESERVE), one of
// .data that says nothing else, and one whose smaps lack a line (Swap).
const SMAPS = [
  mapping("55cf91040000-55cf92bce000", "r--p", "00000000", EXE, { rss: 12536 }),
  mapping("55cf92e44000-55cf96b38000", "r-xp", "01b8e000", EXE, { rss: 14864 }),
  mapping("55cf96b38000-55cf96daa000", "rw-p", "05881000", EXE, { rss: 2504, anonymous: 2504 }),
  mapping("55cf96dba000-55cf96dbb000", "r--p", "05b02000", EXE, {
    rss: 4,
    anonymous: 4,
    flag: "ac",
  }),
  mapping("55cf96dba000-55cf96dbb000", "r--p", "05b02000", EXE, {
    rss: 0,
    swap: 4,
    flag: "ac",
  }),
  mapping("7fdcebdc0000-7fdcebfe6000", "r-xp", "035cf000", EXE, { rss: 1604 }),
  mapping("7fdcebfe6000-7fdcebfe7000", "r-xp", "035f5000", EXE, { rss: 4, anonymous: 4 }),
  mapping("7fdcebfe7000-7fdcebfe8000", "r-xp", "035f6000", EXE, { rss: 0, swap: 4 }),
  mapping("7fdcec000000-7fdcec100000", "r--s", "00000000", EXE, { rss: 984 }),
  mapping("7fdcf0000000-7fdcf0200000", "r-xp", "00028000", "/usr/lib/libc.so.6", { rss: 1228 }),
  mapping("7fdcf1000000-7fdcf1800000", "rw-p", "00000000", "", { rss: 6336, anonymous: 6336 }),
  mapping("7fdcf2000000-7fdcf2001000", "r--p", "00000000", `${EXE} (deleted)`, { rss: 4 }),
  mapping("7fdcf3000000-7fdcf3001000", "r--p", "05881000", EXE, { rss: 4, flag: "ac" }),
  mapping("7fdcf3800000-7fdcf3801000", "r--p", "02000000", EXE, { rss: 4, flag: "nr" }),
  mapping("7fdcf4000000-7fdcf4001000", "r--p", "05b03000", EXE, { rss: 4 }),
  mapping("7fdcf5000000-7fdcf5001000", "r-xp", "02001000", EXE, { rss: 4 }).replace(
    /^Swap:.*\n/m,
    "",
  ),
].join("");

Deno.test("parseSmaps: each mapping's range, permissions, offset, path and sizes", () => {
  const maps = parseSmaps(SMAPS);
  assertEquals(maps.length, 16);
  assertEquals(maps[1], {
    start: 0x55cf92e44000n,
    end: 0x55cf96b38000n,
    perms: "r-xp",
    offset: 0x1b8e000n,
    path: EXE,
    rssKb: 14864,
    anonymousKb: 0,
    swapKb: 0,
    pageBytes: 4096,
    flags: ["rd", "mr", "mw", "me"],
  });
  assertEquals([maps[2].flags, maps[4].flags, maps[4].swapKb], [
    ["rd", "wr", "ac", "mr", "mw", "me"],
    ["rd", "mr", "mw", "me", "ac"],
    4,
  ]);
  assertEquals(maps[15].swapKb, null);
  assertEquals(maps[10].path, "");
  assertEquals(maps[11].path, `${EXE} (deleted)`);
});

Deno.test("releasable: only mappings of the executable's read-only segments with no page of their own", () => {
  const chosen = releasable(parseSmaps(SMAPS), EXE, SEGMENTS).map((m) => `${m.perms} ${m.rssKb}`);
  // Not .data, nor its page made read-only (in memory or swapped out: dropping it would bring
  // back the file's bytes), nor pages with a copy of their own, nor the shared mapping, nor libc,
  // nor another file, nor what a single check keeps out.
  assertEquals(chosen, ["r--p 12536", "r-xp 14864", "r-xp 1604"]);
  assertEquals(releasable(parseSmaps(SMAPS), `${EXE} (deleted)`, SEGMENTS).length, 1);
});

Deno.test("releasable: a segment's pages are the kernel's pages (64 kB on some arm64 kernels)", () => {
  // The read-only data ends at 0x1b8dec6: its last 64 kB page reaches 0x1b90000, beyond the
  // text's first 4 kB page.
  const big = mapping("7f0000000000-7f0000010000", "r--p", "01b80000", EXE, { rss: 64, page: 64 });
  assertEquals(releasable(parseSmaps(big), EXE, SEGMENTS).length, 1);
  const small = mapping("7f0000000000-7f0000010000", "r--p", "01b80000", EXE, { rss: 64 });
  assertEquals(releasable(parseSmaps(small), EXE, SEGMENTS).length, 0);
});

Deno.test("executableSegments: the PT_LOAD headers of the running Deno; programHeaders refuses what is not ELF", () => {
  const segments = executableSegments();
  assert(segments.some((s) => !s.writable) && segments.some((s) => s.writable), "segments");
  // Deno's text is the largest segment, and read-only.
  const largest = segments.reduce((a, b) => (b.size > a.size ? b : a));
  assertEquals(largest.writable, false);
  const script = new TextEncoder().encode("#!/bin/sh\n".padEnd(64));
  assertThrows(() => programHeaders(script), Error, "not a 64-bit little-endian ELF file");
});

Deno.test("releaseExecutablePages: a process gives back most of its executable's pages and runs on", async () => {
  const resident = JSON.stringify(import.meta.resolve("./resident.ts"));
  const result = await inOwnProcess(`
    import { releaseExecutablePages } from ${resident};
    const fileKb = () =>
      Number(/RssFile:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]);
    // Start-up is over once the module has run; use what a daemon uses, then release.
    await crypto.subtle.digest("SHA-256", new Uint8Array(64));
    const before = fileKb();
    const released = releaseExecutablePages();
    const after = fileKb();
    // Everything still works: the code of what it did before comes back from the page cache.
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x")));
    const child = await new Deno.Command("true").output();
    const again = releaseExecutablePages();
    console.log(JSON.stringify({ before, after, released, digest: digest[0], code: child.code, again }));
  `) as {
    before: number;
    after: number;
    released: Released;
    digest: number;
    code: number;
    again: Released;
  };
  assert(result.released.mappings >= 2 && result.released.failed === null, JSON.stringify(result));
  // A bare Deno process keeps some 25 MB of its executable resident after start; it uses a
  // fraction of it from then on.
  assert(result.before - result.after > 8 * 1024, JSON.stringify(result));
  assertEquals([result.digest, result.code], [0x2d, 0]);
  assertEquals(result.again.mappings, result.released.mappings);
});

Deno.test("releaseExecutablePages: a page of the executable that the process wrote keeps what it wrote", async () => {
  // Mapped from the text's file offset, private and writable (plainly and with MAP_NORESERVE,
  // which the kernel never charges), written, then made read-only: a copy of the process's own
  // that madvise(MADV_DONTNEED) would replace with the file's bytes.
  const resident = JSON.stringify(import.meta.resolve("./resident.ts"));
  const result = await inOwnProcess(`
    import { executableSegments, releaseExecutablePages } from ${resident};
    const libc = Deno.dlopen("libc.so.6", {
      mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
      mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
      open: { parameters: ["buffer", "i32"], result: "i32" },
    }).symbols;
    const text = executableSegments().find((s) => !s.writable && s.size > 1n << 20n)!;
    const offset = (text.offset + 4095n) / 4096n * 4096n + 4096n;
    const fd = libc.open(new TextEncoder().encode("/proc/self/exe\\0"), 0);
    const kept = {};
    for (const [name, flags] of [["private", 0x2], ["noreserve", 0x2 | 0x4000]]) {
      const p = libc.mmap(null, 4096n, 0x1 | 0x2, flags, fd, offset);
      const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, 4096));
      const wrote = bytes[0] ^ 0xff;
      bytes[0] = wrote;
      libc.mprotect(p, 4096n, 0x1);
      const released = releaseExecutablePages();
      kept[name] = [bytes[0] === wrote, released.mappings > 0];
    }
    console.log(JSON.stringify(kept));
  `);
  assertEquals(result, { private: [true, true], noreserve: [true, true] });
});

Deno.test("keepExecutablePagesLean: nothing but on Linux", () => {
  let scheduled = 0;
  const stop = keepExecutablePagesLean({ pages: "all", compactHeap: true }, () => {}, () => {}, {
    release: () => ({ mappings: 0, kb: 0, failed: null }),
    compact: () => "not asked",
    after: () => (scheduled++, () => {}),
  }, "darwin");
  stop();
  assertEquals(scheduled, 0);
});

/** keepExecutablePagesLean on timers of the test's own: `fire` runs the next one due. */
function leanWith(
  release: (what: string) => Released,
  what: Lean = { pages: "all", compactHeap: false },
  compact: () => Compacted | string = () => "not asked",
) {
  const pending: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  const logged: string[] = [];
  const warned: string[] = [];
  const stop = keepExecutablePagesLean(what, (l) => logged.push(l), (w) => warned.push(w), {
    release,
    compact,
    after: (ms, fn) => {
      const t = { ms, fn, cancelled: false };
      pending.push(t);
      return () => t.cancelled = true;
    },
  });
  const fire = () => {
    const t = pending.shift()!;
    if (!t.cancelled) t.fn();
    return t.ms;
  };
  return { pending, logged, warned, stop, fire };
}

Deno.test("keepExecutablePagesLean: after start-up, then every ten minutes, until stopped", () => {
  let releases = 0;
  const lean = leanWith(() => (releases++, { mappings: 3, kb: 20480, failed: null }));
  assertEquals(lean.pending.map((t) => t.ms), [FIRST_RELEASE_MS]);
  assertEquals(lean.fire(), FIRST_RELEASE_MS);
  assertEquals(lean.fire(), RELEASE_EVERY_MS);
  assertEquals(releases, 2);
  assertEquals(lean.logged, [
    "released 20.0 MB of the executable's resident pages (3 mapping(s))",
    "released 20.0 MB of the executable's resident pages (3 mapping(s))",
  ]);
  lean.stop();
  lean.fire();
  assertEquals(releases, 2);
  assertEquals(lean.warned, []);
});

Deno.test("keepExecutablePagesLean: the guard's read-only data only", () => {
  const asked: string[] = [];
  const lean = leanWith(
    (what) => (asked.push(what), { mappings: 1, kb: 10240, failed: null }),
    { pages: "data", compactHeap: false },
    () => {
      throw new Error("the guard's heap is left alone");
    },
  );
  lean.fire();
  assertEquals(asked, ["data"]);
  assertEquals(lean.logged, ["released 10.0 MB of the executable's read-only data (1 mapping(s))"]);
  lean.stop();
});

Deno.test('releaseExecutablePages: "data" leaves the code mapped as it was', async () => {
  const resident = JSON.stringify(import.meta.resolve("./resident.ts"));
  const result = await inOwnProcess(`
    import { parseSmaps, releaseExecutablePages } from ${resident};
    const exe = Deno.readLinkSync("/proc/self/exe");
    const kb = (x) => parseSmaps(Deno.readTextFileSync("/proc/self/smaps"))
      .filter((m) => m.path === exe && (m.perms[2] === "x") === x)
      .reduce((sum, m) => sum + m.rssKb, 0);
    const before = { code: kb(true), data: kb(false) };
    const released = releaseExecutablePages("data");
    const after = { code: kb(true), data: kb(false) };
    console.log(JSON.stringify({ before, after, released }));
  `) as { before: { code: number; data: number }; after: { code: number; data: number } };
  // The code as it was (what this snippet ran since may add a page or two), the data mostly gone.
  assert(result.after.code >= result.before.code, JSON.stringify(result));
  assert(result.before.data - result.after.data > 4 * 1024, JSON.stringify(result));
});

Deno.test("keepExecutablePagesLean: a failure is warned about once and tried again at the next interval", () => {
  let calls = 0;
  const lean = leanWith(() => {
    calls++;
    if (calls <= 2) throw new Error("no /proc");
    return { mappings: 2, kb: 1024, failed: calls === 3 ? "madvise: Invalid argument" : null };
  });
  for (let i = 0; i < 4; i++) lean.fire();
  assertEquals(calls, 4);
  assertEquals(lean.warned, [
    "cannot release the executable's pages: no /proc",
    "cannot release the executable's pages: madvise: Invalid argument",
  ]);
  assertEquals(lean.logged.length, 2);
  assertEquals(lean.pending.map((t) => t.ms), [RELEASE_EVERY_MS]);
  lean.stop();
});

Deno.test("keepExecutablePagesLean: the daemon's heap compacted after each release", () => {
  let compactions = 0;
  const lean = leanWith(
    () => ({ mappings: 3, kb: 20480, failed: null }),
    { pages: "all", compactHeap: true },
    () => (compactions++, { ms: 28.4, beforeMb: 31.2, afterMb: 18 }),
  );
  lean.fire();
  lean.fire();
  assertEquals(compactions, 2);
  assertEquals(lean.logged.slice(0, 2), [
    "released 20.0 MB of the executable's resident pages (3 mapping(s))",
    "compacted V8's heap in 28 ms (31.2 → 18.0 MB)",
  ]);
  lean.stop();
});

Deno.test("compactSmallHeap: a last-resort collection only while little lives, and none without gc", () => {
  const calls: unknown[] = [];
  const gc: Gc = (options) => calls.push(options);
  const mb = 1048576;
  let total = 30 * mb;
  const done = compactSmallHeap(() => {
    const now = { heapUsed: 8 * mb, heapTotal: total };
    total = 20 * mb;
    return now;
  }, gc) as Compacted;
  assertEquals(calls, [{ type: "major", execution: "sync", flavor: "last-resort" }]);
  assertEquals([done.beforeMb, done.afterMb], [30, 20]);
  assertEquals(
    compactSmallHeap(() => ({ heapUsed: COMPACT_BELOW_MB * mb, heapTotal: 30 * mb }), gc),
    `V8's heap left as it is: ${COMPACT_BELOW_MB}.0 MB in use (${COMPACT_BELOW_MB} MB or more)`,
  );
  assertEquals(calls.length, 1);
  const small = () => ({ heapUsed: mb, heapTotal: 2 * mb });
  assertEquals(compactSmallHeap(small, undefined), "no gc (--v8-flags=--expose-gc)");
});

Deno.test("keepExecutablePagesLean: a compaction that held the daemon too long, or failed, is the last", () => {
  for (
    const [compact, warning] of [
      [
        () => ({ ms: COMPACT_PAUSE_LIMIT_MS + 1, beforeMb: 40, afterMb: 20 }),
        `compacting V8's heap held the daemon ${COMPACT_PAUSE_LIMIT_MS + 1} ms, more than ` +
        `${COMPACT_PAUSE_LIMIT_MS}: not compacting again`,
      ],
      [() => {
        throw new Error("gc is not a function");
      }, "cannot compact V8's heap, and will not try again: gc is not a function"],
    ] as const
  ) {
    let compactions = 0;
    const lean = leanWith(
      () => ({ mappings: 3, kb: 20480, failed: null }),
      { pages: "all", compactHeap: true },
      () => (compactions++, compact()),
    );
    lean.fire();
    lean.fire();
    lean.fire();
    assertEquals(compactions, 1);
    assertEquals(lean.warned, [warning]);
    // The releases go on.
    assertEquals(
      lean.logged.filter((l) => l.startsWith("released")).length,
      3,
    );
    lean.stop();
  }
});

Deno.test("compactSmallHeap: with --expose-gc, V8 gives back the pages of what died", async () => {
  const resident = JSON.stringify(import.meta.resolve("./resident.ts"));
  const result = await inOwnProcess(
    `
    import { compactSmallHeap } from ${resident};
    // Garbage that lived long enough to be promoted: what an idle daemon's heartbeats leave.
    let keep = [];
    for (let round = 0; round < 20; round++) {
      keep = Array.from({ length: 5000 }, (_, i) => ({ i, s: "x".repeat(32) + i }));
      await new Promise((r) => setTimeout(r, 5));
    }
    keep = [];
    console.log(JSON.stringify(compactSmallHeap()));
  `,
    { env: { DENO_V8_FLAGS: "--no-memory-reducer,--expose-gc" } },
  ) as Compacted | string;
  assert(typeof result !== "string", result as string);
  assert(result.afterMb < result.beforeMb - 2, JSON.stringify(result));
});
