/**
 * Seeded, bounded input generation for the fuzz tests: the same seed gives
 * the same inputs, so a failure is reproduced by its seed and index. Inputs
 * are mutations of valid frames and messages (the interesting edge) plus
 * plain noise.
 */
import { encodeFrame, FRAME_MAGIC, FRAME_VERSION } from "../../src/wire/frame.ts";
import { PROTOCOL_VERSION } from "../../src/wire/codec.ts";

/** The seed of a run: FUZZ_SEED if set (to replay a failure), else a fixed one. */
export function fuzzSeed(): number {
  const s = Number(Deno.env.get("FUZZ_SEED") ?? "20261201");
  return Number.isFinite(s) ? s >>> 0 : 20261201;
}

/** mulberry32: small, fast, good enough to spread inputs. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const WEIRD_STRINGS = [
  "",
  "-rf",
  "\u0000",
  "a\nb",
  "\u202e\u2066x",
  "\ud800",
  "x".repeat(5000),
  "__proto__",
  "constructor",
  "💥",
];
const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0.5,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER + 2,
  [],
  {},
  [[[[[[]]]]]],
  { __proto__: { polluted: true } },
  ...WEIRD_STRINGS,
];

/** A structural mutation of a JSON value: drop, retype, add or nest a field. */
export function mutateValue(rng: Rng, value: unknown, depth = 0): unknown {
  if (depth > 3 || rng.int(4) === 0) return rng.pick(WEIRD_VALUES);
  if (Array.isArray(value)) {
    const out = [...value];
    if (out.length > 0 && rng.int(2) === 0) {
      const i = rng.int(out.length);
      out[i] = mutateValue(rng, out[i], depth + 1);
    } else out.push(rng.pick(WEIRD_VALUES));
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(out);
    switch (rng.int(4)) {
      case 0:
        if (keys.length > 0) delete out[rng.pick(keys)];
        break;
      case 1:
        out[rng.pick([...WEIRD_STRINGS, "extra", "type"])] = rng.pick(WEIRD_VALUES);
        break;
      default:
        if (keys.length > 0) {
          const k = rng.pick(keys);
          out[k] = mutateValue(rng, out[k], depth + 1);
        }
    }
    return out;
  }
  return rng.pick(WEIRD_VALUES);
}

/** Bytes of a frame, mutated at the byte level (flip, cut, splice, bad length), or noise. */
export function mutateBytes(rng: Rng, frame: Uint8Array): Uint8Array {
  const b = new Uint8Array(frame);
  switch (rng.int(7)) {
    case 0:
      return rng.bytes(1 + rng.int(64));
    case 1: // flip a few bytes
      for (let i = 0; i < 1 + rng.int(4); i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 2: // cut short
      return b.subarray(0, rng.int(b.length));
    case 3: { // a header that promises more than follows, or a huge length
      const h = new Uint8Array(8 + rng.int(16));
      h.set(FRAME_MAGIC, 0);
      h[3] = rng.int(3) === 0 ? rng.int(256) : FRAME_VERSION;
      new DataView(h.buffer).setUint32(4, rng.pick([0, 1, 0xffffffff, 1 << 20, rng.int(1 << 16)]));
      return h;
    }
    case 4: // two frames, the second mutated
      return concat(b, mutateBytes(rng, frame));
    case 5: // valid framing around a body that is not JSON of an object
      return framed(rng.pick(["[]", "null", "1", '"x"', "{", "\xff\xfe", "{}".repeat(3)]));
    default:
      return concat(b, rng.bytes(rng.int(32)));
  }
}

/** A frame whose body is exactly `text`'s UTF-8 bytes (valid header, any body). */
export function framed(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const h = new Uint8Array(8 + body.length);
  h.set(FRAME_MAGIC, 0);
  h[3] = FRAME_VERSION;
  new DataView(h.buffer).setUint32(4, body.length);
  h.set(body, 8);
  return h;
}

/** Either a structurally mutated object, framed, or a byte-mutated frame of a valid one. */
export function fuzzFrame(rng: Rng, seeds: readonly Record<string, unknown>[]): Uint8Array {
  const seed = rng.pick(seeds);
  if (rng.int(2) === 0) {
    const v = mutateValue(rng, seed);
    const text = JSON.stringify(v) ?? "null";
    return framed(text);
  }
  return mutateBytes(rng, encodeFrame(seed));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Valid peer handshake frames and batches to mutate. */
export const PEER_SEEDS: readonly Record<string, unknown>[] = [
  {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: "w",
    nonce: "ab".repeat(32),
    auth: "hmac-sha256",
  },
  {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: "w",
    nonce: "ab".repeat(32),
    auth: "ed25519",
    kx: "cd".repeat(32),
  },
  { type: "hello", protocol: PROTOCOL_VERSION, node: "w", nonce: "ab".repeat(32), auth: "none" },
  { type: "proof", mac: "ef".repeat(32) },
  { type: "proof", sig: "ef".repeat(64) },
  { type: "refuse", reason: "because" },
  { seq: 0, mac: "01".repeat(32), data: '{"type":"batch","messages":[]}' },
  {
    type: "batch",
    messages: [
      { type: "release", resource: "r0", epoch: 1, successor: "b" },
      {
        type: "complaint",
        resource: "r0",
        epoch: 1,
        reason: "-x",
        primary: null,
        silenceMs: 5,
      },
      {
        type: "ack",
        resource: "r0",
        epoch: 1,
        role: "secondary",
        state: "stopped",
        seq: 3,
        granted: true,
        leaseMs: 750,
        stopTimeoutMs: 750,
        holder: { node: "a", epoch: 1 },
      },
      {
        type: "heartbeat",
        resource: "r0",
        epoch: 1,
        role: "primary",
        state: "running",
        seq: 3,
        leaseMs: 750,
        stopTimeoutMs: 750,
      },
      { type: "fenced", resource: "r0", epoch: 2, node: "a", nodeEpoch: 1 },
    ],
  },
];

/** Valid control requests to mutate. */
export const CONTROL_SEEDS: readonly Record<string, unknown>[] = [
  { v: 1, id: 1, type: "status" },
  { v: 1, id: 2, type: "status", resources: ["r0"] },
  { v: 1, id: 3, type: "role", role: "secondary", resources: ["nope"] },
  { v: 1, id: 4, type: "events", limit: 5 },
];
