import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { parseState } from "../runtime/state_file.ts";
import { StateStore } from "./state_store.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-state-", fn);

/** Texts in the state-file format (the runtime's codec makes and checks them). */
const record = (resource: string, epoch: number) =>
  `{"version":1,"resource":${JSON.stringify(resource)},"role":"primary","epoch":${epoch},` +
  `"maxEpoch":${epoch}}\n`;
const web = record("web", 7);
const odd = record("a/b c", 3);

/** A store opened on `dir` as a restarted daemon opens it: its warnings and a lookup. */
async function reopen(dir: string) {
  const store = new StateStore(dir);
  const warnings = await store.open();
  return { store, warnings };
}

/** Whether the runtime would trust `text` as `resource`'s state (it quarantines what it refuses). */
const trusted = (text: string | null, resource: string) =>
  text === null || (() => {
    try {
      parseState(text, resource);
      return true;
    } catch {
      return false;
    }
  })();

Deno.test("state store: saved states come back after a restart", async () => {
  await withDir(async (root) => {
    const dir = `${root}/state`; // Created by the first save.
    const store = new StateStore(dir);
    assertEquals(await store.open(), []);
    await store.save("web", web);
    await store.save("a/b c", odd);
    assertEquals(store.text("web"), web);
    await store.close();
    await assertRejects(() => store.save("web", web), "closed");

    const { store: restarted, warnings } = await reopen(dir);
    assertEquals(warnings, []);
    assertEquals(restarted.text("web"), web);
    assertEquals(restarted.text("a/b c"), odd);
    assertEquals(restarted.text("absent"), null);
    assertEquals(await Deno.readTextFile(`${dir}/state.journal`), web + odd);
  });
});

Deno.test("state store: a missing directory restores nothing", async () => {
  await withDir(async (root) => {
    const { store, warnings } = await reopen(`${root}/none`);
    assertEquals(warnings, []);
    assertEquals(store.text("web"), null);
  });
});

Deno.test("state store: the first save after a start replaces the journal by rename; later saves append a line", async () => {
  await withDir(async (dir) => {
    const first = new StateStore(dir);
    await first.open();
    await first.save("web", web);
    await first.close();
    const before = await Deno.stat(`${dir}/state.journal`);

    const { store } = await reopen(dir);
    await store.save("web", record("web", 8));
    const after = await Deno.stat(`${dir}/state.journal`);
    // Written beside the old journal before it replaces it, so its inode differs.
    assert(before.ino !== after.ino, "the journal was rewritten in place, not replaced");
    await store.save("db", record("db", 1));
    assertEquals((await Deno.stat(`${dir}/state.journal`)).ino, after.ino, "an append replaced it");
    // Saves issued together land in call order: the last one is the state.
    await Promise.all([store.save("web", record("web", 10)), store.save("web", record("web", 9))]);
    assertEquals(store.text("web"), record("web", 9));
    assertEquals(
      await Deno.readTextFile(`${dir}/state.journal`),
      [record("web", 8), record("db", 1), record("web", 10), record("web", 9)].join(""),
    );
    await store.close();
    assertEquals((await reopen(dir)).store.text("web"), record("web", 9));
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assertEquals(names, ["state.journal"]);
  });
});

Deno.test("state store: a line that is not one line is refused and nothing is written", async () => {
  await withDir(async (dir) => {
    const { store } = await reopen(dir);
    await assertRejects(() => store.save("web", '{"a":1}\n{"b":2}\n'), "one line");
    await assertRejects(() => store.save("web", '{"a":1}'), "one line");
    await assertRejects(() => store.save("", web), "empty resource name");
    assertEquals(store.text("web"), null);
    await store.close();
  });
});

Deno.test("state store: a crashed writer's temporary file is ignored and removed", async () => {
  await withDir(async (dir) => {
    const store = new StateStore(dir);
    await store.open();
    await store.save("web", web);
    await store.close();
    const stale = `${dir}/.state.journal.999999999.1.tmp`;
    const staleOld = `${dir}/.web.state.json.999999999.1.tmp`; // an older hastmon's
    await Deno.writeTextFile(stale, '{"version":1,"resource":"web","ro');
    await Deno.writeTextFile(staleOld, '{"version":1,"resource":"web","ro');
    const { store: restarted, warnings } = await reopen(dir);
    assertEquals(warnings, []);
    assertEquals(restarted.text("web"), web);
    for (const path of [stale, staleOld]) {
      assertEquals(await Deno.stat(path).then(() => true, () => false), false, path);
    }
  });
});

