import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { FrameReader, writeFrame } from "../wire/frame.ts";
import { ControlClient, ControlClientError } from "./client.ts";
import { makeStaleSocket, tempSocketDir } from "./test_helpers.ts";

/** The error `fn` rejects with, checked to be a ControlClientError of `kind`. */
async function clientError(fn: () => Promise<unknown>, kind: string): Promise<ControlClientError> {
  const err = await assertRejects(fn);
  assert(err instanceof ControlClientError, `expected a ControlClientError, got ${err}`);
  assertEquals(err.kind, kind, err.message);
  return err;
}

/**
 * A stand-in daemon on a raw listener: accepts one connection and lets
 * `serve` do anything with it (answer wrongly, never answer).
 */
async function withRawDaemon(
  serve: (conn: Deno.UnixConn, reader: FrameReader) => Promise<void>,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const tmp = await tempSocketDir();
  const listener = Deno.listen({ transport: "unix", path: tmp.path });
  const served = (async () => {
    const conn = await listener.accept();
    const reader = new FrameReader(conn);
    try {
      await serve(conn, reader);
    } finally {
      conn.close();
      await reader.settle();
    }
  })();
  try {
    await fn(tmp.path);
  } finally {
    listener.close();
    await served;
    await tmp.remove();
  }
}

Deno.test("control client: no socket file → no_daemon, naming the path", async () => {
  const tmp = await tempSocketDir();
  try {
    const err = await clientError(() => ControlClient.connect(tmp.path), "no_daemon");
    assertEquals(
      err.message,
      `no daemon is listening on ${tmp.path} (no such socket); is \`hastmon daemon\` running?`,
    );
    assertEquals(err.path, tmp.path);
  } finally {
    await tmp.remove();
  }
});

Deno.test("control client: a stale socket (connection refused) → no_daemon, naming the path", async () => {
  const tmp = await tempSocketDir();
  try {
    makeStaleSocket(tmp.path);
    const err = await clientError(() => ControlClient.connect(tmp.path), "no_daemon");
    assertEquals(
      err.message,
      `no daemon is listening on ${tmp.path} (connection refused); is \`hastmon daemon\` running?`,
    );
  } finally {
    await tmp.remove();
  }
});

Deno.test("control client: a daemon that never answers → timeout, and the client is closed", async () => {
  await withRawDaemon(
    async (_conn, reader) => {
      await reader.read(2000); // take the request, answer nothing
      await reader.read(2000).catch(() => {}); // until the client hangs up
    },
    async (path) => {
      const client = await ControlClient.connect(path, { timeoutMs: 100 });
      const err = await clientError(() => client.request({ type: "status" }), "timeout");
      assertEquals(err.message, `the daemon on ${path} did not answer within 100 ms`);
      await clientError(() => client.request({ type: "status" }), "protocol");
      await client.close();
    },
  );
});

Deno.test("control client: an answer with the wrong id or shape → protocol error", async () => {
  for (const answer of [{ v: 1, id: 42, ok: true, result: {} }, { v: 1, id: 1 }, { hello: 1 }]) {
    await withRawDaemon(
      async (conn, reader) => {
        await reader.read(2000);
        await writeFrame(conn, answer, 2000);
        await reader.read(2000).catch(() => {});
      },
      async (path) => {
        const client = await ControlClient.connect(path, { timeoutMs: 2000 });
        try {
          const err = await clientError(() => client.request({ type: "status" }), "protocol");
          assert(err.message.startsWith(`unexpected answer from ${path}`), err.message);
        } finally {
          await client.close();
        }
      },
    );
  }
});

Deno.test("control client: a daemon that hangs up mid-request → protocol error", async () => {
  await withRawDaemon(
    async (_conn, reader) => {
      await reader.read(2000);
    },
    async (path) => {
      const client = await ControlClient.connect(path, { timeoutMs: 2000 });
      try {
        const err = await clientError(() => client.request({ type: "status" }), "protocol");
        assertEquals(err.message, `control socket ${path}: the daemon closed the connection`);
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("control client: requests are numbered and sent one at a time", async () => {
  const seen: unknown[] = [];
  await withRawDaemon(
    async (conn, reader) => {
      for (let i = 0; i < 3; i++) {
        const req = await reader.read(2000);
        seen.push(req);
        await writeFrame(conn, { v: 1, id: req.id as number, ok: true, result: i }, 2000);
      }
    },
    async (path) => {
      const client = await ControlClient.connect(path, { timeoutMs: 2000 });
      try {
        // Issued together; each still gets its own answer.
        const answers = await Promise.all([
          client.request({ type: "status" }),
          client.request({ type: "role", role: "init", resources: "all" }),
          client.request({ type: "events", limit: 5 }),
        ]);
        assertEquals(answers.map((a) => [a.id, a.ok && a.result]), [[1, 0], [2, 1], [3, 2]]);
      } finally {
        await client.close();
      }
    },
  );
  assertEquals(seen, [
    { type: "status", v: 1, id: 1 },
    { type: "role", role: "init", resources: "all", v: 1, id: 2 },
    { type: "events", limit: 5, v: 1, id: 3 },
  ]);
});

Deno.test("control client: a follow answer without an event list → protocol error", async () => {
  await withRawDaemon(
    async (conn, reader) => {
      const req = await reader.read(2000);
      assertEquals([req.type, req.follow], ["events", true]);
      await writeFrame(
        conn,
        { v: 1, id: req.id as number, ok: true, result: { events: "x" } },
        2000,
      );
      await reader.read(2000).catch(() => {});
    },
    async (path) => {
      const client = await ControlClient.connect(path, { timeoutMs: 2000 });
      try {
        const err = await clientError(() => client.follow(() => {}), "protocol");
        assertEquals(err.message, `unexpected answer to the event request on ${path}`);
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("control client: a request with timeoutMs null waits past the connection's bound; a number replaces it", async () => {
  await withRawDaemon(
    async (conn, reader) => {
      // A scha request: answered when the group is back, long after the connection's 100 ms.
      const slow = await reader.read(2000);
      await new Promise((r) => setTimeout(r, 400));
      await writeFrame(conn, { v: 1, id: slow.id as number, ok: true, result: { code: 0 } }, 2000);
      // A request with a bound of its own, shorter than the answer takes.
      await reader.read(2000);
      await reader.read(2000).catch(() => {});
    },
    async (path) => {
      const client = await ControlClient.connect(path, { timeoutMs: 100 });
      try {
        const started = performance.now();
        const answer = await client.request(
          { type: "scha", group: "web", optag: "RESTART" },
          { timeoutMs: null },
        );
        assert(performance.now() - started >= 350, "answered before the daemon did");
        assertEquals([answer.ok, answer.ok && answer.result], [true, { code: 0 }]);
        const err = await clientError(
          () => client.request({ type: "status" }, { timeoutMs: 50 }),
          "timeout",
        );
        assertEquals(err.message, `the daemon on ${path} did not answer within 50 ms`);
      } finally {
        await client.close();
      }
    },
  );
});
