import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import type { LogLevel } from "../core/types.ts";
import { encodeFrame, FrameError, FrameReader, writeAllWithTimeout } from "../wire/frame.ts";
import { ControlClient, ControlClientError } from "./client.ts";
import type { DaemonEvent, EventsResult, RoleResult, StatusResult } from "./protocol.ts";
import { ControlServer, type ControlServerOptions, SocketFileError } from "./server.ts";
import { FakeDaemon, makeStaleSocket, tempSocketDir } from "./test_helpers.ts";
import { waitFor } from "../daemon/test_helpers.ts";

/** Log lines of one server, for asserting on what it said. */
class Log {
  lines: string[] = [];
  log = (level: LogLevel, message: string) => this.lines.push(`${level}: ${message}`);
}

interface World {
  path: string;
  dir: string;
  daemon: FakeDaemon;
  server: ControlServer;
  log: Log;
}

/** Run `fn` against a fresh server on a socket in a temp dir; everything is closed after. */
async function withServer(
  fn: (w: World) => Promise<void>,
  options: ControlServerOptions = {},
): Promise<void> {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  const log = new Log();
  const server = await ControlServer.listen(tmp.path, daemon, log.log, options);
  try {
    await fn({ path: tmp.path, dir: tmp.dir, daemon, server, log });
  } finally {
    await server.close();
    await tmp.remove();
  }
}

