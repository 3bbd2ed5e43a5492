import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { type ResourceState, StateStore } from "./state_store.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-state-", fn);

const web: ResourceState = {
  role: "primary",
  epoch: 7,
  maxEpoch: 7,
  grantHolder: null,
  counters: { restarts: [1, 2] },
};
const odd: ResourceState = {
  role: "secondary",
  epoch: 3,
  maxEpoch: 5,
  grantHolder: { node: "nodeA", epoch: 5, priority: 100 },
  counters: {},
};

Deno.test("state store: saved states come back after a restart", async () => {
  await withDir(async (root) => {
    const dir = `${root}/state`; // Created by the first save.
    const store = new StateStore(dir);
    await store.save("web", web);
    await store.save("a/b c", odd);
    assertEquals(store.pathOf("a/b c"), `${dir}/a%2Fb%20c.state.json`);

    const restarted = new StateStore(dir);
    const { states, warnings } = await restarted.loadAll();
    assertEquals(warnings, []);
    assertEquals(
      [...states].sort(),
      [["a/b c", odd], ["web", web]] as [string, ResourceState][],
    );
    assertEquals(await restarted.load("web"), { state: web, warning: null });
    assertEquals(await restarted.load("absent"), { state: null, warning: null });
    assertEquals(JSON.parse(await Deno.readTextFile(store.pathOf("web"))), {
      version: 1,
      resource: "web",
      ...web,
    });
  });
});

Deno.test("state store: a missing directory restores nothing", async () => {
  await withDir(async (root) => {
    assertEquals(await new StateStore(`${root}/none`).loadAll(), {
      states: new Map(),
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
    await store.save("web", { ...web, epoch: 8, maxEpoch: 8 });
    const after = await Deno.stat(store.pathOf("web"));
    assert(before.ino !== after.ino, "the file was rewritten in place, not replaced");
    // Saves issued together land in call order.
    await Promise.all([
      store.save("web", { ...web, epoch: 10, maxEpoch: 10 }),
      store.save("web", { ...web, epoch: 9, maxEpoch: 9 }),
    ]);
    assertEquals((await store.load("web")).state?.epoch, 9);
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
    const { states, warnings } = await new StateStore(dir).loadAll();
    assertEquals(warnings, []);
    assertEquals(states.get("web"), web);
    assertEquals(await Deno.stat(stale).then(() => true, () => false), false);
  });
});

Deno.test("state store: corrupt, foreign or unknown-version files are reported and ignored", async () => {
  await withDir(async (dir) => {
    const store = new StateStore(dir);
    await store.save("good", web);
    const valid = {
      version: 1,
      role: "primary",
      epoch: 3,
      maxEpoch: 3,
      grantHolder: null,
      counters: {},
    };
    const file = (resource: string, fields: Record<string, unknown>) =>
      JSON.stringify({ ...valid, resource, ...fields });
    const bad: Record<string, string> = {
      truncated: '{"version":1,"resource":"truncated","role":"prim',
      array: "[1,2]",
      future: file("future", { version: 2 }),
      unversioned: file("unversioned", { version: undefined }),
      moved: file("elsewhere", {}),
      role: file("role", { role: "boss" }),
      epoch: file("epoch", { epoch: -1 }),
      fraction: file("fraction", { epoch: 1.5 }),
      lowmax: file("lowmax", { maxEpoch: 2 }),
      holder: file("holder", { grantHolder: { node: "b", epoch: "5", priority: 1 } }),
      counters: file("counters", { counters: [] }),
    };
    for (const [name, text] of Object.entries(bad)) {
      await Deno.writeTextFile(store.pathOf(name), text);
    }
    const { states, warnings } = await store.loadAll();
    assertEquals([...states.keys()], ["good"]);
    const reasons = Object.fromEntries(
      warnings.map((w) => [w.path.slice(dir.length + 1, -".state.json".length), w.reason]),
    );
    assertEquals(Object.keys(reasons).sort(), Object.keys(bad).sort());
    assertStringIncludes(reasons.truncated, "not JSON");
    assertEquals(reasons.array, "not a JSON object");
    assertEquals(reasons.future, "unsupported version 2 (expected 1)");
    assertEquals(reasons.unversioned, "unsupported version undefined (expected 1)");
    assertEquals(reasons.moved, 'holds resource "elsewhere", expected "moved"');
    assertEquals(reasons.role, 'bad role "boss"');
    assertEquals(reasons.epoch, "bad epoch -1");
    assertEquals(reasons.fraction, "bad epoch 1.5");
    assertEquals(reasons.lowmax, "maxEpoch 2 is below epoch 3");
    assertEquals(reasons.holder, 'bad grantHolder {"node":"b","epoch":"5","priority":1}');
    assertEquals(reasons.counters, "counters is not a JSON object");
    assertEquals((await store.load("future")).state, null);
  });
});
