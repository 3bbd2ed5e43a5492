import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import type { LogLevel, Message } from "../core/types.ts";
import {
  deriveSessionKey,
  FrameSealer,
  importSecret,
  newNonce,
  type PeerSecret,
  proveSecret,
  type Transcript,
} from "./auth.ts";
import { batchBody, type Hello, PROTOCOL_VERSION } from "./codec.ts";
import { encodeFrame, FrameError, FrameReader, writeAllWithTimeout, writeFrame } from "./frame.ts";
import {
  connectPeer,
  type ConnectPeerOptions,
  type PeerBatch,
  type PeerConnection,
  PeerError,
} from "./peer.ts";
import { listenPeers, type ListenPeersOptions, type PeerListener } from "./peer_listener.ts";
import { connectFrom } from "../../tests/cluster/hostile.ts";
import { hb } from "../core/test_helpers.ts";

const HOST = "127.0.0.1";

const heartbeat = (resource: string, seq: number): Message => hb({ resource, seq });
const release: Message = { type: "release", resource: "db", epoch: 2, successor: "nodeA" };

/** Collects log lines; `waitFor` resolves once a line containing `text` appears. */
class LogSink {
  lines: string[] = [];
  #waiters: { text: string; resolve: () => void }[] = [];
  log = (level: LogLevel, message: string) => {
    this.lines.push(`${level}: ${message}`);
    for (const w of this.#waiters.filter((w) => message.includes(w.text))) w.resolve();
  };
  async waitFor(text: string, ms = 2000): Promise<string> {
    const found = () => this.lines.find((l) => l.includes(text));
    if (!found()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve, reject) => {
        this.#waiters.push({ text, resolve });
        timer = setTimeout(
          () =>
            reject(
              new Error(`no log line with ${JSON.stringify(text)}:\n${this.lines.join("\n")}`),
            ),
          ms,
        );
      }).finally(() => clearTimeout(timer));
    }
    return found()!;
  }
}

/** A listener on port 0 that collects the connections it accepts. */
class Server {
  accepted: PeerConnection[] = [];
  logs = new LogSink();
  allow = true;
  listener: PeerListener;
  #arrivals: ((c: PeerConnection) => void)[] = [];

  constructor(options: Partial<ListenPeersOptions> = {}) {
    this.listener = listenPeers({
      self: "nodeB",
      auth: null,
      refusalSummaryMs: 0,
      timeoutMs: 300,
      idleTimeoutMs: 1000,
      hostname: HOST,
      port: 0,
      log: this.logs.log,
      allowed: () => this.allow,
      onConnection: (c) => {
        this.accepted.push(c);
        this.#arrivals.shift()?.(c);
      },
      ...options,
    });
  }