/** Connect, run `fn`, close. */
async function withClient<T>(path: string, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(path, { timeoutMs: 2000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A good client's status round trip: proves the server still serves. */
async function assertServes(path: string): Promise<void> {
  const response = await withClient(path, (c) => c.request({ type: "status" }));
  assert(response.ok, `status failed: ${JSON.stringify(response)}`);
  assertEquals((response.result as StatusResult).resources.map((r) => r.resource), ["web", "db"]);
}

/** A raw connection for sending what no client would. */
async function raw(path: string): Promise<{ conn: Deno.UnixConn; reader: FrameReader }> {
  const conn = await Deno.connect({ transport: "unix", path });
  return { conn, reader: new FrameReader(conn) };
}

async function closeRaw(r: { conn: Deno.UnixConn; reader: FrameReader }): Promise<void> {
  try {
    r.conn.close();
  } catch {
    // Closed already.
  }
  await r.reader.settle();
}

/** The kind of FrameError the next read gets: "closed" when the server hung up. */
async function nextReadError(reader: FrameReader, ms = 2000): Promise<string> {
  try {
    const frame = await reader.read(ms);
    return `frame ${JSON.stringify(frame)}`;
  } catch (e) {
    assert(e instanceof FrameError, `expected a FrameError, got ${e}`);
    return e.kind;
  }
}

/** Send `bytes` (ignoring a reset: the server may hang up while we write). */
async function sendBytes(conn: Deno.UnixConn, bytes: Uint8Array): Promise<void> {
  try {
    await writeAllWithTimeout(conn, bytes, 2000);
  } catch (e) {
    assert(e instanceof FrameError && e.kind === "io", `unexpected write error ${e}`);
  }
}

Deno.test("control server: the socket is 0600 from the start, and close removes it", async () => {
  const tmp = await tempSocketDir();
  const oldUmask = Deno.umask();
  try {
    const server = await ControlServer.listen(tmp.path, new FakeDaemon(), () => {});
    const info = await Deno.lstat(tmp.path);
    assert(info.isSocket, "not a socket");
    assertEquals((info.mode! & 0o777).toString(8), "600");
    assertEquals(Deno.umask(), oldUmask, "the umask was not restored");
    await server.close();
    await assertRejects(() => Deno.lstat(tmp.path), "No such file");
  } finally {
    await tmp.remove();
  }
});

Deno.test("control server: status, role and events round trips carry the request id", async () => {
  await withServer(async ({ path, daemon }) => {
    daemon.emit("daemon started");
    daemon.emit("web became primary", "web");
    await withClient(path, async (c) => {
      const status = await c.request({ type: "status", resources: ["db"] });
      assertEquals([status.v, status.id, status.ok], [1, 1, true]);
      assert(status.ok);
      assertEquals((status.result as StatusResult).resources.map((r) => r.resource), ["db"]);

      const role = await c.request({ type: "role", role: "secondary", resources: "all" });
      assertEquals([role.id, role.ok], [2, true]);
      assert(role.ok);
      assertEquals((role.result as RoleResult).changed, [
        { resource: "web", from: "primary", to: "secondary" },
        { resource: "db", from: "secondary", to: "secondary" },
      ]);

      const events = await c.request({ type: "events", limit: 1 });
      assertEquals(events.id, 3);
      assert(events.ok);
      assertEquals((events.result as EventsResult).events.map((e) => e.message), [
        "web became primary",
      ]);
    });
  });
});

Deno.test("control server: unknown resources get unknown_resource with the known ones' answer", async () => {
  await withServer(async ({ path }) => {
    await withClient(path, async (c) => {
      const status = await c.request({ type: "status", resources: ["web", "nope", "gone"] });
      assert(!status.ok);
      assertEquals(status.error.code, "unknown_resource");
      assertEquals(status.error.unknown, ["nope", "gone"]);
      assertEquals(status.error.message, "unknown resources: nope, gone");
      assertEquals((status.result as StatusResult).resources.map((r) => r.resource), ["web"]);

      const role = await c.request({ type: "role", role: "init", resources: ["nope"] });
      assert(!role.ok);
      assertEquals(role.error.unknown, ["nope"]);
      assertEquals(role.result, { changed: [] });
    });
  });
});

Deno.test("control server: many clients at once each get their own answers", async () => {
  await withServer(async ({ path, server }) => {
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => ControlClient.connect(path, { timeoutMs: 2000 })),
    );
    try {
      await waitFor(() => server.connectionCount === 20, 2000, "20 connections");
      const answers = await Promise.all(clients.map(async (c, i) => {
        const names = i % 2 === 0 ? ["web"] : ["db"];
        const got: string[] = [];
        for (let k = 0; k < 5; k++) {
          const r = await c.request({ type: "status", resources: names });
          assert(r.ok && r.id === k + 1, `client ${i} request ${k}: ${JSON.stringify(r)}`);
          got.push((r.result as StatusResult).resources[0].resource);
        }
        return got;
      }));
      answers.forEach((got, i) => assertEquals(got, Array(5).fill(i % 2 === 0 ? "web" : "db")));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    await waitFor(() => server.connectionCount === 0, 2000, "all connections gone");
  });
});

Deno.test("control server: a follower gets the recent events, then every new one in order", async () => {
  await withServer(async ({ path, daemon, server }) => {
    daemon.emit("one");
    daemon.emit("two");
    const client = await ControlClient.connect(path, { timeoutMs: 2000 });
    const got: DaemonEvent[] = [];
    const following = client.follow((e) => got.push(e));
    await waitFor(() => got.length === 2 && daemon.subscribers.size === 1, 2000, "subscribed");
    for (let i = 3; i <= 200; i++) daemon.emit(`event ${i}`);
    await waitFor(() => got.length === 200, 2000, "200 events");
    assertEquals(got.map((e) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    assertEquals(got[0].message, "one");

    // The follower is exempt from the idle timeout; requests on it are refused.
    await assertRejects(() => client.request({ type: "status" }), "following events");
    await client.close();
    await following;
    await waitFor(
      () => daemon.subscribers.size === 0 && server.connectionCount === 0,
      2000,
      "unsubscribed and closed",
    );
  });
});

Deno.test("control server: an event racing the subscription is delivered exactly once", async () => {
  /** A daemon whose event arrives after the subscription but before the snapshot. */
  class RacingDaemon extends FakeDaemon {
    override recentEvents(limit?: number): DaemonEvent[] {
      if (this.events.length === 0) this.emit("raced");
      return super.recentEvents(limit);
    }
  }
  const tmp = await tempSocketDir();
  const daemon = new RacingDaemon();
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  const client = await ControlClient.connect(tmp.path, { timeoutMs: 2000 });
  try {
    const got: string[] = [];
    const following = client.follow((e) => got.push(e.message));
    await waitFor(() => got.length >= 1 && daemon.subscribers.size === 1, 2000, "subscribed");
    daemon.emit("next");
    await waitFor(() => got.length >= 2, 2000, "second event");
    assertEquals(got, ["raced", "next"]);
    await client.close();
    await following;
  } finally {
    await client.close();
    await server.close();
    await tmp.remove();
  }
});

Deno.test("control server: followers survive the idle timeout that closes silent clients", async () => {
  await withServer(async ({ path, daemon }) => {
    const silent = await raw(path);
    const client = await ControlClient.connect(path, { timeoutMs: 2000 });
    const got: string[] = [];
    const following = client.follow((e) => got.push(e.message));
    await waitFor(() => daemon.subscribers.size === 1, 2000, "subscribed");
    assertEquals(await nextReadError(silent.reader), "closed");
    daemon.emit("still here");
    await waitFor(() => got.length === 1, 2000, "event after the idle timeout");
    await client.close();
    await following;
    await closeRaw(silent);
  }, { idleTimeoutMs: 100 });
});

Deno.test("control server: closing the server ends a follow stream with a clear error", async () => {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  const client = await ControlClient.connect(tmp.path, { timeoutMs: 2000 });
  try {
    const following = client.follow(() => {});
    await waitFor(() => daemon.subscribers.size === 1, 2000, "subscribed");
    await server.close();
    const err = await assertRejects(() => following, "closed the event stream");
    assert(err instanceof ControlClientError && err.kind === "closed");
    assertEquals(daemon.subscribers.size, 0);
  } finally {
    await client.close();
    await server.close();
    await tmp.remove();
  }
});

Deno.test("control server: unreadable input closes that connection only", async () => {
  // A fixed pseudo-random sequence, so that a failure can be reproduced.
  let seed = 12345;
  const random = (n: number) =>
    Uint8Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed >> 16 & 0xff;
    });
  const hugeLength = Uint8Array.of(0x48, 0x4d, 0x46, 1, 0xff, 0xff, 0xff, 0xff);
  const overCap = Uint8Array.of(0x48, 0x4d, 0x46, 1, 0x00, 0x20, 0x00, 0x00); // 2 MiB > 1 MiB
  const cases: [string, Uint8Array][] = [
    ["random bytes", random(64)],
    ["more random bytes", Uint8Array.of(0x00, ...random(4096))],
    ["five zero bytes", new Uint8Array(5)],
    ["an HTTP request", new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")],
    ["a huge length prefix", hugeLength],
    ["a length over the cap", overCap],
    ["an empty body", Uint8Array.of(0x48, 0x4d, 0x46, 1, 0, 0, 0, 0)],
    ["a wrong frame version", Uint8Array.of(0x48, 0x4d, 0x46, 9, 0, 0, 0, 2, 0x7b, 0x7d)],
  ];
  await withServer(async ({ path }) => {
    for (const [what, bytes] of cases) {
      const r = await raw(path);
      await sendBytes(r.conn, bytes);
      // The server hangs up at the first bad header. Bytes it had not read yet (past its
      // first 4 KiB read) make the kernel reset the connection rather than close it.
      const end = await nextReadError(r.reader);
      if (bytes.length <= 4096) assertEquals(end, "closed", what);
      else assert(end === "closed" || end === "io", `${what}: ${end}`);
      await closeRaw(r);
      await assertServes(path);
    }
  });
});

Deno.test("control server: a frame whose body is not a JSON object gets bad_request, then close", async () => {
  const frame = (body: string) => {
    const json = new TextEncoder().encode(body);
    const f = new Uint8Array(8 + json.length);
    f.set([0x48, 0x4d, 0x46, 1]);
    new DataView(f.buffer).setUint32(4, json.length);
    f.set(json, 8);
    return f;
  };
  await withServer(async ({ path }) => {
    for (const body of ["not json at all", "[1, 2, 3]", '"a string"', "null", "{"]) {
      const r = await raw(path);
      await sendBytes(r.conn, frame(body));
      const answer = await r.reader.read(2000);
      assertEquals([answer.id, answer.ok, (answer.error as { code: string }).code], [
        0,
        false,
        "bad_request",
      ], body);
      assertEquals(await nextReadError(r.reader), "closed", body);
      await closeRaw(r);
    }
    await assertServes(path);
  });
});

Deno.test("control server: malformed requests get bad_request and the connection goes on", async () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ v: 2, id: 1, type: "status" }, "bad_request", "version 2"],
    [{ id: 1, type: "status" }, "bad_request", "version undefined"],
    [{ v: 1, id: "x", type: "status" }, "bad_request", "`id`"],
    [{ v: 1, id: -1, type: "status" }, "bad_request", "`id`"],
    [{ v: 1, id: 1.5, type: "status" }, "bad_request", "`id`"],
    [{ v: 1, id: 1 }, "bad_request", "`type`"],
    [{ v: 1, id: 1, type: 7 }, "bad_request", "`type`"],
    [{ v: 1, id: 1, type: "reboot" }, "unsupported", 'unknown request type "reboot"'],
    [{ v: 1, id: 1, type: "status", resources: "web" }, "bad_request", "`resources`"],
    [{ v: 1, id: 1, type: "status", resources: [] }, "bad_request", "must not be empty"],
    [{ v: 1, id: 1, type: "status", resources: [1] }, "bad_request", "`resources`"],
    [{ v: 1, id: 1, type: "status", resources: [""] }, "bad_request", "`resources`"],
    [{ v: 1, id: 1, type: "role", role: "boss", resources: "all" }, "bad_request", "`role`"],
    [{ v: 1, id: 1, type: "role", role: "primary" }, "bad_request", "`resources`"],
    [
      { v: 1, id: 1, type: "role", role: "primary", resources: "some" },
      "bad_request",
      "`resources`",
    ],
    [
      { v: 1, id: 1, type: "role", role: "primary", resources: "all", force: "yes" },
      "bad_request",
      "`force`",
    ],
    [{ v: 1, id: 1, type: "events", follow: 1 }, "bad_request", "`follow`"],
    [{ v: 1, id: 1, type: "events", limit: -3 }, "bad_request", "`limit`"],
    [{ v: 1, id: 1, type: "events", limit: "10" }, "bad_request", "`limit`"],
  ];
  await withServer(async ({ path, daemon }) => {
    const r = await raw(path);
    try {
      for (const [body, code, includes] of cases) {
        await writeAllWithTimeout(r.conn, encodeFrame(body), 2000);
        const answer = await r.reader.read(2000);
        const error = answer.error as { code: string; message: string };
        assertEquals([answer.v, answer.ok, error.code], [1, false, code], JSON.stringify(body));
        assertEquals(
          answer.id,
          Number.isSafeInteger(body.id) && body.id as number >= 0 ? body.id : 0,
        );
        assertStringIncludes(error.message, includes, JSON.stringify(body));
      }
      // The same connection still answers a good request; nothing reached the daemon.
      await writeAllWithTimeout(r.conn, encodeFrame({ v: 1, id: 99, type: "status" }), 2000);
      const good = await r.reader.read(2000);
      assertEquals([good.id, good.ok], [99, true]);
      assertEquals(daemon.statuses.get("web")!.role, "primary");
    } finally {
      await closeRaw(r);
    }
    await assertServes(path);
  });
});

