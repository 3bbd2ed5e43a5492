/**
 * End to end, real daemons on loopback: what a peer may claim is bounded by
 * the shared configuration, and a reload cannot stretch a lease beyond what
 * the others grant. Every test also checks the service timeline: never two
 * nodes active at once (withCluster does at the end).
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { sleep, type TestCluster, withCluster } from "./cluster/harness.ts";
import { activeIntervals } from "./cluster/timeline.ts";
import { importSecret } from "../src/wire/auth.ts";
import { batchBody } from "../src/wire/codec.ts";
import { FrameReader, writeFrame } from "../src/wire/frame.ts";
import { connectorHandshake } from "../src/wire/handshake.ts";

const SECRET = "e2e-runtime-secret-0123456789";

/** Cut `node` off from every other node, both ways. */
function isolate(c: TestCluster, node: string) {
  for (const n of c.nodes) if (n.name !== node) c.relay.blockBoth(node, n.name);
}

Deno.test("e2e runtime: SIGHUP doubles the primary's lease, then it is cut off: b starts only after a stopped", async () => {
  await withCluster({ complaintCount: 3 }, async (c) => {
    await c.waitForSteady("a");
    // A file with a mistake first: refused with where it is, the old settings kept.
    await c.rewriteConfig({ extraToml: "heartbeat_intervall = 1" });
    const seen = (await c.events("a"))!.at(-1)!.seq;
    c.sighup("a");
    const refused = await c.waitFor(
      async () =>
        (await c.events("a"))?.find((e) => e.seq > seen && e.message.startsWith("reload refused")),
      3000,
      "a to refuse the bad file",
    );
    assertStringIncludes(refused.message, `${c.configPath}:`);
    assertStringIncludes(refused.message, "heartbeat_intervall");
    await c.assertStaysSettled("a", 500);
    await c.rewriteConfig({ extraToml: undefined });
    // The shared file gives a a lease twice as long; only a reloads it (mid-lease).
    await c.rewriteConfig({ nodeSections: { a: "complaint_count = 6" } });
    c.sighup("a");
    await c.waitFor(
      async () => (await c.log("a")).includes("settings reloaded"),
      3000,
      "a's reload",
    );
    isolate(c, "a");
    const timeline = await c.waitForActive("b", 15_000);
    const [ia, ib] = activeIntervals(timeline).filter((i) => i.node === "a" || i.node === "b");
    assertEquals([ia.node, ib.node], ["a", "b"]);
    assert(ia.to <= ib.from, `b began at ${ib.from} before a's stop ended at ${ia.to}`);
    c.relay.heal();
  });
});

Deno.test("e2e runtime: a watchdog killed -9 and restarted honours a longer per-node lease for its full hold", async () => {
  // a's own section asks for a lease of 8 × 0.25 = 2 s: its hold is (2 + 0.75) × 1.1 + 0.25
  // = 3.275 s, where w's own numbers would give (0.75 + 0.75) × 1.1 + 0.25 = 1.9 s.
  await withCluster({ nodeSections: { a: "complaint_count = 8" } }, async (c) => {
    await c.waitForSteady("a");
    isolate(c, "a"); // no renewal reaches w from now on
    await c.kill9("w");
    await c.restart("w");
    const grant = await c.waitFor(
      async () => {
        const st = await c.resourceStatus("w");
        return st?.grant ? st.grant : null;
      },
      3000,
      "w's restored grant",
    );
    assertEquals(grant.holder, "a");
    assert(grant.remainingMs > 2000, `w honours a's grant for only ${grant.remainingMs} ms more`);
    c.relay.heal();
  });
});

Deno.test("e2e runtime: a peer sending epochs of 2^53 and 2^52 + 1 is ignored, and failover still works", async () => {
  await withCluster({ secret: SECRET }, async (c) => {
    await c.waitForSteady("a");
    // A holder of the key speaks to b as w and announces absurd epochs.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.listenPort("b") });
    const reader = new FrameReader(conn);
    try {
      const session = await connectorHandshake(conn, reader, {
        self: "w",
        auth: await importSecret(SECRET),
        timeoutMs: 3000,
        expectNode: "b",
      });
      const base = {
        type: "heartbeat",
        resource: "r0",
        role: "primary",
        state: "running",
        seq: 1,
        leaseMs: 750,
        stopTimeoutMs: 750,
      };
      for (const epoch of [2 ** 53, 2 ** 52 + 1]) {
        const frame = await session.sealer!.seal(batchBody([{ ...base, epoch } as never]));
        await writeFrame(conn, { ...frame }, 1000);
      }
      await c.waitFor(
        async () => (await c.log("b")).includes("invalid message"),
        3000,
        "b to drop the messages",
      );
    } finally {
      try {
        conn.close();
      } catch { /* closed by b */ }
      await reader.settle();
    }
    const st = await c.resourceStatus("b");
    assert((st?.maxEpoch ?? 0) < 10, `b follows epoch ${st?.maxEpoch}`);
    // Failover still works: kill -9 the primary, b takes over with the next small epoch.
    await c.kill9WithService("a");
    await c.waitForActive("b", 15_000);
    const after = await c.resourceStatus("b");
    assertEquals([after?.role, after?.epoch], ["primary", 2]);
    await sleep(100);
  });
});
