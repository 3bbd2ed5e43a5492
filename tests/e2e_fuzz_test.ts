/**
 * Fuzzing a real daemon (seeded and bounded; FUZZ_SEED replays a run): its
 * peer listener before authentication, its peer connections after it, and its
 * control socket. Every input goes on its own connection, which the daemon
 * must close by itself (no hang); meanwhile the daemons' own connections stay
 * up, every daemon keeps answering, and the service never moves.
 */
import { assert, assertEquals } from "./assert.ts";
import { type TestCluster, withCluster } from "./cluster/harness.ts";
import { CONTROL_SEEDS, fuzzFrame, fuzzSeed, mutateValue, PEER_SEEDS, Rng } from "./fuzz/gen.ts";
import { importSecret } from "../src/wire/auth.ts";
import { batchBody } from "../src/wire/codec.ts";
import { encodeFrame, FrameReader, writeFrame } from "../src/wire/frame.ts";
import { connectorHandshake } from "../src/wire/handshake.ts";

const SECRET = "e2e-fuzz-shared-secret-0123456789";
const PER_TARGET = 120;
const AT_ONCE = 8;

/** Send `bytes`, end our side, and wait for the daemon to close; false if it did not within `ms`. */
async function oneShot(conn: Deno.Conn, bytes: Uint8Array, ms = 3000): Promise<boolean> {
  const timer = setTimeout(() => conn.close(), ms);
  let closedByUs = false;
  try {
    try {
      await conn.write(bytes);
      await conn.closeWrite();
    } catch { /* the daemon may have closed already */ }
    const buf = new Uint8Array(4096);
    try {
      while (await conn.read(buf) !== null);
    } catch (e) {
      closedByUs = e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted;
    }
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return !closedByUs;
}

async function inBatches(n: number, fn: (i: number) => Promise<void>) {
  for (let i = 0; i < n; i += AT_ONCE) {
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, n - i) }, (_, k) => fn(i + k)));
  }
}

/** Every daemon runs and answers, every link is up, a still runs alone. */
async function assertHealthy(c: TestCluster, after: string) {
  for (const n of c.nodes) assert(c.daemonPid(n.name) !== null, `${n.name} exited after ${after}`);
  await c.waitFor(
    async () => {
      const st = await Promise.all(c.nodes.map((n) => c.status(n.name)));
      return st.every((s) => s?.resources.every((r) => r.peers.every((p) => p.connected)));
    },
    5000,
    `every daemon to answer with every link up after ${after}`,
  );
  assertEquals(c.runningNodes(), ["a"], after);
}

Deno.test("e2e fuzz: the peer listener, authenticated peer frames and the control socket", async () => {
  await withCluster({ secret: SECRET }, async (c) => {
    await c.waitForSteady("a");
    const from = Date.now();
    const seed = fuzzSeed();
    const rng = new Rng(seed);
    const hangs: string[] = [];

    // 1. Before authentication: anything at a's peer listener.
    const peerInputs = Array.from({ length: PER_TARGET }, () => fuzzFrame(rng, PEER_SEEDS));
    await inBatches(PER_TARGET, async (i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.listenPort("a") });
      if (!await oneShot(conn, peerInputs[i])) hangs.push(`peer input ${i}`);
    });
    await assertHealthy(c, "fuzzed peer input");

    // 2. After authentication (as the watchdog w, from w's address): valid frames, then one bad.
    // a keeps the newest connection per name, so cut the real w off from a meanwhile.
    c.relay.blockBoth("a", "w");
    const secret = await importSecret(SECRET);
    const sessions = 30;
    const sessionInputs = Array.from({ length: sessions }, () => fuzzFrame(rng, PEER_SEEDS));
    for (let i = 0; i < sessions; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.listenPort("a") });
      const reader = new FrameReader(conn);
      const session = await connectorHandshake(conn, reader, {
        self: "w",
        auth: secret,
        timeoutMs: 3000,
        expectNode: "a",
      });
      await writeFrame(conn, { ...await session.sealer!.seal(batchBody([])) }, 1000);
      // Sealed with the right key but carrying garbage, or garbage in place of a sealed frame.
      const inner = mutateValue(rng, rng.pick(PEER_SEEDS));
      const body = typeof inner === "object" && inner !== null && !Array.isArray(inner)
        ? inner as Record<string, unknown>
        : { type: "batch", messages: [inner] };
      const garbage = i % 2 === 0
        ? encodeFrame({ ...await session.sealer!.seal(body) })
        : sessionInputs[i];
      await reader.settle();
      if (!await oneShot(conn, garbage)) hangs.push(`session ${i}`);
    }
    c.relay.heal();
    await assertHealthy(c, "fuzzed authenticated frames");

    // 3. The control socket of every node.
    const controlInputs = Array.from({ length: PER_TARGET }, () => fuzzFrame(rng, CONTROL_SEEDS));
    await inBatches(PER_TARGET, async (i) => {
      const node = c.nodes[i % c.nodes.length].name;
      const conn = await Deno.connect({ transport: "unix", path: c.controlPath(node) });
      if (!await oneShot(conn, controlInputs[i])) hangs.push(`control input ${i} to ${node}`);
    });
    await assertHealthy(c, "fuzzed control input");

    assertEquals(hangs, [], `FUZZ_SEED=${seed}: connections the daemon never closed`);
    const begins = (await c.timeline()).filter((e) => e.kind === "begin" && e.t >= from);
    assertEquals(begins.length, 0, "the service moved during fuzzing");
  });
});