Deno.test("control server: a failing daemon gets `internal`, and the server goes on", async () => {
  await withServer(async ({ path, daemon, log }) => {
    daemon.failWith = new Error("state store on fire");
    await withClient(path, async (c) => {
      for (const req of [{ type: "status" as const }, { type: "events" as const }]) {
        const r = await c.request(req);
        assert(!r.ok);
        assertEquals(r.error, {
          code: "internal",
          message: "the daemon failed: state store on fire",
        });
      }
      const err = await assertRejects(() => c.follow(() => {}), "state store on fire");
      assert(err instanceof ControlClientError && err.kind === "daemon_error");
      assertEquals(err.code, "internal");
    });
    assert(log.lines.some((l) => l.startsWith("error: control request status failed")));
    daemon.failWith = null;
    await assertServes(path);
  });
});

Deno.test("control server: idle clients are closed; the server keeps serving", async () => {
  await withServer(async ({ path, log }) => {
    const idle = await raw(path);
    const half = await raw(path);
    // Half a header, then silence: a trickle cannot hold a connection either.
    await sendBytes(half.conn, Uint8Array.of(0x48, 0x4d));
    assertEquals(await nextReadError(idle.reader), "closed");
    assertEquals(await nextReadError(half.reader), "closed");
    await closeRaw(idle);
    await closeRaw(half);
    await assertServes(path);
    assert(log.lines.some((l) => l.includes("idle")), log.lines.join("\n"));
  }, { idleTimeoutMs: 100 });
});

