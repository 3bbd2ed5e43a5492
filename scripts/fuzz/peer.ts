/**
 * Fuzz categories of a's peer listener: before authentication (from a
 * friend's address) and after it (speaking as w, from w's address).
 */
import { framed, fuzzFrame, mutateValue, PEER_SEEDS, type Rng } from "../../tests/fuzz/gen.ts";
import { batchBody } from "../../src/wire/codec.ts";
import { encodeFrame, FRAME_MAGIC, FRAME_VERSION, FrameReader } from "../../src/wire/frame.ts";
import { connectorHandshake, type Handshaken } from "../../src/wire/handshake.ts";
import type { Message } from "../../src/core/types.ts";
import { MAX_EPOCH } from "../../src/core/types.ts";
import {
  asW,
  authName,
  type Category,
  concat,
  count,
  type Ctx,
  enc,
  exchange,
  friend,
  HANG_MS,
  header,
  hello,
  inBatches,
  save,
  type Stream,
} from "./io.ts";

// Before authentication.

/** Send each input on its own connection from the friend's address; each must be closed. */
async function peerInputs(ctx: Ctx, cat: string, inputs: Uint8Array[][], gapMs = 0) {
  await inBatches(inputs.length, async (i) => {
    const s = await friend(ctx);
    const end = await exchange(s, inputs[i], { gapMs });
    count(ctx, cat);
    if (!end.closedByDaemon) {
      ctx.problems.push(`${cat}: ${await save(ctx, "never closed", concat(...inputs[i]))}`);
    }
  });
}

export const PEER_CATEGORIES: Record<string, Category> = {
  "peer-random": (ctx) =>
    peerInputs(
      ctx,
      "peer-random",
      Array.from({ length: 24 }, () => {
        const b = ctx.rng.bytes(1 + ctx.rng.int(ctx.rng.int(2) ? 64 : 65536));
        if (ctx.rng.int(3) === 0) b.set(FRAME_MAGIC.subarray(0, Math.min(3, b.length)));
        return [b];
      }),
    ),
  "peer-mutated": (ctx) =>
    peerInputs(
      ctx,
      "peer-mutated",
      Array.from({ length: 36 }, () => [fuzzFrame(ctx.rng, PEER_SEEDS)]),
    ),
  "peer-limits": (ctx) => {
    const lengths = [0, 1, 4095, 4096, 4097, 65536, 1 << 20, (1 << 20) + 1, 2 ** 31, 2 ** 32 - 1];
    return peerInputs(
      ctx,
      "peer-limits",
      lengths.map((len) => {
        const body = enc.encode(JSON.stringify(hello("w", authName(ctx))));
        const fill = ctx.rng.bytes(Math.min(len, ctx.rng.int(3) === 0 ? 8192 : 64));
        return [
          concat(
            header(len, ctx.rng.int(8) === 0 ? 2 : FRAME_VERSION),
            len === body.length ? body : fill,
          ),
        ];
      }),
    );
  },
  "peer-tiny": (ctx) => {
    const frames = [
      framed("{}"),
      framed('{"type":"hello"}'),
      encodeFrame(hello("w", authName(ctx))),
    ];
    return peerInputs(
      ctx,
      "peer-tiny",
      Array.from({ length: 6 }, () => {
        const one = ctx.rng.pick(frames);
        const n = 100 + ctx.rng.int(5000);
        return [concat(...Array.from({ length: n }, () => one))];
      }),
    );
  },
  "peer-half": (ctx) =>
    peerInputs(
      ctx,
      "peer-half",
      Array.from({ length: 12 }, () => {
        const f = encodeFrame(hello(ctx.rng.pick(["w", "b", "zz"]), authName(ctx)));
        return [f.subarray(0, 1 + ctx.rng.int(f.length - 1))];
      }),
    ),
  "peer-trickle": async (ctx) => {
    const f = encodeFrame(hello("zz", authName(ctx)));
    await peerInputs(ctx, "peer-trickle", [[...f].map((b) => Uint8Array.of(b))], 60);
  },
  "peer-burst": async (ctx) => {
    // More than the listener admits from one address at once: the rest are refused at once.
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => friend(ctx).catch(() => null)),
    );
    count(ctx, "peer-burst", streams.length);
    const ends = await Promise.all(
      streams.map((s) => s ? exchange(s, [], {}) : Promise.resolve(null)),
    );
    const open = ends.filter((e) => e && !e.closedByDaemon).length;
    if (open > 0) ctx.problems.push(`peer-burst: ${open} idle connections never closed`);
  },
  "peer-replay": async (ctx) => {
    // A real handshake as w, recorded; then the recording played on fresh connections.
    const recorded: Uint8Array[] = [];
    const s = await asW(ctx);
    const tap: Stream = {
      read: (p) => s.read(p),
      write: (p) => {
        recorded.push(p.slice());
        return s.write(p);
      },
      close: () => s.close(),
    };
    const reader = new FrameReader(tap);
    let session: Handshaken | null = null;
    try {
      session = await connectorHandshake(tap, reader, {
        self: "w",
        auth: ctx.wAuth,
        timeoutMs: 3000,
        expectNode: "a",
      });
      let body = batchBody([]);
      if (session.sealer) body = { ...await session.sealer.seal(body) };
      const frame = encodeFrame(body);
      recorded.push(frame);
      await s.write(frame);
    } catch (e) {
      ctx.problems.push(`peer-replay: our own handshake as w failed: ${(e as Error).message}`);
    }
    s.close();
    await reader.settle();
    for (let i = 0; i < 4; i++) {
      const r = await asW(ctx);
      const all = concat(...recorded);
      const end = await exchange(r, [all], { hangMs: ctx.auth === "none" ? 1500 : HANG_MS });
      count(ctx, "peer-replay");
      // Without a key a replay is a valid session (nothing to prove): it stays open.
      if (ctx.auth !== "none" && !end.closedByDaemon) {
        ctx.problems.push(`peer-replay: ${await save(ctx, "replay never closed", all)}`);
      }
    }
  },
};