  /** The next connection the listener hands over. */
  nextConnection(): Promise<PeerConnection> {
    return new Promise((resolve) => this.#arrivals.push(resolve));
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

/** Run `fn` with a fresh server, and close it afterwards whatever happens. */
async function withServer(
  options: Partial<ListenPeersOptions>,
  fn: (server: Server) => Promise<void>,
): Promise<void> {
  const server = new Server(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function dial(server: Server, options: Partial<ConnectPeerOptions> = {}): Promise<PeerConnection> {
  return connectPeer({
    self: "nodeA",
    auth: null,
    timeoutMs: 300,
    idleTimeoutMs: 1000,
    hostname: HOST,
    port: server.listener.port,
    log: () => {},
    ...options,
  });
}

/** The next received batch, or an error after `ms`. */
async function receive(conn: PeerConnection, ms = 2000): Promise<PeerBatch> {
  const it = conn[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("nothing received")), ms);
  });
  try {
    const r = await Promise.race([it.next(), expired]);
    if (r.done) throw new Error(`connection closed: ${conn.closeReason}`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Dial and accept; returns both ends. */
async function pair(server: Server, options: Partial<ConnectPeerOptions> = {}) {
  const arriving = server.nextConnection();
  const client = await dial(server, options);
  const accepted = await arriving;
  return { client, accepted };
}

/** Both directions of an established pair still carry messages. */
async function assertWorks(client: PeerConnection, accepted: PeerConnection): Promise<void> {
  assert(await client.send([heartbeat("db", 99)]), "send failed");
  assertEquals((await receive(accepted)).messages, [heartbeat("db", 99)]);
  assert(await accepted.send([release]), "reply failed");
  assertEquals((await receive(client)).messages, [release]);
}

/** A new good peer can still connect and talk. */
async function assertListenerHealthy(server: Server, options: Partial<ConnectPeerOptions> = {}) {
  const { client, accepted } = await pair(server, { self: "nodeC", ...options });
  try {
    await assertWorks(client, accepted);
  } finally {
    await client.close();
  }
}

/** The server closes a raw connection (EOF or reset), rather than leaving it hanging. */
async function assertClosedByServer(reader: FrameReader): Promise<void> {
  for (;;) {
    try {
      await reader.read(2000); // a refusal frame may come first
    } catch (e) {
      assert(e instanceof FrameError, `unexpected ${e}`);
      assert(e.kind !== "timeout", "the server did not close the connection");
      return;
    }
  }
}

async function rawConnect(server: Server) {
  const conn = await Deno.connect({ hostname: HOST, port: server.listener.port });
  const reader = new FrameReader(conn);
  return {
    conn,
    reader,
    close: async () => {
      try {
        conn.close();
      } catch { /* closed */ }
      await reader.settle();
    },
  };
}

/** A hand-driven keyed connector, so that tests can send forged frames. */
async function rawKeyed(server: Server, secret: PeerSecret) {
  const raw = await rawConnect(server);
  const nonce = newNonce();
  const hello: Hello = {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: "mallory",
    nonce,
    auth: "hmac-sha256",
  };
  await writeFrame(raw.conn, { ...hello }, 1000);
  const theirs = await raw.reader.read(1000) as unknown as Hello;
  const t: Transcript = {
    connectorNode: "mallory",
    acceptorNode: theirs.node,
    connectorNonce: nonce,
    acceptorNonce: theirs.nonce,
  };
  await writeFrame(
    raw.conn,
    { type: "proof", mac: await proveSecret(secret, "connector", t) },
    1000,
  );
  assertEquals((await raw.reader.read(1000)).type, "proof");
  const sealer = new FrameSealer(await deriveSessionKey(secret, t), "connector-to-acceptor");
  return { ...raw, sealer };
}

Deno.test("peer: listener on port 0 reports its port; messages round trip both ways", async () => {
  await withServer({}, async (server) => {
    assert(server.listener.port > 0);
    const { client, accepted } = await pair(server);
    assertEquals(client.node, "nodeB");
    assertEquals(accepted.node, "nodeA");
    assertEquals([client.side, accepted.side, client.keyed], ["connector", "acceptor", false]);
    await assertWorks(client, accepted);
    await client.close();
  });
});

Deno.test("peer: a batch arrives as one frame, in order; huge batches are split", async () => {
  await withServer({ maxFrameBytes: 64 * 1024 }, async (server) => {
    const { client, accepted } = await pair(server, { maxFrameBytes: 64 * 1024 });
    const batch = [heartbeat("a", 1), heartbeat("b", 2), release];
    assert(await client.send(batch));
    assertEquals(await receive(accepted), { from: "nodeA", messages: batch });
    // 5000 messages exceed both the 4096-message cap and the 64 KiB frame cap.
    const many = Array.from({ length: 5000 }, (_, i) => heartbeat(`r${i}`, i));
    assert(await client.send(many));
    const got: Message[] = [];
    let frames = 0;
    while (got.length < many.length) {
      got.push(...(await receive(accepted)).messages);
      frames++;
    }
    assertEquals(got, many);
    assert(frames > 1, "expected several frames");
    await client.close();
  });
});

Deno.test("peer: keyed handshake, sealed messages both ways", async () => {
  const secret = await importSecret("correct horse");
  await withServer({ auth: secret }, async (server) => {
    const { client, accepted } = await pair(server, { auth: secret });
    assert(client.keyed && accepted.keyed);
    await assertWorks(client, accepted);
    await assertWorks(client, accepted); // seq numbers advance
    await client.close();
  });
});

Deno.test("peer: keyed batches over the frame cap are split and all open", async () => {
  const secret = await importSecret("k");
  await withServer({ auth: secret, maxFrameBytes: 16 * 1024 }, async (server) => {
    const { client, accepted } = await pair(server, { auth: secret, maxFrameBytes: 16 * 1024 });
    const many = Array.from({ length: 500 }, (_, i) => heartbeat(`"quoted\\${i}"`, i));
    assert(await client.send(many));
    const got: Message[] = [];
    while (got.length < many.length) got.push(...(await receive(accepted)).messages);
    assertEquals(got, many);
    await client.close();
  });
});

Deno.test("peer: wrong secret is refused on both sides; the listener goes on", async () => {
  const secret = await importSecret("right");
  await withServer({ auth: secret }, async (server) => {
    const e = await assertRejects(() => dial(server, { auth: null }), "key mismatch");
    assert(e instanceof PeerError);
    await assertRejects(
      async () => dial(server, { auth: await importSecret("wrong") }),
      "prove the shared key",
    );
    await server.logs.waitFor("failed to prove the shared key");
    assertEquals(server.accepted.length, 0);
    await assertListenerHealthy(server, { auth: secret });
  });
});

Deno.test("peer: an unkeyed node refuses a keyed one", async () => {
  await withServer({}, async (server) => {
    await assertRejects(
      async () => dial(server, { auth: await importSecret("k") }),
      "key mismatch",
    );
    await server.logs.waitFor("key mismatch");
  });
});

Deno.test("peer: a node of protocol 2 (before node keys) is refused, both versions named", async () => {
  await withServer({}, async (server) => {
    const raw = await rawConnect(server);
    try {
      const hello = { type: "hello", protocol: 2, node: "nodeA", nonce: newNonce(), auth: "none" };
      await writeFrame(raw.conn, hello, 1000);
      const answer = await raw.reader.read(1000) as { type: string; reason: string };
      assertEquals(answer.type, "refuse");
      assertStringIncludes(answer.reason, `protocol mismatch: nodeA speaks 2, nodeB speaks 3`);
      await assertClosedByServer(raw.reader);
    } finally {
      await raw.close();
    }
    await assertListenerHealthy(server);
  });
});

Deno.test("peer: hostile raw input closes only that connection", async () => {
  const server = new Server({ timeoutMs: 200 });
  const { client, accepted } = await pair(server);
  try {
    const huge = new Uint8Array(8);
    huge.set([0x48, 0x4d, 0x46, 1, 0xff, 0xff, 0xff, 0xff]);
    const cases: [string, Uint8Array, string][] = [
      [
        "random bytes",
        crypto.getRandomValues(new Uint8Array(64)).map((b, i) => i === 0 ? 0x00 : b),
        "not a hastmon frame",
      ],
      ["five zero bytes", new Uint8Array(5), "not a hastmon frame"],
      ["huge length prefix", huge, "exceeds 4096"],
      [
        "truncated frame, then silence",
        encodeFrame({ type: "hello" }).subarray(0, 12),
        "no hello within 200 ms",
      ],
      ["a batch instead of a hello", encodeFrame(batchBody([release])), "handshake.type"],
      [
        "a hello with a bad nonce",
        encodeFrame({ type: "hello", protocol: 1, node: "x", nonce: "00", auth: "none" }),
        "nonce",
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      const raw = await rawConnect(server);
      try {
        await writeAllWithTimeout(raw.conn, bytes, 1000);
        await assertClosedByServer(raw.reader);
        assertStringIncludes(await server.logs.waitFor(reason), "refused", name);
      } finally {
        await raw.close();
      }
    }
    assertEquals(server.accepted.length, 1);
    await assertWorks(client, accepted);
    await assertListenerHealthy(server);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("peer: garbage after the handshake closes only that connection", async () => {
  const server = new Server();
  const good = await pair(server);
  try {
    const arriving = server.nextConnection();
    const raw = await rawConnect(server);
    try {
      await writeFrame(raw.conn, {
        type: "hello",
        protocol: PROTOCOL_VERSION,
        node: "nodeX",
        nonce: newNonce(),
        auth: "none",
      }, 1000);
      assertEquals((await raw.reader.read(1000)).type, "hello");
      const victim = await arriving;
      await writeAllWithTimeout(raw.conn, new Uint8Array(5), 1000);
      await assertClosedByServer(raw.reader);
      assertStringIncludes(await server.logs.waitFor("not a hastmon frame"), "peer nodeX");
      assert(victim.closed);
    } finally {
      await raw.close();
    }
    // A well-framed but invalid message is dropped alone: the frame's others arrive,
    // the connection stays; a frame that is not a batch at all closes it.
    const arriving2 = server.nextConnection();
    const raw2 = await rawConnect(server);
    try {
      await writeFrame(raw2.conn, {
        type: "hello",
        protocol: PROTOCOL_VERSION,
        node: "nodeY",
        nonce: newNonce(),
        auth: "none",
      }, 1000);
      await raw2.reader.read(1000);
      const accepted = await arriving2;
      await writeFrame(
        raw2.conn,
        batchBody([{ ...release, epoch: -1 } as Message, { ...release, epoch: 7 }]),
        1000,
      );
      await server.logs.waitFor("dropped 1 invalid message(s): batch.messages[0].epoch");
      const got = await accepted[Symbol.asyncIterator]().next();
      assertEquals(got.value?.messages, [{ ...release, epoch: 7 }]);
      assert(!accepted.closed, "one bad message closed the whole connection");
      await writeFrame(raw2.conn, { type: "batches", messages: [] }, 1000);
      await assertClosedByServer(raw2.reader);
      await server.logs.waitFor("bad frame: batch.type");
    } finally {
      await raw2.close();
    }
    await assertWorks(good.client, good.accepted);
  } finally {
    await good.client.close();
    await server.close();
  }
});

Deno.test("peer: a wrong MAC or a replayed frame closes that connection", async () => {
  const secret = await importSecret("s");
  const server = new Server({ auth: secret });
  const good = await pair(server, { auth: secret });
  try {
    // Wrong MAC.
    let arriving = server.nextConnection();
    const forger = await rawKeyed(server, secret);
    try {
      await arriving;
      const sealed = await forger.sealer.seal(batchBody([release]));
      const flipped = (sealed.mac[0] === "0" ? "1" : "0") + sealed.mac.slice(1);
      await writeFrame(forger.conn, { ...sealed, mac: flipped }, 1000);
      await assertClosedByServer(forger.reader);
      await server.logs.waitFor("wrong MAC");
    } finally {
      await forger.close();
    }
    // Replay: the first copy is delivered, the second closes the connection.
    arriving = server.nextConnection();
    const replayer = await rawKeyed(server, secret);
    try {
      const victim = await arriving;
      const frame = encodeFrame({ ...await replayer.sealer.seal(batchBody([release])) });
      await writeAllWithTimeout(replayer.conn, frame, 1000);
      assertEquals((await receive(victim)).messages, [release]);
      await writeAllWithTimeout(replayer.conn, frame, 1000);
      await assertClosedByServer(replayer.reader);
      await server.logs.waitFor("replayed or out of order");
    } finally {
      await replayer.close();
    }
    // An unsealed frame on a keyed connection is refused too.
    arriving = server.nextConnection();
    const plain = await rawKeyed(server, secret);
    try {
      await arriving;
      await writeFrame(plain.conn, batchBody([release]), 1000);
      await assertClosedByServer(plain.reader);
      await server.logs.waitFor("unauthenticated frame");
    } finally {
      await plain.close();
    }
    await assertWorks(good.client, good.accepted);
    await assertListenerHealthy(server, { auth: secret });
  } finally {
    await good.client.close();
    await server.close();
  }
});

Deno.test("peer: an address that is not allowed is closed before anything is read", async () => {
  await withServer({}, async (server) => {
    server.allow = false;
    const raw = await rawConnect(server);
    try {
      await assertClosedByServer(raw.reader);
    } finally {
      await raw.close();
    }
    await server.logs.waitFor("address not allowed");
    await assertRejects(() => dial(server));
    server.allow = true;
    await assertListenerHealthy(server);
  });
});

Deno.test("peer: node names are checked on both sides", async () => {
  await withServer(
    { acceptNode: (node) => node !== "stranger" ? null : "not accepted here" },
    async (server) => {
      await assertRejects(() => dial(server, { self: "stranger" }), "not accepted");
      await assertRejects(() => dial(server, { expectNode: "nodeZ" }), "expected node nodeZ");
      await assertRejects(() => dial(server, { self: "nodeB" }), "own name");
      const { client } = await pair(server, { expectNode: "nodeB" });
      await client.close();
    },
  );
});

Deno.test("peer: an idle connection is closed; keepalives keep a quiet one open", async () => {
  await withServer({ idleTimeoutMs: 150, keepaliveMs: 0 }, async (server) => {
    const quiet = await pair(server, { keepaliveMs: 0 });
    const reasons: string[] = [];
    quiet.accepted.onClose((r) => reasons.push(r));
    await server.logs.waitFor("idle: no complete frame for 150 ms");
    await quiet.client.close();
    assertEquals(reasons.length, 1);
    assertStringIncludes(reasons[0], "idle");

    const kept = await pair(server, { keepaliveMs: 40, self: "nodeK" });
    await new Promise((r) => setTimeout(r, 400));
    assert(!kept.accepted.closed, `closed: ${kept.accepted.closeReason}`);
    await kept.client.close();
  });
});

Deno.test("peer: the newest connection from a node supersedes the older one", async () => {
  await withServer({}, async (server) => {
    const first = await pair(server);
    const second = await pair(server);
    await server.logs.waitFor("superseded");
    assert(first.accepted.closed);
    assertEquals(server.listener.connections, [second.accepted]);
    await assertWorks(second.client, second.accepted);
    await first.client.close();
    await second.client.close();
  });
});

Deno.test("peer: close ends the iteration, fires onClose once, and later sends fail", async () => {
  await withServer({}, async (server) => {
    const { client, accepted } = await pair(server);
    const iterating = (async () => {
      const got: PeerBatch[] = [];
      for await (const b of accepted) got.push(b);
      return got;
    })();
    assert(await client.send([release]));
    const closed: string[] = [];
    client.onClose((r) => closed.push(r));
    await client.close("test done");
    assertEquals((await iterating).map((b) => b.messages), [[release]]);
    assertEquals(closed, ["test done"]);
    assertEquals(await client.send([release]), false);
    const late: string[] = [];
    client.onClose((r) => late.push(r));
    await Promise.resolve();
    assertEquals(late, ["test done"]);
    assertStringIncludes(accepted.closeReason ?? "", "closed by peer");
  });
});

Deno.test("peer: a slow consumer loses nothing (reading pauses, then resumes)", async () => {
  await withServer({}, async (server) => {
    const { client, accepted } = await pair(server);
    for (let i = 0; i < 200; i++) void client.send([heartbeat("db", i)]);
    assert(await client.send([release]));
    await new Promise((r) => setTimeout(r, 50)); // let the receive queue fill up
    const seqs: number[] = [];
    for (;;) {
      const [msg] = (await receive(accepted)).messages;
      if (msg.type === "release") break;
      if (msg.type === "heartbeat") seqs.push(msg.seq);
    }
    assertEquals(seqs, Array.from({ length: 200 }, (_, i) => i));
    await client.close();
  });
});

Deno.test("peer: sending an invalid message is a caller bug and throws", async () => {
  await withServer({}, async (server) => {
    const { client } = await pair(server);
    let threw = false;
    try {
      client.send([{ ...release, resource: "" }]);
    } catch (e) {
      threw = e instanceof TypeError;
    }
    assert(threw);
    await client.close();
  });
});

Deno.test("peer: connecting to a closed port fails fast with a PeerError", async () => {
  // A port just closed may be taken at once by a listener of a test running in parallel:
  // then the handshake fails instead, and another closed port is tried.
  let message = "";
  for (let attempt = 0; attempt < 5 && !message.includes("connect to"); attempt++) {
    const l = Deno.listen({ hostname: HOST, port: 0 });
    const port = l.addr.port;
    l.close();
    const started = performance.now();
    const e = await connectPeer({
      self: "a",
      auth: null,
      timeoutMs: 300,
      idleTimeoutMs: 1000,
      hostname: HOST,
      port,
      log: () => {},
    }).then((conn) => conn.close().then(() => null), (err: unknown) => err);
    assert(e instanceof PeerError, `not a PeerError: ${e}`);
    assert(performance.now() - started < 2000, "not fast");
    message = e.message;
  }
  assertStringIncludes(message, "connect to");
});

// ---------------------------------------------------------------------------
// Admission: per-address caps, reserved slots, the hello deadline, one live
// connection per name, and the refusal summary. Callers come from other
// loopback addresses (127.0.0.x) through node:net, which can bind a source.

/** A keyed caller from `source` that says hello as `node` and then nothing (no proof). */
async function halfDone(server: Server, source: string, node: string) {
  const conn = await connectFrom(source, HOST, server.listener.port);
  const reader = new FrameReader(conn);
  const hello: Hello = {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node,
    nonce: newNonce(),
    auth: "hmac-sha256",
  };
  await writeFrame(conn, { ...hello }, 1000);
  return {
    reader,
    /** Whether the listener answered the hello (admitted) rather than closing (refused). */
    admitted: async (): Promise<boolean> => {
      try {
        return (await reader.read(2000)).type === "hello";
      } catch (e) {
        assert(e instanceof FrameError && e.kind !== "timeout", `no answer and no close: ${e}`);
        return false;
      }
    },
    close: async () => {
      conn.close();
      await reader.settle();
    },
  };
}

async function closeAll(callers: { close: () => Promise<void> }[]): Promise<void> {
  await Promise.all(callers.map((c) => c.close()));
}

Deno.test("peer: the 9th handshake in progress from one address is refused; other addresses get in", async () => {
  const secret = await importSecret("k");
  // timeoutMs 5 s: a caller that said hello holds its slot until then.
  await withServer({ auth: secret, timeoutMs: 5000 }, async (server) => {
    const callers = [];
    try {
      for (let i = 0; i < 8; i++) {
        const caller = await halfDone(server, "127.0.0.2", `n${i}`);
        callers.push(caller);
        assert(await caller.admitted(), `handshake ${i + 1} from 127.0.0.2 was refused`);
      }
      const ninth = await halfDone(server, "127.0.0.2", "n8");
      callers.push(ninth);
      assertEquals(await ninth.admitted(), false, "the 9th handshake from one address got in");
      await server.logs.waitFor(
        "127.0.0.2: refused: 8 handshakes from this address already in progress",
      );
      // The cap is per address: a configured peer elsewhere completes its handshake meanwhile.
      await assertListenerHealthy(server, { auth: secret });
    } finally {
      await closeAll(callers);
    }
  });
});

Deno.test("peer: a reserved address is admitted while strangers hold every shared slot", async () => {
  const secret = await importSecret("k");
  await withServer({
    auth: secret,
    timeoutMs: 5000,
    maxHandshakes: 2,
    // The configured peers: 127.0.0.1 (where dial() comes from).
    reserved: (remote) => remote.hostname === HOST,
  }, async (server) => {
    const callers = [];
    try {
      for (const source of ["127.0.0.2", "127.0.0.3"]) {
        const caller = await halfDone(server, source, "stranger");
        callers.push(caller);
        assert(await caller.admitted(), `${source} was refused with free shared slots`);
      }
      const third = await halfDone(server, "127.0.0.4", "stranger");
      callers.push(third);
      assertEquals(await third.admitted(), false, "a 3rd stranger got a shared slot");
      await server.logs.waitFor("2 handshakes from unreserved addresses already in progress");
      // Both shared slots are still held (5 s): the reserved address has its own.
      await assertListenerHealthy(server, { auth: secret });
      const reservedCaller = await halfDone(server, HOST, "nodeD");
      callers.push(reservedCaller);
      assert(await reservedCaller.admitted(), "a reserved caller was refused");
    } finally {
      await closeAll(callers);
    }
  });
});

/** Milliseconds until the listener closes a connection that sends nothing. */
async function silentFor(server: Server): Promise<number> {
  const raw = await rawConnect(server);
  const started = performance.now();
  try {
    await raw.reader.read(10_000);
    throw new Error("the listener sent a frame to a silent caller");
  } catch (e) {
    assert(e instanceof FrameError && e.kind !== "timeout", `not closed by the listener: ${e}`);
    return performance.now() - started;
  } finally {
    await raw.close();
  }
}

Deno.test("peer: a silent caller is dropped after 1 s with timeout 5 s, and after the timeout when shorter", async () => {
  const servers = [
    new Server({ timeoutMs: 5000 }),
    new Server({ timeoutMs: 5000, helloTimeoutMs: 60_000 }),
    new Server({ timeoutMs: 300 }),
  ];
  try {
    const [five, asked60, short] = await Promise.all(servers.map(silentFor));
    // The cap is 1 s; the upper bounds leave room for a loaded machine.
    assert(five >= 900 && five < 2500, `dropped after ${five} ms with timeout 5 s`);
    assert(asked60 >= 900 && asked60 < 2500, `dropped after ${asked60} ms with 60 s asked`);
    assert(short >= 250 && short < 900, `dropped after ${short} ms with timeout 300 ms`);
    await servers[0].logs.waitFor("no hello within 1000 ms");
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

Deno.test("peer: a refused or unfinished handshake under a connected node's name leaves its connection up", async () => {
  const secret = await importSecret("right");
  // Every name is accepted: as in the daemon, a name check runs on each hello.
  await withServer({ auth: secret, timeoutMs: 1000, acceptNode: () => null }, async (server) => {
    const live = await pair(server, { auth: secret });
    try {
      assertEquals(live.accepted.node, "nodeA");
      // The wrong key, as nodeA: refused after the hello, before any proof of the listener.
      await assertRejects(
        async () => dial(server, { auth: await importSecret("wrong") }),
        "prove the shared key",
      );
      // A hello as nodeA from another address, then silence until the handshake deadline.
      const unfinished = await halfDone(server, "127.0.0.2", "nodeA");
      try {
        assert(await unfinished.admitted());
        await server.logs.waitFor("no proof within");
      } finally {
        await unfinished.close();
      }
      // A hello as nodeA, then the caller leaves.
      const left = await halfDone(server, HOST, "nodeA");
      assert(await left.admitted());
      await left.close();
      await new Promise((r) => setTimeout(r, 100));
      assert(!live.accepted.closed, `closed: ${live.accepted.closeReason}`);
      assertEquals(server.listener.connections, [live.accepted]);
      assertEquals(server.logs.lines.filter((l) => l.includes("superseded")), []);
      await assertWorks(live.client, live.accepted);
    } finally {
      await live.client.close();
    }
  });
});

Deno.test("peer: refusals are one line, then one summary line per interval with the counts", async () => {
  const refuse20 = async (server: Server) => {
    server.allow = false;
    for (let i = 0; i < 20; i++) {
      const raw = await rawConnect(server);
      try {
        await assertClosedByServer(raw.reader);
      } finally {
        await raw.close();
      }
    }
  };
  const refusalLines = (server: Server) => server.logs.lines.filter((l) => l.includes("refus"));
  // The default interval (10 s): 20 refusals write one line, which says what follows.
  await withServer({ refusalSummaryMs: undefined }, async (server) => {
    await refuse20(server);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(refusalLines(server), [
      "warning: peer 127.0.0.1: refused: address not allowed (not a configured node, remote or friend)" +
      " (more refusals are summed up every 10 s)",
    ]);
  });
  // A short interval: the summary line counts the refusals it stands for.
  await withServer({ refusalSummaryMs: 300 }, async (server) => {
    await refuse20(server);
    await new Promise((r) => setTimeout(r, 700));
    const lines = refusalLines(server);
    let counted = 0;
    for (const line of lines) {
      const summary = line.match(/peer listener: (\d+) more refusal\(s\) in 0\.3 s: (\d+) × 127/);
      if (summary) {
        assertEquals(summary[1], summary[2], line);
        counted += Number(summary[1]);
      } else {
        assertStringIncludes(line, "peer 127.0.0.1: refused: address not allowed");
        counted++;
      }
    }
    assertEquals(counted, 20, lines.join("\n"));
    assert(lines.length <= 6, `${lines.length} lines for 20 refusals:\n${lines.join("\n")}`);
    assert(lines.some((l) => l.includes("more refusal(s)")), lines.join("\n"));
  });
});
