import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { parseState } from "../runtime/state_file.ts";
import { StateDirInUseError, StateStore } from "./state_store.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-state-", fn);

/** Texts in the state-file format (the runtime's codec makes and checks them). */
const record = (resource: string, epoch: number) =>
  `{"version":1,"resource":${JSON.stringify(resource)},"role":"primary","epoch":${epoch},` +
  `"maxEpoch":${epoch}}\n`;
const web = record("web", 7);
const odd = record("a/b c", 3);

/** An opened store on `dir`, as a daemon opens it at its start. */
async function opened(dir: string): Promise<StateStore> {
  const store = new StateStore(dir);
  await store.open();
  return store;
}

/** What a restarted daemon would find: the warnings, and the text of each of `names`. */
async function restart(dir: string, names: string[]) {
  const store = new StateStore(dir);
  const warnings = (await store.open()).map((w) => w.reason);
  const texts = Object.fromEntries(names.map((n) => [n, store.text(n)]));
  await store.close();
  return { warnings, texts };
}

/** Whether the runtime would trust `text` as `resource`'s state (it quarantines what it refuses). */
function trusted(text: string | null, resource: string): boolean {
  if (text === null) return true;
  try {
    parseState(text, resource);
    return true;
  } catch {
    return false;
  }
}

const journalOf = (dir: string) => Deno.readTextFile(`${dir}/state.journal`);
/** The journal's lines without their CRC and generation. */
const recordsIn = async (dir: string) =>
  (await journalOf(dir)).split("\n").slice(1, -1).map((l) => l.slice(26) + "\n");

Deno.test("state store: saved states come back after a restart", async () => {
  await withDir(async (root) => {
    const dir = `${root}/state`; // Made by open.
    const store = await opened(dir);
    await store.save("web", web);
    await store.save("a/b c", odd);
    assertEquals(store.text("web"), web);
    await store.close();
    await assertRejects(() => store.save("web", web), "closed");
    assertEquals(await restart(dir, ["web", "a/b c", "absent"]), {
      warnings: [],
      texts: { web, "a/b c": odd, absent: null },
    });
  });
});

Deno.test("state store: a start rewrites the journal by rename; saves append a line each, in call order", async () => {
  await withDir(async (dir) => {
    const first = await opened(dir);
    await first.save("web", web);
    await first.close();
    const before = await Deno.stat(`${dir}/state.journal`);

    const store = await opened(dir);
    const after = await Deno.stat(`${dir}/state.journal`);
    // Written beside the old journal before it replaces it, so its inode differs.
    assert(before.ino !== after.ino, "the journal was rewritten in place, not replaced");
    await store.save("web", record("web", 8));
    await store.save("db", record("db", 1));
    // Saves issued together land in call order: the last one is the state.
    await Promise.all([store.save("web", record("web", 10)), store.save("web", record("web", 9))]);
    assertEquals((await Deno.stat(`${dir}/state.journal`)).ino, after.ino, "an append replaced it");
    assertEquals(store.text("web"), record("web", 9));
    assertEquals(await recordsIn(dir), [
      web,
      record("web", 8),
      record("db", 1),
      record("web", 10),
      record("web", 9),
    ]);
    await store.close();
    assertEquals((await restart(dir, ["web"])).texts.web, record("web", 9));
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assertEquals(names, ["lock", "state.journal"]);
  });
});

Deno.test("state store: a save that is not its resource's record on one line is refused, nothing written", async () => {
  await withDir(async (dir) => {
    const store = new StateStore(dir);
    await assertRejects(() => store.save("web", web), "not open");
    await store.open();
    for (
      const [resource, text] of [["web", web + web], ["web", web.trim()], ["web", "\n"], [
        "db",
        web,
      ]]
    ) {
      await assertRejects(() => store.save(resource, text), "on one line");
    }
    assertEquals([store.text("web"), store.text("db")], [null, null]);
    await store.close();
  });
});

Deno.test("state store: a journal that cannot be written stops the start, and says which", async () => {
  await withDir(async (dir) => {
    // A directory at the temporary name the start's rewrite uses next: the create fails.
    const blocker = `${dir}/.state.journal.${Deno.pid}.1.tmp`;
    await Deno.mkdir(blocker);
    await Deno.writeTextFile(`${blocker}/x`, ""); // not empty: a start's clean-up cannot remove it
    const store = new StateStore(dir);
    await assertRejects(() => store.open(), `cannot write ${dir}/state.journal`);
    await Deno.remove(blocker, { recursive: true });
    await store.open(); // the lock was let go, and a new try works
    await store.close();
  });
});