// ---------------------------------------------------------------------------
// Peer connections after authentication (as w, from w's address).

async function authenticated(ctx: Ctx): Promise<{ s: Stream; session: Handshaken } | null> {
  const s = await asW(ctx);
  const reader = new FrameReader(s);
  try {
    const session = await connectorHandshake(s, reader, {
      self: "w",
      auth: ctx.wAuth,
      timeoutMs: 3000,
      expectNode: "a",
    });
    await reader.settle();
    return { s, session };
  } catch (e) {
    s.close();
    await reader.settle();
    // The listener keeps w's per-address slots busy while the real w reconnects: not a defect.
    ctx.problems.push(`(note) handshake as w failed: ${(e as Error).message}`);
    return null;
  }
}

export async function sealed(
  session: Handshaken,
  body: Record<string, unknown>,
): Promise<Uint8Array> {
  return encodeFrame(session.sealer ? { ...await session.sealer.seal(body) } : body, {
    maxBodyBytes: 64 * 1024 * 1024,
  });
}

/** Extreme but well-formed messages: every field at its edges. */
function semanticMessage(rng: Rng): Message {
  const resource = rng.pick(["r0", "r0", "nope", "x".repeat(255), "__proto__"]);
  const epoch = rng.pick([0, 1, 2, 3, 1000, MAX_EPOCH - 1, MAX_EPOCH]);
  const dur = () => rng.pick([0, 1e-300, 0.5, 750, 1e9, Number.MAX_SAFE_INTEGER, 1e308]);
  const role = rng.pick(["init", "primary", "secondary", "watchdog"] as const);
  const state = rng.pick(
    ["unknown", "starting", "running", "stopping", "stopped", "stop_failed"] as const,
  );
  const seq = rng.pick([0, 1, 2 ** 31, Number.MAX_SAFE_INTEGER]);
  const node = rng.pick(["a", "b", "w", "zz"]);
  switch (rng.int(7)) {
    case 0:
      return {
        type: "heartbeat",
        resource,
        epoch,
        role,
        state,
        seq,
        leaseMs: dur(),
        stopTimeoutMs: dur(),
      };
    case 1:
      return {
        type: "ack",
        resource,
        epoch,
        role,
        state,
        seq,
        granted: rng.int(2) === 0,
        leaseMs: dur(),
        stopTimeoutMs: dur(),
        holder: { node, epoch },
        reason: "\u202e".repeat(rng.int(300)),
      };
    case 2:
      return {
        type: "complaint",
        resource,
        epoch,
        reason: "y".repeat(rng.int(1025)),
        primary: rng.int(2) ? node : null,
        silenceMs: dur(),
      };
    case 3:
      return {
        type: "release",
        resource,
        epoch,
        successor: rng.int(2) ? node : null,
        pingpong: rng.pick(["", "m1", "zz"]),
      };
    case 4:
      return { type: "check_request", resource, epoch, id: seq };
    case 5:
      return { type: "check_result", resource, epoch, id: seq, ok: rng.int(2) === 0, reason: "z" };
    default:
      return { type: "fenced", resource, epoch, node, nodeEpoch: rng.pick([0, epoch, MAX_EPOCH]) };
  }
}

