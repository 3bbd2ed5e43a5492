import { assert, assertEquals } from "../../tests/assert.ts";
import { StateStore } from "./state_store.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-state-", fn);

/** Texts in the state-file format (the runtime's codec makes and checks them). */
const web = '{"version":1,"resource":"web","role":"primary","epoch":7}\n';
const odd = '{"version":1,"resource":"a/b c","role":"secondary","epoch":3}\n';
const text = (epoch: number) => web.replace('"epoch":7', `"epoch":${epoch}`);

Deno.test("state store: saved states come back after a restart", async () => {
  await withDir(async (root) => {
    const dir = `${root}/state`; // Created by the first save.
    const store = new StateStore(dir);
    await store.save("web", web);
    await store.save("a/b c", odd);
    assertEquals(store.pathOf("a/b c"), `${dir}/a%2Fb%20c.state.json`);

    const restarted = new StateStore(dir);
    const { texts, warnings } = await restarted.loadAll();
    assertEquals(warnings, []);
    assertEquals([...texts].sort(), [["a/b c", odd], ["web", web]]);
    assertEquals(await restarted.load("web"), { text: web, warning: null });
    assertEquals(await restarted.load("absent"), { text: null, warning: null });
  });
});

Deno.test("state store: a missing directory restores nothing", async () => {
  await withDir(async (root) => {
    assertEquals(await new StateStore(`${root}/none`).loadAll(), {
      texts: new Map(),
      warnings: [],
    });
  });
});

Deno.test("state store: a save replaces the file by rename and leaves no temporary file", async () => {
  await withDir(async (dir) => {
    const store = new StateStore(dir);
    await store.save("web", web);
    const before = await Deno.stat(store.pathOf("web"));
    // The new file exists beside the old one before it replaces it, so its inode differs.
    await store.save("web", text(8));
    const after = await Deno.stat(store.pathOf("web"));
    assert(before.ino !== after.ino, "the file was rewritten in place, not replaced");
    // Saves issued together land in call order.
    await Promise.all([store.save("web", text(10)), store.save("web", text(9))]);
    assertEquals((await store.load("web")).text, text(9));
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assertEquals(names, ["web.state.json"]);
  });
});

Deno.test("state store: a crashed writer's temporary file is ignored and removed", async () => {
  await withDir(async (dir) => {
    const store = new StateStore(dir);
    await store.save("web", web);
    const stale = `${dir}/.web.state.json.999999999.1.tmp`;
    await Deno.writeTextFile(stale, '{"version":1,"resource":"web","ro');
    const { texts, warnings } = await new StateStore(dir).loadAll();
    assertEquals(warnings, []);
    assertEquals(texts.get("web"), web);
    assertEquals(await Deno.stat(stale).then(() => true, () => false), false);
  });
});