Deno.test("control server: at the limit, the connection idle longest makes room for a new one", async () => {
  // Clients that connect and say nothing (64 of them, for the daemon's 30 s idle timeout) locked
  // every `hastmon ctl` out with "Broken pipe".
  await withServer(async ({ path, server, log }) => {
    const a = await raw(path);
    const b = await raw(path);
    await waitFor(() => server.connectionCount === 2, 2000, "two connections");
    // b is half-way through a request: still waiting for one, and idle for less long than a.
    await sendBytes(b.conn, encodeFrame({ v: 1, id: 1, type: "status" }).subarray(0, 5));
    await assertServes(path);
    assertEquals(await nextReadError(a.reader), "closed");
    await assertServes(path);
    assertEquals(await nextReadError(b.reader), "closed");
    assert(log.lines.some((l) => l.includes("idle longest")), log.lines.join("\n"));
    await closeRaw(a);
    await closeRaw(b);
  }, { maxConnections: 2 });
});

Deno.test("control server: at the limit, a client that never reads its answers makes room too", async () => {
  await withServer(async ({ path }) => {
    const a = await raw(path);
    // Far more answers than the socket holds: the server waits to write them, for its write timeout.
    const request = encodeFrame({ v: 1, id: 1, type: "status" });
    const burst = new Uint8Array(request.length * 5000);
    for (let i = 0; i < 5000; i++) burst.set(request, i * request.length);
    const writing = sendBytes(a.conn, burst);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assertServes(path);
    await closeRaw(a);
    await writing;
  }, { maxConnections: 1 });
});

