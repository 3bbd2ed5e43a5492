/**
 * End to end: hostile or broken input to a running daemon closes that one
 * connection and nothing else (the original's main process died of five zero
 * bytes). After each attempt every daemon must still run, still answer
 * `ctl status`, and the service must not have moved.
 */
import net from "node:net";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { guardOf, sleep, type TestCluster, withCluster } from "./cluster/harness.ts";
import { FrameSealer, importSecret } from "../src/wire/auth.ts";
import { batchBody } from "../src/wire/codec.ts";
import { encodeFrame, FrameReader, writeFrame } from "../src/wire/frame.ts";
import { connectorHandshake } from "../src/wire/handshake.ts";

const SECRET = "e2e-shared-secret-0123456789";

/** Read (and drop) whatever comes until the daemon closes the connection; fail after `ms`. */
async function expectClosed(conn: Deno.Conn, what: string, ms = 3000): Promise<void> {
  const buf = new Uint8Array(4096);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  let ending = "";
  try {
    while (await conn.read(buf) !== null);
    ending = "end of stream";
  } catch (e) {
    ending = `${(e as Error).name}: ${(e as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
  if (!timedOut) conn.close();
  assert(!timedOut, `the daemon did not close the connection after ${what} within ${ms} ms`);
  // An end of stream, or a reset when the daemon closed with our bytes unread.
  assert(ending === "end of stream" || /reset/i.test(ending), `after ${what}: ${ending}`);
}

/** Every daemon still runs and answers; the service still runs on a alone. */
async function assertClusterHealthy(c: TestCluster, after: string) {
  for (const n of c.nodes) {
    assert(c.daemonPid(n.name) !== null, `${n.name}'s daemon exited after ${after}`);
    const st = await c.status(n.name);
    assert(st !== null, `${n.name} does not answer status after ${after}`);
  }
  assertEquals(c.runningNodes(), ["a"], `after ${after}`);
}

function connectRaw(c: TestCluster, node: string): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: c.listenPort(node) });
}

/** a's log gives `reason` for closing a connection (the log may land just after the close). */
async function logged(c: TestCluster, reason: string) {
  await c.waitFor(async () => (await c.log("a")).includes(reason), 3000, `a to log "${reason}"`);
}

async function sendRaw(c: TestCluster, bytes: Uint8Array, what: string, reason: string) {
  const conn = await connectRaw(c, "a");
  await conn.write(bytes);
  await expectClosed(conn, what);
  await logged(c, reason);
  await assertClusterHealthy(c, what);
}

/** Handshake with a as node w (with the shared key): the sealed session. */
async function authenticated(c: TestCluster) {
  const conn = await connectRaw(c, "a");
  const reader = new FrameReader(conn);
  const session = await connectorHandshake(conn, reader, {
    self: "w",
    auth: await importSecret(SECRET),
    timeoutMs: 3000,
    expectNode: "a",
  });
  return { conn, reader, sealer: session.sealer as FrameSealer };
}

