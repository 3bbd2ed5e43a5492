/**
 * What every fuzz category of scripts/fuzz_inputs.ts shares: the run's
 * context, connections, and one exchange (write, then read until the daemon
 * closes or a deadline passes).
 */
import type { TestCluster } from "../../tests/cluster/harness.ts";
import { sleep } from "../../tests/cluster/harness.ts";
import type { Rng } from "../../tests/fuzz/gen.ts";
import { connectFrom } from "../../src/demo/relay.ts";
import { newNonce, type PeerAuth } from "../../src/wire/auth.ts";
import { PROTOCOL_VERSION } from "../../src/wire/codec.ts";
import { FRAME_MAGIC, FRAME_VERSION, FrameDecoder } from "../../src/wire/frame.ts";

export const SECRET = "fuzz-inputs-shared-secret-0123456789";
export const FRIEND = "127.0.0.9";
/** Longest any connection may stay open after bad input: every daemon deadline is shorter. */
export const HANG_MS = 6000;
export const AT_ONCE = 6;
export const enc = new TextEncoder();

/** A byte stream (a Deno.Conn or a connection from a chosen address). */
export interface Stream {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** One run against one cluster. */
export interface Ctx {
  c: TestCluster;
  rng: Rng;
  auth: "secret" | "keys" | "none";
  /** w's handshake keys (null without any). */
  wAuth: PeerAuth | null;
  /** b's handshake keys, for the rogue listener that a dials. */
  bAuth: PeerAuth | null;
  rogue: Rogue;
  /** Whether to send well-formed messages with extreme values as w (auth-semantic). */
  semantic: boolean;
  problems: string[];
  /** Inputs sent, by category. */
  counts: Map<string, number>;
  saved: number;
}

/** How a connection ended. */
export interface Ending {
  closedByDaemon: boolean;
  ms: number;
  bodies: Record<string, unknown>[];
}

export function hex(b: Uint8Array, max = 48): string {
  const s = [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${b.length} bytes: ${s}${b.length > max ? "…" : ""}`;
}

export async function save(ctx: Ctx, what: string, bytes: Uint8Array): Promise<string> {
  const file = `${ctx.c.dir}/problem-${++ctx.saved}.bin`;
  await Deno.writeFile(file, bytes);
  return `${what} (${hex(bytes)}; saved as ${file})`;
}

export function count(ctx: Ctx, cat: string, n = 1) {
  ctx.counts.set(cat, (ctx.counts.get(cat) ?? 0) + n);
}

/** Write `chunks` (with `gapMs` between them), then read until the daemon closes or `hangMs`. */
export async function exchange(
  s: Stream,
  chunks: Uint8Array[],
  opts: { gapMs?: number; hangMs?: number; closeAfterFrames?: number } = {},
): Promise<Ending> {
  const started = performance.now();
  let closedByUs = false;
  const timer = setTimeout(() => {
    closedByUs = true;
    s.close();
  }, opts.hangMs ?? HANG_MS);
  const decoder = new FrameDecoder({ maxBodyBytes: 256 * 1024 * 1024 });
  const bodies: Record<string, unknown>[] = [];
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await s.read(buf);
        if (n === null) return;
        try {
          decoder.push(buf.slice(0, n));
          for (let f = decoder.next(); f; f = decoder.next()) bodies.push(f);
        } catch { /* not ours to judge */ }
        if (opts.closeAfterFrames !== undefined && bodies.length >= opts.closeAfterFrames) {
          closedByUs = true;
          s.close();
          return;
        }
      }
    } catch { /* reset */ }
  })();
  for (const chunk of chunks) {
    try {
      for (let off = 0; off < chunk.length;) off += await s.write(chunk.subarray(off));
    } catch {
      break; // closed by the daemon: the read says so
    }
    if (opts.gapMs) await sleep(opts.gapMs);
  }
  await reading;
  clearTimeout(timer);
  try {
    s.close();
  } catch { /* closed */ }
  return { closedByDaemon: !closedByUs, ms: performance.now() - started, bodies };
}

export async function inBatches(n: number, fn: (i: number) => Promise<void>) {
  for (let i = 0; i < n; i += AT_ONCE) {
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, n - i) }, (_, k) => fn(i + k)));
  }
}

export function header(length: number, version = FRAME_VERSION): Uint8Array {
  const h = new Uint8Array(8);
  h.set(FRAME_MAGIC, 0);
  h[3] = version;
  new DataView(h.buffer).setUint32(4, length >>> 0);
  return h;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function hello(node: string, auth: string): Record<string, unknown> {
  const h: Record<string, unknown> = {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node,
    nonce: newNonce(),
    auth,
  };
  if (auth === "ed25519") h.kx = "11".repeat(32);
  return h;
}

export function authName(ctx: Ctx): string {
  return ctx.auth === "secret" ? "hmac-sha256" : ctx.auth === "keys" ? "ed25519" : "none";
}

export const friend = (ctx: Ctx) => connectFrom(FRIEND, ctx.c.host("a"), ctx.c.listenPort("a"));
export const asW = (ctx: Ctx) =>
  connectFrom(ctx.c.host("w"), ctx.c.host("a"), ctx.c.listenPort("a"));

/** A rogue listener that a dials (rogue.ts). */
export interface Rogue {
  listener: Deno.TcpListener;
  /** Connections handled. */
  handled: number;
  /** Behaviours after which a kept the connection open. */
  hung: string[];
}

/** A fuzz category: one batch of inputs. */
export type Category = (ctx: Ctx) => Promise<void>;