Deno.test("control server: connections beyond the limit are closed at once when none is idle", async () => {
  await withServer(async ({ path, server }) => {
    // Followers are never idle: they wait for events, not for requests.
    const follow = encodeFrame({ v: 1, id: 1, type: "events", follow: true });
    const a = await raw(path);
    const b = await raw(path);
    await sendBytes(a.conn, follow);
    await sendBytes(b.conn, follow);
    await a.reader.read(2000);
    await b.reader.read(2000);
    await waitFor(() => server.connectionCount === 2, 2000, "two connections");
    const c = await raw(path);
    assertEquals(await nextReadError(c.reader), "closed");
    await closeRaw(a);
    await waitFor(() => server.connectionCount === 1, 2000, "one left");
    await assertServes(path);
    await closeRaw(b);
    await closeRaw(c);
  }, { maxConnections: 2 });
});

Deno.test("control server: a stale socket file is replaced", async () => {
  const tmp = await tempSocketDir();
  try {
    makeStaleSocket(tmp.path);
    assert((await Deno.lstat(tmp.path)).isSocket);
    const server = await ControlServer.listen(tmp.path, new FakeDaemon(), () => {});
    try {
      assertEquals(((await Deno.lstat(tmp.path)).mode! & 0o777).toString(8), "600");
      await assertServes(tmp.path);
    } finally {
      await server.close();
    }
  } finally {
    await tmp.remove();
  }
});

