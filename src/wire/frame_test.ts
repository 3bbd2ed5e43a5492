import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  type FrameErrorKind,
  FrameReader,
  writeAllWithTimeout,
  writeFrame,
} from "./frame.ts";

function header(length: number, magic = [0x48, 0x4d, 0x46, 1]): Uint8Array {
  const h = new Uint8Array(8);
  h.set(magic);
  new DataView(h.buffer).setUint32(4, length, false);
  return h;
}

function withBody(body: Uint8Array): Uint8Array {
  const f = new Uint8Array(8 + body.length);
  f.set(header(body.length));
  f.set(body, 8);
  return f;
}

/** Run `fn` and return the FrameError kind it throws. */
function errorKind(fn: () => unknown): FrameErrorKind {
  try {
    fn();
  } catch (e) {
    assert(e instanceof FrameError, `expected a FrameError, got ${e}`);
    return e.kind;
  }
  throw new Error("expected a FrameError");
}

Deno.test("frame: encode then decode round trip, byte by byte", () => {
  const bodies = [{ a: 1 }, { text: "héllo ✓", list: [1, 2, 3] }, { nested: { x: null } }];
  const bytes = new Uint8Array(bodies.flatMap((b) => [...encodeFrame(b)]));
  const decoder = new FrameDecoder();
  const out: unknown[] = [];
  for (const byte of bytes) {
    decoder.push(Uint8Array.of(byte));
    for (let f = decoder.next(); f; f = decoder.next()) out.push(f);
  }
  assertEquals(out, bodies);
  assertEquals(decoder.buffered, 0);
});

Deno.test("frame: several frames in one push", () => {
  const decoder = new FrameDecoder();
  const a = encodeFrame({ n: 1 });
  const b = encodeFrame({ n: 2 });
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  decoder.push(both);
  assertEquals(decoder.next(), { n: 1 });
  assertEquals(decoder.next(), { n: 2 });
  assertEquals(decoder.next(), null);
});

Deno.test("frame: header layout is magic, version, big-endian length", () => {
  const f = encodeFrame({ a: 1 });
  const body = new TextEncoder().encode('{"a":1}');
  assertEquals([...f.subarray(0, FRAME_HEADER_BYTES)], [...header(body.length)]);
  assertEquals([...f.subarray(FRAME_HEADER_BYTES)], [...body]);
});

Deno.test("frame: five zero bytes are rejected at the first byte", () => {
  const decoder = new FrameDecoder();
  assertEquals(errorKind(() => decoder.push(new Uint8Array(5))), "bad_magic");
  // The error is sticky: the stream cannot be resynchronised.
  assertEquals(errorKind(() => decoder.next()), "bad_magic");
  assertEquals(errorKind(() => decoder.push(encodeFrame({ a: 1 }))), "bad_magic");
});

Deno.test("frame: every malformed header or body is a typed error", () => {
  const cases: [string, Uint8Array, FrameErrorKind][] = [
    ["text", new TextEncoder().encode("GET / HTTP/1.1\r\n"), "bad_magic"],
    ["wrong version", header(2, [0x48, 0x4d, 0x46, 9]), "bad_version"],
    ["zero length", header(0), "empty"],
    ["length over the cap", header(1024 * 1024 + 1), "too_large"],
    ["4 GiB length", header(0xffffffff), "too_large"],
    ["invalid UTF-8", withBody(Uint8Array.of(0x7b, 0xff, 0x7d)), "bad_body"],
    ["not JSON", withBody(new TextEncoder().encode("{a:1}")), "bad_body"],
    ["JSON array", withBody(new TextEncoder().encode("[1]")), "bad_body"],
    ["JSON null", withBody(new TextEncoder().encode("null")), "bad_body"],
    ["JSON number", withBody(new TextEncoder().encode("42")), "bad_body"],
    ["JSON string", withBody(new TextEncoder().encode('"x"')), "bad_body"],
  ];
  for (const [name, bytes, kind] of cases) {
    const decoder = new FrameDecoder();
    assertEquals(
      errorKind(() => {
        decoder.push(bytes);
        decoder.next();
      }),
      kind,
      name,
    );
  }
});

