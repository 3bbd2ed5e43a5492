/**
 * End to end with per-node keys (Ed25519): one node's key cannot speak as
 * another node, even from that node's own address; and every node's key can
 * be rotated on a running cluster, with SIGHUP only, without a failover.
 */
import { assert, assertEquals } from "./assert.ts";
import { type TestCluster, withCluster } from "./cluster/harness.ts";
import { forge, type Forger } from "./cluster/hostile.ts";
import type { Message } from "../src/core/types.ts";
import type { NodeKeyAuth } from "../src/wire/auth.ts";
import { formatPublicKey, importPublicKey, importSigningKey } from "../src/wire/node_keys.ts";

/** What holding `node`'s private key gives: its signing key, and the others' public keys. */
async function keysOf(c: TestCluster, node: string): Promise<NodeKeyAuth> {
  const mine = await importSigningKey(await Deno.readFile(c.nodeKeyFile(node)));
  const publics = new Map<string, { id: string; key: CryptoKey }[]>();
  for (const n of c.nodes) {
    const raw = (await Deno.readFile(c.nodeKeyFile(n.name))).subarray(32);
    publics.set(n.name, [{ id: formatPublicKey(raw), key: await importPublicKey(raw) }]);
  }
  return { mode: "ed25519", signingKey: () => mine, publicKeys: (n) => publics.get(n) ?? [] };
}

Deno.test("e2e node keys: w's key, from a's own address, cannot speak as a", async () => {
  await withCluster({ nodeKeys: true, distinctHosts: true }, async (c) => {
    await c.waitForSteady("a");
    const from = Date.now();
    const auth = await keysOf(c, "w");
    let forger: Forger | null = null;
    let refusal = "";
    try {
      forger = await forge({
        source: c.host("a"),
        host: c.host("b"),
        port: c.listenPort("b"),
        self: "a",
        auth,
        expectNode: "b",
      });
    } catch (e) {
      refusal = (e as Error).message;
    }
    if (forger) {
      const epoch = (await c.resourceStatus("a"))!.epoch;
      const release: Message = { type: "release", resource: "r0", epoch, successor: "b" };
      await forger.send([release]).catch(() => {});
      await forger.close();
    }
    assert(/a failed to prove its node key/.test(refusal), `not refused: ${refusal}`);
    // The same key speaking as its own node w is accepted: keys prove names, not addresses.
    const honest = await forge({
      source: c.host("a"),
      host: c.host("b"),
      port: c.listenPort("b"),
      self: "w",
      auth,
      expectNode: "b",
    });
    await honest.close();
    await new Promise((r) => setTimeout(r, 1000));
    const begins = (await c.timeline()).filter((e) => e.kind === "begin" && e.t >= from);
    assertEquals(begins.length, 0, "a start began after the forgery");
    assertEquals(c.runningNodes(), ["a"]);
  });
});

Deno.test("e2e node keys: rotating every node's key on a running cluster causes no failover", async () => {
  await withCluster({ nodeKeys: true }, async (c) => {
    await c.waitForSteady("a");
    const from = Date.now();
    const all = c.nodes.map((n) => n.name);
    const reloadAll = async () => {
      for (const n of all) await c.reload(n);
    };
    for (const node of all) {
      const oldFile = c.nodeKeyFile(node);
      // 1. Every node learns the new public key beside the old one.
      const fresh = await c.addNodeKey(node);
      await reloadAll();
      // 2. The node signs with its new key.
      await c.useNodeKey(node, fresh);
      await c.reload(node);
      // 3. The old key is retired everywhere: connections it proved are closed and redialled.
      await c.retireOldNodeKeys(node);
      await reloadAll();
      await Deno.remove(oldFile);
      await c.waitFor(
        async () => {
          const st = await Promise.all(all.map((n) => c.status(n)));
          return st.every((s) => s?.resources.every((r) => r.peers.every((p) => p.connected)));
        },
        5000,
        `every node connected again after ${node}'s key rotation`,
      );
    }
    // The retired keys were in use: connections that proved them were closed and made anew.
    for (const n of all) {
      assert(
        (await c.log(n)).includes("its node key was removed from the configuration"),
        `${n} closed no connection of a retired key`,
      );
    }
    const begins = (await c.timeline()).filter((e) => e.kind === "begin" && e.t >= from);
    assertEquals(begins.map((e) => `${e.node} at ${e.t - from} ms`), [], "a start began");
    assertEquals(c.runningNodes(), ["a"]);
    assertEquals(await c.waitForSettled(5000), "a");
  });
});