Deno.test("e2e bad input (keyed peers): garbage, zero bytes, huge length, wrong MAC, replay, bad control requests", async () => {
  await withCluster({ secret: SECRET }, async (c) => {
    await c.waitForSteady("a");

    const random = crypto.getRandomValues(new Uint8Array(512));
    random[0] = 0x17; // never the frame magic by chance, and told apart from the zeros
    await sendRaw(c, random, "random bytes", "not a hastmon frame (byte 0 is 0x17)");
    await sendRaw(c, new Uint8Array(5), "five zero bytes", "not a hastmon frame (byte 0 is 0x00)");
    await sendRaw(
      c,
      Uint8Array.of(0x48, 0x4d, 0x46, 1, 0xff, 0xff, 0xff, 0xff),
      "a 4 GiB length",
      "frame body of 4294967295 bytes exceeds",
    );

    // Next we speak as w, with the key. The listener keeps the newest connection of each node,
    // so cut the real w off from a meanwhile: its reconnects must not supersede ours.
    c.relay.blockBoth("a", "w");
    // Authenticated, then a frame whose MAC is wrong.
    {
      const { conn, reader, sealer } = await authenticated(c);
      const sealed = await sealer.seal(batchBody([]));
      const bad = (sealed.mac[0] === "0" ? "1" : "0") + sealed.mac.slice(1);
      await writeFrame(conn, { ...sealed, mac: bad }, 1000);
      await expectClosed(conn, "a frame with a wrong MAC");
      await reader.settle();
      await logged(c, "unauthenticated frame: frame 0: wrong MAC");
    }
    await assertClusterHealthy(c, "a wrong MAC");
    // Authenticated, a valid frame, then the same frame again.
    {
      const { conn, reader, sealer } = await authenticated(c);
      const frame = encodeFrame({ ...await sealer.seal(batchBody([])) });
      await conn.write(frame);
      await conn.write(frame);
      await expectClosed(conn, "a replayed frame");
      await reader.settle();
      await logged(c, "frame seq 0, expected 1: replayed or out of order");
    }
    await assertClusterHealthy(c, "a replayed frame");
    c.relay.heal();

    // The control socket: garbage closes that connection; a bad request gets an error answer.
    const ctlConn = () => Deno.connect({ transport: "unix", path: c.controlPath("a") });
    {
      const conn = await ctlConn();
      await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
      await expectClosed(conn, "garbage on the control socket");
    }
    {
      const conn = await ctlConn();
      const reader = new FrameReader(conn);
      await writeFrame(conn, { v: 1, id: 7, type: "role", role: "king", resources: "all" }, 1000);
      const answer = await reader.read(3000);
      assertEquals([answer.id, answer.ok], [7, false]);
      assertEquals((answer.error as { code: string }).code, "bad_request");
      await writeFrame(conn, { v: 1, id: 8, type: "reboot" }, 1000);
      assertEquals(((await reader.read(3000)).error as { code: string }).code, "unsupported");
      // The same connection still serves a good request.
      await writeFrame(conn, { v: 1, id: 9, type: "status" }, 1000);
      assertEquals((await reader.read(3000)).ok, true);
      conn.close();
      await reader.settle();
    }
    await assertClusterHealthy(c, "bad control requests");
    await c.waitForSteady("a");
    for (const n of c.nodes) await c.ctlOk(n.name, "status");
    assertEquals((await c.timeline()).filter((e) => e.kind === "begin").length, 1);
  });
});

Deno.test("e2e bad input (no key): a connection from an address not in remote/friends is refused", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    // The configuration lists only 127.0.0.1; come from 127.0.0.2.
    const closed = await new Promise<{ bytes: number; error: string | null }>((resolve) => {
      let bytes = 0;
      let error: string | null = null;
      const sock = net.createConnection({
        host: "127.0.0.1",
        port: c.listenPort("a"),
        localAddress: "127.0.0.2",
      });
      const timer = setTimeout(() => sock.destroy(new Error("not closed by the daemon")), 3000);
      sock.on("connect", () => sock.write(encodeFrame({ type: "hello", node: "w" })));
      sock.on("data", (d: Uint8Array) => bytes += d.length);
      sock.on("error", (e: Error) => error = e.message);
      sock.on("close", () => {
        clearTimeout(timer);
        resolve({ bytes, error });
      });
    });
    assert(closed.error === null || !closed.error.includes("not closed"), closed.error ?? "");
    assertEquals(closed.bytes, 0, "the daemon answered a refused address");
    await c.waitFor(
      async () => (await c.log("a")).includes("127.0.0.2"),
      2000,
      "a to log the refusal",
    );
    assertStringIncludes(await c.log("a"), "address not allowed");
    await assertClusterHealthy(c, "a connection from 127.0.0.2");
    await c.ctlOk("a", "status");
  });
});

