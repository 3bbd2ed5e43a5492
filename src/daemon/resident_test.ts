import { assert, assertEquals } from "../../tests/assert.ts";
import { parseSmaps, releasable } from "./resident.ts";
import { inOwnProcess } from "./test_helpers.ts";

const EXE = "/var/cache/hastmon/ab12/deno";

/** A mapping of smaps: its header line and the fields this module reads, among others. */
const mapping = (range: string, perms: string, path: string, rss: number, anonymous: number) =>
  `${range} ${perms} 00000000 fe:00 5309068                    ${path}
Size:              25628 kB
KernelPageSize:        4 kB
Rss:               ${rss} kB
Pss:               ${rss} kB
Private_Dirty:       160 kB
Anonymous:         ${anonymous} kB
VmFlags: rd mr mw me
`;

// The layout of a Deno process's smaps: the executable's read-only data, its text, its data and
// .bss, the RELRO part (read-only, but relocated: anonymous pages), a second text mapping,
// a shared mapping of the executable, libc, and anonymous memory.
const SMAPS = [
  mapping("55cf91040000-55cf92bce000", "r--p", EXE, 12536, 0),
  mapping("55cf92e44000-55cf96b38000", "r-xp", EXE, 14864, 0),
  mapping("55cf96b38000-55cf96daa000", "rw-p", EXE, 2504, 2504),
  mapping("55cf96dba000-55cf96dbb000", "r--p", EXE, 4, 4),
  mapping("7fdcebdc0000-7fdcebfe6000", "r-xp", EXE, 1604, 0),
  mapping("7fdcec000000-7fdcec100000", "r--s", EXE, 984, 0),
  mapping("7fdcf0000000-7fdcf0200000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", 1228, 0),
  mapping("7fdcf1000000-7fdcf1800000", "rw-p", "", 6336, 6336),
  mapping("7fdcf2000000-7fdcf2001000", "r--p", `${EXE} (deleted)`, 4, 0),
].join("");

Deno.test("parseSmaps: each mapping's range, permissions, path, resident and anonymous kB", () => {
  const maps = parseSmaps(SMAPS);
  assertEquals(maps.length, 9);
  assertEquals(maps[0], {
    start: 0x55cf91040000n,
    end: 0x55cf92bce000n,
    perms: "r--p",
    path: EXE,
    rssKb: 12536,
    anonymousKb: 0,
  });
  assertEquals(maps[7].path, "");
  assertEquals(maps[8].path, `${EXE} (deleted)`);
});

Deno.test("releasable: only the executable's private mappings that are read-only and all the file's", () => {
  const chosen = releasable(parseSmaps(SMAPS), EXE).map((m) => `${m.perms} ${m.rssKb}`);
  // Not .data (writable), not RELRO (anonymous pages: dropping them would undo its relocations),
  // not the shared mapping, not libc, not another file.
  assertEquals(chosen, ["r--p 12536", "r-xp 14864", "r-xp 1604"]);
  assertEquals(releasable(parseSmaps(SMAPS), `${EXE} (deleted)`).length, 1);
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
    released: { mappings: number; kb: number };
    digest: number;
    code: number;
    again: { mappings: number };
  };
  assert(result.released.mappings >= 2, JSON.stringify(result));
  // A bare Deno process keeps some 25 MB of its executable resident after start; it uses a
  // fraction of it from then on.
  assert(result.before - result.after > 8 * 1024, JSON.stringify(result));
  assertEquals([result.digest, result.code], [0x2d, 0]);
  assertEquals(result.again.mappings, result.released.mappings);
});