/** The first sealed frame of the last authenticated session, for replays into the next. */
let lastSealed: Uint8Array | null = null;

export const AUTH_CATEGORIES: Record<string, Category> = {
  "auth-garbage": async (ctx) => {
    for (let i = 0; i < 6; i++) {
      const a = await authenticated(ctx);
      if (!a) continue;
      let bytes: Uint8Array;
      const previous = lastSealed;
      lastSealed = await sealed(a.session, batchBody([]));
      switch (ctx.rng.int(5)) {
        case 0:
          bytes = ctx.rng.bytes(1 + ctx.rng.int(4096));
          break;
        case 4:
          // A valid frame of an earlier session (another key, or none), replayed here.
          bytes = previous ?? lastSealed;
          break;
        case 1:
          bytes = fuzzFrame(ctx.rng, PEER_SEEDS);
          break;
        case 2: {
          const inner = mutateValue(ctx.rng, ctx.rng.pick(PEER_SEEDS));
          const body = typeof inner === "object" && inner !== null && !Array.isArray(inner)
            ? inner as Record<string, unknown>
            : { type: "batch", messages: [inner] };
          bytes = await sealed(a.session, body);
          break;
        }
        default: {
          // A valid sealed frame, a byte flipped.
          const f = await sealed(a.session, batchBody([]));
          f[8 + ctx.rng.int(f.length - 8)] ^= 1 << ctx.rng.int(8);
          bytes = f;
        }
      }
      count(ctx, "auth-garbage");
      const end = await exchange(a.s, [bytes], { hangMs: 3500 });
      // A batch whose messages are dropped one by one keeps the connection, by design;
      // the idle deadline (2 s here) then closes it: anything longer is a hang.
      if (!end.closedByDaemon) {
        ctx.problems.push(`auth-garbage: ${await save(ctx, "never closed", bytes)}`);
      }
    }
  },
  "auth-flood": async (ctx) => {
    const a = await authenticated(ctx);
    if (!a) return;
    let bytes: Uint8Array;
    if (ctx.rng.int(2) === 0) {
      const frames = await Promise.all(
        Array.from({ length: 2000 + ctx.rng.int(3000) }, () => sealed(a.session, batchBody([]))),
      );
      bytes = concat(...frames);
    } else {
      // A batch at the message cap, for an unknown resource (no machine is touched).
      const msgs: Message[] = Array.from({ length: 4096 }, (_, i) => ({
        type: "check_request",
        resource: "nope",
        epoch: 0,
        id: i,
      }));
      bytes = await sealed(a.session, batchBody(msgs));
    }
    count(ctx, "auth-flood");
    const t0 = performance.now();
    const writing = exchange(a.s, [bytes], { hangMs: 3000 });
    // While it chews: does a still answer at once?
    const st = await ctx.c.status("a", 2000);
    if (st === null) ctx.problems.push(`auth-flood: a did not answer status while reading`);
    await writing;
    if (performance.now() - t0 > 3500) {
      ctx.problems.push(`auth-flood: took ${performance.now() - t0} ms`);
    }
  },
  "auth-semantic": async (ctx) => {
    if (!ctx.semantic) return;
    const a = await authenticated(ctx);
    if (!a) return;
    const msgs = Array.from({ length: 1 + ctx.rng.int(50) }, () => semanticMessage(ctx.rng));
    count(ctx, "auth-semantic", msgs.length);
    const end = await exchange(a.s, [await sealed(a.session, batchBody(msgs))], { hangMs: 2500 });
    void end;
  },
};