Deno.test("e2e bad input: a log that cannot be written (its reader gone: EPIPE) costs neither the lease nor the daemon, and status says so", async () => {
  // a's stderr, its log, goes through a pipe whose reader exits when told: every later write
  // of the daemon and of its guard fails, as a foreground daemon's terminal that went away (a
  // full disk fails them alike, ENOSPC).
  await withCluster({ logCuttable: ["a"] }, async (c) => {
    await c.waitForSteady("a");
    const pid = c.servicePid("a", "r0");
    // The same guard throughout: a daemon starts a dead one again at once.
    const guard = guardOf(c.daemonPid("a")!)!;
    const lives = (p: number) => Deno.readTextFileSync(`/proc/${p}/stat`).split(") ")[1][0] !== "Z";
    await c.cutLog("a");
    // A reload logs: the reader takes that line and exits; the next reload's lines fail.
    c.sighup("a");
    await sleep(500);
    c.sighup("a");
    await sleep(3000); // a dozen heartbeats
    const st = await c.status("a");
    assert(st, "a's daemon answers");
    assert(lives(guard) && guardOf(c.daemonPid("a")!) === guard, "a's guard lives");
    const r0 = st.resources.find((r) => r.resource === "r0")!;
    assertEquals([r0.role, r0.state], ["primary", "running"]);
    assertEquals(c.servicePid("a", "r0"), pid, "the service did not move or restart");
    assert((st.log?.linesLost ?? 0) > 0, JSON.stringify(st.log));
    assertStringIncludes(st.log?.error ?? "", "Broken pipe");
    const text = await c.ctlOk("a", "status");
    assertStringIncludes(text, "log line(s) could not be written");
    // A switchover still works: a's stop runs and logs (into nothing), b takes over.
    await c.ctlOk("a", "role", "secondary", "r0");
    await c.waitForActive("b");
    assert(await c.status("a"), "a's daemon still answers");
    assert(lives(guard) && guardOf(c.daemonPid("a")!) === guard, "a's guard still lives");
  });
});

Deno.test("e2e bad input: a log that blocks (its reader alive, not reading) holds up neither a's daemon nor its guard: lease and service stay, a switchover works, and the lines come once it drains", async () => {
  await withCluster({ logCuttable: ["a"] }, async (c) => {
    await c.waitForSteady("a");
    const pid = c.servicePid("a", "r0");
    const guard = guardOf(c.daemonPid("a")!)!;
    await c.pauseLog("a", true);
    // The pipe filled by another writer (a reader inside `read` takes its first line, then
    // waits): the daemon's next write cannot complete, as on a paused terminal or a stalled
    // journald. Before, that write froze the daemon, its guard stopped the service and b
    // took over: the node was lost to its log.
    const fifo = `${c.dir}/a.stderr.fifo`;
    const filler = new Deno.Command("/bin/sh", {
      args: ["-c", `{ printf 'x\\n'; sleep 0.5; head -c 70000 /dev/zero; } > '${fifo}'`],
      env: { HASTMON_TEST_CLUSTER: c.dir },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await sleep(1500);
      c.sighup("a"); // a logs its reload: the write waits, a does not
      await sleep(3000); // a dozen leases
      const st = await c.status("a");
      assert(st, "a's daemon answers");
      const r0 = st.resources.find((r) => r.resource === "r0")!;
      assertEquals([r0.role, r0.state], ["primary", "running"]);
      assertEquals(c.servicePid("a", "r0"), pid, "the service did not move or restart");
      assertEquals(c.runningNodes(), ["a"]);
      assertEquals(guardOf(c.daemonPid("a")!), guard, "the same guard throughout");
      // A switchover with the log still blocked: a's stop runs (its guard logs into the same
      // pipe), b takes over.
      await c.ctlOk("a", "role", "secondary", "r0");
      await c.waitForActive("b");
      assertEquals(c.servicePid("a", "r0"), null, "a's service was stopped");
    } finally {
      await c.pauseLog("a", false);
      filler.kill("SIGKILL");
      await filler.status;
    }
    // Queued, not lost: once the log drains, what a logged meanwhile is there.
    await c.waitFor(
      async () => (await c.log("a")).includes("configuration reloaded"),
      5000,
      "a's reload line once its log drains",
    );
    assertEquals(guardOf(c.daemonPid("a")!), guard, "the same guard throughout");
  });
});
