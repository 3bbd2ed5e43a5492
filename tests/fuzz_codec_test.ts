/**
 * Fuzzing the real decoders, seeded and bounded (FUZZ_SEED replays a run):
 * the frame decoder fed mutated frames in random chunks, the peer message,
 * handshake and envelope decoders, the sealed-frame opener, and the control
 * request parser. Each input must come back as a value or a typed error;
 * nothing may throw anything else or loop.
 */
import { assert } from "./assert.ts";
import { CONTROL_SEEDS, fuzzFrame, fuzzSeed, mutateValue, PEER_SEEDS, Rng } from "./fuzz/gen.ts";
import { FrameDecoder, FrameError } from "../src/wire/frame.ts";
import {
  InvalidMessage,
  parseBatch,
  parseHandshake,
  parseMessage,
  parseSealed,
} from "../src/wire/codec.ts";
import { AuthError, FrameOpener, FrameSealer } from "../src/wire/auth.ts";
import { parseRequest } from "../src/control/request.ts";

const INPUTS = 3000;

/** Run `fn` on every input; say which seed and index broke, and how. */
function each(name: string, fn: (rng: Rng, i: number) => void) {
  const seed = fuzzSeed();
  const rng = new Rng(seed);
  for (let i = 0; i < INPUTS; i++) {
    try {
      fn(rng, i);
    } catch (e) {
      throw new Error(`${name}: FUZZ_SEED=${seed} input ${i}: ${(e as Error).stack ?? e}`);
    }
  }
}

Deno.test("fuzz: the frame decoder returns frames or a FrameError, in any chunking", () => {
  each("frame decoder", (rng) => {
    const bytes = fuzzFrame(rng, [...PEER_SEEDS, ...CONTROL_SEEDS]);
    const d = new FrameDecoder({ maxBodyBytes: 4096 });
    let off = 0;
    let frames = 0;
    try {
      while (off < bytes.length) {
        const n = 1 + rng.int(Math.max(1, bytes.length - off));
        d.push(bytes.subarray(off, off + n));
        off += n;
        // Bounded: no more frames than bytes.
        for (let f = d.next(); f !== null; f = d.next()) {
          assert(typeof f === "object" && !Array.isArray(f), "a frame body is an object");
          assert(++frames <= bytes.length, "more frames than bytes");
        }
      }
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
    }
  });
});

Deno.test("fuzz: peer decoders return a value or an InvalidMessage, never anything else", () => {
  each("peer decoders", (rng) => {
    const v = mutateValue(rng, rng.pick(PEER_SEEDS));
    for (const parse of [parseHandshake, parseSealed, parseBatch, parseMessage]) {
      const r = parse(v);
      assert(r instanceof InvalidMessage || (typeof r === "object" && r !== null));
    }
    // A batch's messages are rebuilt: nothing of the input's prototype survives.
    const batch = parseBatch(v);
    if (!(batch instanceof InvalidMessage)) {
      for (const m of batch.messages) assert(Object.getPrototypeOf(m) === Object.prototype);
    }
  });
});

Deno.test("fuzz: the sealed-frame opener refuses every mutation of a sealed frame", async () => {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const seed = fuzzSeed();
  const rng = new Rng(seed);
  for (let i = 0; i < 500; i++) {
    const sealer = new FrameSealer(key, "connector-to-acceptor");
    const opener = new FrameOpener(key, "connector-to-acceptor");
    const sealed = { ...await sealer.seal({ type: "batch", messages: [] }) };
    const mutated = mutateValue(rng, sealed);
    const r = await opener.open(mutated);
    const same = JSON.stringify(mutated) === JSON.stringify(sealed);
    assert(
      same ? !(r instanceof AuthError) : r instanceof AuthError,
      `FUZZ_SEED=${seed} input ${i}: ${JSON.stringify(mutated)} gave ${r}`,
    );
  }
});

Deno.test("fuzz: the control request parser never throws", () => {
  each("control requests", (rng) => {
    const v = mutateValue(rng, rng.pick(CONTROL_SEEDS));
    if (typeof v !== "object" || v === null || Array.isArray(v)) return;
    const r = parseRequest(v as Record<string, unknown>);
    assert(typeof r.ok === "boolean");
  });
});
