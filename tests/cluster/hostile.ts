/**
 * Hostile clients for end-to-end tests: a forger that speaks the peer
 * protocol under a chosen name from a chosen loopback address, a flood of
 * idle connections, and a probe that times a configured peer's hello.
 * Everything here is bounded in count and time and talks to loopback only.
 */
import net from "node:net";
import type { Message } from "../../src/core/types.ts";
import type { PeerAuth } from "../../src/wire/auth.ts";
import { batchBody, PROTOCOL_VERSION } from "../../src/wire/codec.ts";
import { FrameReader, writeFrame } from "../../src/wire/frame.ts";
import { connectorHandshake } from "../../src/wire/handshake.ts";
import { newNonce } from "../../src/wire/auth.ts";
import { connectFrom } from "../../src/demo/relay.ts";

/** Connect from a chosen loopback address (for unit tests of the listener's admission too). */
export { connectFrom };

/** An authenticated peer session opened by a test, speaking as `self`. */
export interface Forger {
  /** Seal and send messages as one batch. */
  send(messages: Message[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connect from `source` to `host:port` and complete the handshake as `self`
 * with `auth`. Rejects when the listener refuses.
 */
export async function forge(options: {
  source: string;
  host: string;
  port: number;
  self: string;
  auth: PeerAuth | null;
  expectNode: string;
  timeoutMs?: number;
}): Promise<Forger> {
  const conn = await connectFrom(options.source, options.host, options.port);
  const reader = new FrameReader(conn);
  try {
    const session = await connectorHandshake(conn, reader, {
      self: options.self,
      auth: options.auth,
      timeoutMs: options.timeoutMs ?? 3000,
      expectNode: options.expectNode,
    });
    // Drain what the victim sends, so that its writes never block on us.
    const drain = (async () => {
      try {
        for (;;) await reader.read(60_000);
      } catch { /* closed */ }
    })();
    return {
      async send(messages) {
        let body = batchBody(messages);
        if (session.sealer) body = { ...await session.sealer.seal(body) };
        await writeFrame(conn, body, 3000);
      },
      async close() {
        conn.close();
        await drain;
        await reader.settle();
      },
    };
  } catch (e) {
    conn.close();
    await reader.settle();
    throw e;
  }
}

/**
 * Time from connect to the listener's hello, for a hello sent as `self` from
 * `source` (then the connection is dropped: nothing is proved, nothing replaced).
 * Returns the milliseconds, or the reason it failed.
 */
export async function probeHello(options: {
  source: string;
  host: string;
  port: number;
  self: string;
  auth: "hmac-sha256" | "ed25519" | "none";
  timeoutMs: number;
}): Promise<{ ms: number } | { failed: string }> {
  const t0 = performance.now();
  let conn;
  try {
    conn = await connectFrom(options.source, options.host, options.port);
  } catch (e) {
    return { failed: `connect: ${(e as Error).message}` };
  }
  const reader = new FrameReader(conn);
  try {
    const hello: Record<string, unknown> = {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      node: options.self,
      nonce: newNonce(),
      auth: options.auth,
    };
    if (options.auth === "ed25519") hello.kx = "00".repeat(32);
    await writeFrame(conn, hello, options.timeoutMs);
    const reply = await reader.read(options.timeoutMs);
    if (reply.type !== "hello") return { failed: `answered ${JSON.stringify(reply)}` };
    return { ms: performance.now() - t0 };
  } catch (e) {
    return { failed: (e as Error).message };
  } finally {
    conn.close();
    await reader.settle();
  }
}

/** What a flood does: hold `count` connections from `source` to each target. */
export interface FloodOptions {
  source: string;
  targets: { host: string; port: number }[];
  count: number;
  /** Wait after a connection was closed before opening it again. */
  reopenMs: number;
}

/**
 * Hold `count` idle connections from `source` to each target until `signal`
 * aborts: each one that the target closes is opened again after `reopenMs`.
 * Resolves with the number of connects made, once every socket is closed.
 *
 * The flood runs in a process of its own (flood_process.ts), as a stranger
 * would: its thousands of connects a second then never starve the test's own
 * event loop, which carries the relay, the cluster's network.
 */
export async function flood(options: FloodOptions & { signal: AbortSignal }): Promise<number> {
  const { signal, ...spec } = options;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./flood_process.ts", import.meta.url).pathname,
      JSON.stringify(spec),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const stop = () => child.stdin.close().catch(() => {});
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  const [out, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  signal.removeEventListener("abort", stop);
  const connects = Number(out.trim());
  if (!status.success || !Number.isSafeInteger(connects)) {
    throw new Error(`flood process failed (${status.code}): ${out}`);
  }
  return connects;
}

/** {@link flood} in this process; flood_process.ts runs it. */
export async function floodHere(options: FloodOptions & { signal: AbortSignal }): Promise<number> {
  let connects = 0;
  const sockets = new Set<net.Socket>();
  const one = async (target: { host: string; port: number }) => {
    while (!options.signal.aborted) {
      connects++;
      await new Promise<void>((resolve) => {
        const s = net.connect({
          host: target.host,
          port: target.port,
          localAddress: options.source,
        });
        sockets.add(s);
        const done = () => {
          sockets.delete(s);
          s.destroy();
          resolve();
        };
        s.on("data", () => {}); // idle: never says anything, reads what comes
        s.once("close", done);
        s.once("error", done);
        options.signal.addEventListener("abort", done, { once: true });
      });
      await new Promise((r) => setTimeout(r, options.reopenMs));
    }
  };
  const tasks: Promise<void>[] = [];
  for (const t of options.targets) {
    for (let i = 0; i < options.count; i++) tasks.push(one(t));
  }
  await Promise.all(tasks);
  for (const s of sockets) s.destroy();
  return connects;
}