Deno.test("state store: a second store on the same directory is refused until the first closes", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", web);
    const err = await assertRejects(() => new StateStore(dir).open(), "in use by another");
    assert(err instanceof StateDirInUseError);
    await store.save("web", record("web", 8)); // untouched by the refused one
    await store.close();
    assertEquals((await restart(dir, ["web"])).texts.web, record("web", 8));
  });
});

Deno.test("state store: a crashed writer's temporary files are removed", async () => {
  await withDir(async (dir) => {
    const stale = [`${dir}/.state.journal.${Deno.pid}.1.tmp`, `${dir}/.web.state.json.9.1.tmp`];
    for (const path of stale) await Deno.writeTextFile(path, '{"version":1,"resource":"web","ro');
    assertEquals((await restart(dir, ["web"])).warnings, []);
    for (const path of stale) {
      assertEquals(await Deno.stat(path).then(() => true, () => false), false, path);
    }
  });
});

Deno.test("state store: many resources saved at once all land, and the journal is compacted", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    // Saved together: they share fsyncs, and every one lands.
    const names = Array.from({ length: 200 }, (_, i) => `r${i}`);
    await Promise.all(names.map((n, i) => store.save(n, record(n, i))));
    // Rewritten again and again: the journal is compacted to about its live lines.
    for (let epoch = 1; epoch <= 50; epoch++) {
      await Promise.all(names.map((n) => store.save(n, record(n, epoch))));
    }
    const live = names.map((n) => record(n, 50)).join("").length;
    const size = (await Deno.stat(`${dir}/state.journal`)).size;
    assert(size <= 6 * live + 64 * 1024, `journal of ${size} bytes for ${live} live`);
    await store.close();
    assertEquals((await restart(dir, ["r123"])).texts.r123, record("r123", 50));
  });
});

Deno.test("state store: an append cut short at the end is dropped; states before it are trusted", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", web);
    await store.save("db", record("db", 2));
    await store.close();
    const whole = await journalOf(dir);
    const last = whole.slice(whole.lastIndexOf("\n", whole.length - 2) + 1);
    // A kill -9 during a group commit: the last batch half written, and never acknowledged.
    await Deno.writeTextFile(`${dir}/state.journal`, whole + last.slice(0, 30));
    let after = await restart(dir, ["web", "db"]);
    assertEquals(after.texts, { web, db: record("db", 2) });
    assertEquals(after.warnings, [
      "line 4: an append that never completed (nothing rests on it): dropped",
    ]);
    // Stale blocks exposed at the end by a crash (zeros, or lines of an older journal): the same.
    const older = whole.split("\n")[1]; // a line of another generation now
    await Deno.writeTextFile(
      `${dir}/state.journal`,
      (await journalOf(dir)) + "\0\0\0\n" + older + "\n",
    );
    after = await restart(dir, ["web", "db"]);
    assertEquals(after.texts, { web, db: record("db", 2) });
    assertEquals(after.warnings.length, 2);
  });
});

Deno.test("state store: a whole line of the journal damaged at its end quarantines: it may have been acknowledged", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", record("web", 1));
    await store.save("web", record("web", 2)); // acknowledged, then a byte of it rots on the disk
    await store.close();
    const whole = await journalOf(dir);
    await Deno.writeTextFile(`${dir}/state.journal`, whole.replace('"epoch":2,', '"epoch":3,'));
    const after = await restart(dir, ["web"]);
    assertEquals(after.warnings, [
      "line 3: damaged; every resource whose state was written before it starts quarantined",
    ]);
    assert(!trusted(after.texts.web, "web"), "the older state of web was trusted");
  });
});

Deno.test("state store: an empty journal, or none in a directory a daemon has used, quarantines", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", web);
    await store.close();
    await Deno.writeTextFile(`${dir}/state.journal`, "");
    let after = await restart(dir, ["web"]);
    assertEquals(after.warnings, ["line 1: empty; every resource starts quarantined"]);
    assert(!trusted(after.texts.web, "web"));
    await Deno.remove(`${dir}/state.journal`);
    after = await restart(dir, ["web"]);
    assertEquals(after.warnings, [
      "missing, though a daemon has used this directory; every resource starts quarantined",
    ]);
    assert(!trusted(after.texts.web, "web"));
  });
});