Deno.test("state store: many resources saved at once all land, the journal is compacted, a removed directory is made again", async () => {
  await withDir(async (root) => {
    const dir = `${root}/state`;
    const { store } = await reopen(dir);
    // Saved together: they share fsyncs, and every one lands.
    const names = Array.from({ length: 200 }, (_, i) => `r${i}`);
    await Promise.all(names.map((n, i) => store.save(n, record(n, i))));
    // Rewritten again and again: the journal is compacted to about its live lines.
    for (let epoch = 1; epoch <= 50; epoch++) {
      await Promise.all(names.map((n) => store.save(n, record(n, epoch))));
    }
    const live = names.map((n) => record(n, 50)).join("").length;
    const size = (await Deno.stat(`${dir}/state.journal`)).size;
    assert(size <= 4 * live + 64 * 1024 + live, `journal of ${size} bytes for ${live} live`);
    await store.close();
    const { store: restarted } = await reopen(dir);
    assertEquals(restarted.text("r123"), record("r123", 50));
    // A directory removed is made again by the next save (the first after a start rewrites).
    await Deno.remove(dir, { recursive: true });
    await restarted.save("web", web);
    await restarted.close();
    assertEquals((await reopen(dir)).store.text("web"), web);
  });
});

Deno.test("state store: a damaged or torn line quarantines every state written before it, across restarts, until saved again", async () => {
  await withDir(async (dir) => {
    const journal = `${dir}/state.journal`;
    await Deno.mkdir(dir, { recursive: true });
    // web before the damage, db after it; a torn last line (no newline) at the end.
    await Deno.writeTextFile(
      journal,
      web + "\0\0\0\0garbage\n" + record("db", 2) + '{"version":2,"resource":"db","ro',
    );
    const { store, warnings } = await reopen(dir);
    assertEquals(warnings.map((w) => w.reason.split(";")[0]), [
      "line 2: not a state record",
      "line 4: incomplete",
    ]);
    assert(warnings[0].reason.includes("starts quarantined"), warnings[0].reason);
    // The torn line could have held db's newer state, the garbage web's, and either any other's.
    for (const resource of ["web", "db", "never-seen"]) {
      assert(!trusted(store.text(resource), resource), `${resource} trusted after damage`);
      assertThrows(() => parseState(store.text(resource)!, resource));
    }
    // A save after the damage is trusted; the marks survive the rewrite it makes, and a restart.
    await store.save("db", record("db", 3));
    await store.close();
    const { store: again, warnings: later } = await reopen(dir);
    assertEquals(later.length, 1, "the rewrite keeps one mark");
    assertEquals(again.text("db"), record("db", 3));
    assert(!trusted(again.text("web"), "web"), "web trusted after a rewrite");
    assert(!trusted(again.text("never-seen"), "never-seen"), "an unseen resource trusted");
    await again.save("web", web);
    await again.close();
    assertEquals((await reopen(dir)).store.text("web"), web);
  });
});

Deno.test("state store: a journal that cannot be read stops the start", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state.journal`); // reading it fails: not a file
    await assertRejects(() => new StateStore(dir).open(), "cannot read");
  });
});

Deno.test("state store: an older hastmon's file per resource is read, then removed once the journal holds it", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/web.state.json`, web);
    await Deno.writeTextFile(`${dir}/a%2Fb%20c.state.json`, odd);
    await Deno.writeTextFile(`${dir}/%E0%A4%A.state.json`, web); // not a percent-encoding
    const { store, warnings } = await reopen(dir);
    assertEquals(warnings.map((w) => w.reason), [
      "file name is not a percent-encoded resource name",
    ]);
    assertEquals(store.text("web"), web);
    assertEquals(store.text("a/b c"), odd);
    await store.save("db", record("db", 1));
    await store.close();
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assertEquals(names, ["%E0%A4%A.state.json", "state.journal"]);
    const { store: restarted } = await reopen(dir);
    assertEquals([restarted.text("web"), restarted.text("a/b c")], [web, odd]);
    assertEquals(restarted.text("db"), record("db", 1));
  });
});