Deno.test("control server: a live daemon's socket is never taken over", async () => {
  await withServer(async ({ path }) => {
    const err = await assertRejects(
      () => ControlServer.listen(path, new FakeDaemon(), () => {}),
      `control socket ${path} is in use: a daemon is already listening on it`,
    );
    assert(err instanceof SocketFileError && err.kind === "in_use");
    await assertServes(path);
  });
});

Deno.test("control server: a path that is not a socket is left alone", async () => {
  const tmp = await tempSocketDir();
  try {
    await Deno.writeTextFile(tmp.path, "precious");
    const err = await assertRejects(
      () => ControlServer.listen(tmp.path, new FakeDaemon(), () => {}),
      "exists and is not a socket",
    );
    assert(err instanceof SocketFileError && err.kind === "not_socket");
    assertEquals(await Deno.readTextFile(tmp.path), "precious");

    const missing = `${tmp.dir}/no/such/dir/control.sock`;
    const io = await assertRejects(
      () => ControlServer.listen(missing, new FakeDaemon(), () => {}),
      `cannot create control socket ${missing}: no such directory`,
    );
    assert(io instanceof SocketFileError && io.kind === "io");
  } finally {
    await tmp.remove();
  }
});

Deno.test("control server: a long scha request waits on its connection while others are served", async () => {
  await withServer(async ({ path, daemon }) => {
    let release = () => {};
    daemon.schaGate = new Promise<void>((resolve) => release = resolve);
    const slow = await ControlClient.connect(path, { timeoutMs: 2000 });
    try {
      const pending = slow.request({ type: "scha", group: "web", optag: "RESTART", member: "web" });
      // While the restart is under way, another client is answered at once.
      await assertServes(path);
      assertEquals(daemon.schaCalls.length, 1);
      release();
      const response = await pending;
      assert(response.ok);
      assertEquals((response.result as { code: number }).code, 0);
    } finally {
      await slow.close();
    }
  });
});

Deno.test("control server: a malformed scha or setstatus request is a bad_request, nothing runs", async () => {
  await withServer(async ({ path, daemon }) => {
    await withClient(path, async (c) => {
      for (
        const bad of [
          { type: "scha", group: "", optag: "RESTART" },
          { type: "scha", group: "web" },
          { type: "scha", group: "web", optag: "RESTART", member: 3 },
          { type: "setstatus", group: "web", member: "web" },
          {
            type: "setstatus",
            group: "web",
            member: "web",
            status: "OK",
            message: "x".repeat(2000),
          },
        ]
      ) {
        // deno-lint-ignore no-explicit-any
        const response = await c.request(bad as any);
        assert(!response.ok, JSON.stringify(bad));
        assertEquals(response.error.code, "bad_request");
      }
    });
    assertEquals(daemon.schaCalls, []);
    await assertServes(path);
  });
});

Deno.test("control server: close does not wait for a scha answer that never comes", async () => {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  daemon.schaGate = new Promise<void>(() => {}); // never
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  try {
    const client = await ControlClient.connect(tmp.path, { timeoutMs: 2000 });
    const pending = client.request({ type: "scha", group: "web", optag: "RESTART", member: "web" })
      .catch((e) => e);
    while (daemon.schaCalls.length === 0) await new Promise((r) => setTimeout(r, 10));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      server.close().then(() => "closed"),
      new Promise((r) => timer = setTimeout(() => r("still waiting"), 1000)),
    ]);
    clearTimeout(timer); // the sanitizer counts a timer left running
    assertEquals(closed, "closed");
    await pending;
    await client.close();
  } finally {
    await server.close();
    await tmp.remove();
  }
});