Deno.test("state store: damage before a good line quarantines every state written before it, across restarts, until saved again", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", web);
    await store.save("db", record("db", 2));
    await store.save("db", record("db", 3));
    await store.close();
    const lines = (await journalOf(dir)).split("\n");
    // web's line damaged by one flipped byte (its CRC no longer holds); db's later lines intact.
    lines[1] = lines[1].replace('"web"', '"wfb"');
    await Deno.writeTextFile(`${dir}/state.journal`, lines.join("\n"));
    const again = new StateStore(dir);
    const warnings = (await again.open()).map((w) => w.reason);
    assertEquals(warnings, [
      "line 2: damaged; every resource whose state was written before it starts quarantined",
    ]);
    assertEquals(again.text("db"), record("db", 3)); // written after the damage
    // The damaged line could have been anyone's: web's, and any resource not seen yet.
    for (const resource of ["web", "wfb", "never-seen"]) {
      assert(!trusted(again.text(resource), resource), `${resource} trusted after damage`);
      assertThrows(() => parseState(again.text(resource)!, resource));
    }
    await again.close();
    // The marks survive the rewrite of every start.
    const later = await restart(dir, ["web", "db", "never-seen"]);
    assertEquals(later.warnings, [
      "line 2: states lost at an earlier start; every resource whose state was written before it starts quarantined",
    ]);
    assertEquals(later.texts.db, record("db", 3));
    assert(!trusted(later.texts.web, "web") && !trusted(later.texts["never-seen"], "never-seen"));
    // A state saved since is trusted.
    const saved = await opened(dir);
    await saved.save("web", web);
    await saved.close();
    assertEquals((await restart(dir, ["web"])).texts.web, web);
  });
});

Deno.test("state store: a journal whose header is damaged trusts nothing; one that cannot be read stops the start", async () => {
  await withDir(async (dir) => {
    const store = await opened(dir);
    await store.save("web", web);
    await store.close();
    await Deno.writeTextFile(`${dir}/state.journal`, "x" + (await journalOf(dir)));
    const after = await restart(dir, ["web", "db"]);
    assertEquals(after.warnings, [
      "line 1: not the journal's header; every resource starts quarantined",
    ]);
    assert(!trusted(after.texts.web, "web") && !trusted(after.texts.db, "db"));
  });
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state.journal`); // not a file
    await assertRejects(() => new StateStore(dir).open(), "not a regular file");
    await Deno.remove(`${dir}/state.journal`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/state.journal`);
    await assertRejects(() => new StateStore(dir).open(), "not a regular file");
  });
});

Deno.test("state store: an older hastmon's files are moved into the journal and marked; going back to it quarantines", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/web.state.json`, web);
    await Deno.writeTextFile(`${dir}/a%2Fb%20c.state.json`, odd);
    await Deno.writeTextFile(`${dir}/db.state.json`, "{\n}\n"); // not one line
    await Deno.writeTextFile(`${dir}/x.state.json`, web); // another resource's state
    await Deno.writeTextFile(`${dir}/%E0%A4%A.state.json`, web); // not a percent-encoding
    await Deno.writeTextFile(`${dir}/y%E2%80%A8z.state.json`, "{}\n"); // U+2028 in its name
    const first = await restart(dir, ["web", "a/b c", "db", "x"]);
    assertEquals(first.warnings, [
      "file name is not a percent-encoded resource name",
      "not a state of db; it starts quarantined",
      "not a state of x; it starts quarantined",
      "not a state of y\u2028z; it starts quarantined",
    ]);
    assertEquals([first.texts.web, first.texts["a/b c"]], [web, odd]);
    assert(!trusted(first.texts.db, "db") && !trusted(first.texts.x, "x"));
    // What the older hastmon finds now: a file it refuses (it quarantines), not an empty directory.
    const old = await Deno.readTextFile(`${dir}/web.state.json`);
    assertThrows(() => parseState(old, "web"));
    assertEquals(await Deno.readTextFile(`${dir}/%E0%A4%A.state.json`), web, "not ours: untouched");
    // Back on the journal: the marks are not states, the journal's are (the record of a name
    // with U+2028 in it reads back as a record, not as damage).
    const back = await restart(dir, ["web", "y\u2028z"]);
    assertEquals(back.warnings, ["file name is not a percent-encoded resource name"]);
    assertEquals(back.texts.web, web);
    assert(!trusted(back.texts["y\u2028z"], "y\u2028z"));
    // The older hastmon ran meanwhile and wrote web again: its file is newer than the journal.
    await Deno.writeTextFile(`${dir}/web.state.json`, record("web", 9));
    assertEquals((await restart(dir, ["web"])).texts.web, record("web", 9));
    assertEquals((await restart(dir, ["web"])).texts.web, record("web", 9));
  });
});