Deno.test("frame: the size cap is configurable on both sides", () => {
  const decoder = new FrameDecoder({ maxBodyBytes: 10 });
  assertEquals(errorKind(() => decoder.push(header(11))), "too_large");
  assertEquals(
    errorKind(() => encodeFrame({ long: "x".repeat(20) }, { maxBodyBytes: 10 })),
    "too_large",
  );
  const ok = new FrameDecoder({ maxBodyBytes: 10 });
  ok.push(encodeFrame({ a: 12 }, { maxBodyBytes: 10 }));
  assertEquals(ok.next(), { a: 12 });
});

Deno.test("frame: a body that is not an object cannot be encoded", () => {
  let threw = false;
  try {
    encodeFrame([1] as unknown as Record<string, unknown>);
  } catch (e) {
    threw = e instanceof TypeError;
  }
  assert(threw);
});

async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn, () => void]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  return [client, server, () => listener.close()];
}

Deno.test("frame reader: frames over TCP, then end of stream", async () => {
  const [client, server, closeListener] = await tcpPair();
  try {
    await writeFrame(client, { n: 1 }, 1000);
    await writeFrame(client, { n: 2 }, 1000);
    client.close();
    const reader = new FrameReader(server);
    assertEquals(await reader.read(1000), { n: 1 });
    assertEquals(await reader.read(1000), { n: 2 });
    const e = await assertRejects(() => reader.read(1000));
    assertEquals((e as FrameError).kind, "closed");
  } finally {
    server.close();
    closeListener();
  }
});

Deno.test("frame reader: a truncated frame then silence times out; then EOF is truncated", async () => {
  const [client, server, closeListener] = await tcpPair();
  const reader = new FrameReader(server);
  try {
    await writeAllWithTimeout(client, encodeFrame({ n: 1 }).subarray(0, 11), 1000);
    const t0 = performance.now();
    const e = await assertRejects(() => reader.read(100), "partial frame");
    assertEquals((e as FrameError).kind, "timeout");
    assert(performance.now() - t0 < 1000, "timeout fired late");
    client.close(); // the read left in flight by the timeout sees the end of stream
    const e2 = await assertRejects(() => reader.read(1000));
    assertEquals((e2 as FrameError).kind, "truncated");
  } finally {
    server.close();
    await reader.settle();
    closeListener();
  }
});

Deno.test("frame reader: a local close during a read reads as closed", async () => {
  const [client, server, closeListener] = await tcpPair();
  const reader = new FrameReader(server);
  try {
    const pending = reader.read(5000).then(() => "frame", (e) => (e as FrameError).kind);
    await new Promise((r) => setTimeout(r, 10));
    server.close();
    assertEquals(await pending, "closed");
  } finally {
    client.close();
    closeListener();
  }
});

Deno.test("frame writer: a peer that never reads makes the write time out", async () => {
  const [client, server, closeListener] = await tcpPair();
  try {
    const big = new Uint8Array(64 * 1024 * 1024); // far more than the socket buffers hold
    const e = await assertRejects(() => writeAllWithTimeout(client, big, 100));
    assertEquals((e as FrameError).kind, "timeout");
  } finally {
    client.close(); // ends the write still in flight
    server.close();
    closeListener();
  }
});

Deno.test("frame reader: small reads for small frames, growing to 64 KiB for a large one", async () => {
  // A connection that hands out `bytes` as fast as asked, recording each read buffer's size.
  const stream = (bytes: Uint8Array) => {
    let at = 0;
    const sizes: number[] = [];
    return {
      sizes,
      read(p: Uint8Array): Promise<number | null> {
        sizes.push(p.length);
        if (at === bytes.length) return Promise.resolve(null);
        const n = Math.min(p.length, bytes.length - at);
        p.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
  };
  // A control request: one small frame, read with a 4 KiB buffer (not 64 KiB).
  const small = stream(encodeFrame({ type: "status" }));
  assertEquals(await new FrameReader(small).read(1000), { type: "status" });
  assertEquals(small.sizes, [4096]);
  // A 300 KB frame: each read that fills the buffer doubles it, up to 64 KiB, and the body is whole.
  const text = "x".repeat(300_000);
  const large = stream(encodeFrame({ text }));
  const reader = new FrameReader(large, { maxBodyBytes: 1 << 20 });
  assertEquals(await reader.read(1000), { text });
  assertEquals(large.sizes.slice(0, 6), [4096, 8192, 16384, 32768, 65536, 65536]);
  assertEquals(Math.max(...large.sizes), 65536);
});
