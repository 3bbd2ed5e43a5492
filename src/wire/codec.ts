/**
 * Strict decoders for everything a peer sends: the core's `Message` union, the
 * batch that carries messages, and the handshake frames.
 *
 * A peer's JSON never reaches the core as is: every field is checked for type
 * and range and copied into a fresh object, and unknown fields are refused, so
 * a malformed or hostile message is an `Error` here and closes that connection.
 *
 * The field tables are typed against `src/core/types.ts`: when a field is added
 * to a message there, `deno check` fails here until it is decoded too.
 */
import type { ClaimRef, Message, NodeId, Role, ServiceState } from "../core/types.ts";
import { MAX_EPOCH, MAX_REASON_LENGTH } from "../core/types.ts";
import type { FrameBody } from "./frame.ts";
import { printable } from "./text.ts";

/**
 * Version of the peer protocol, sent in the hello. 3: the `ed25519` mode (an
 * X25519 key in the hello, signed transcripts, encrypted frames); a node of
 * version 2 is refused with a "protocol mismatch" that names both versions.
 */
export const PROTOCOL_VERSION = 3;
/** Longest node or resource name accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 255;
/**
 * Longest free-text reason accepted on the wire (the core's, which cuts what it
 * sends); what passes on to logs and hooks is cut to `MAX_PEER_TEXT` (text.ts).
 */
export { MAX_REASON_LENGTH };
/** Most messages one batch frame may carry; senders split larger batches. */
export const MAX_BATCH_MESSAGES = 4096;
/** Bytes of a handshake nonce (sent as lowercase hex). */
export const NONCE_BYTES = 32;
/** Bytes of an HMAC-SHA-256 (sent as lowercase hex). */
export const MAC_BYTES = 32;
/** Bytes of an X25519 public key (sent as lowercase hex). */
export const KX_BYTES = 32;
/** Bytes of an Ed25519 signature (sent as lowercase hex). */
export const SIG_BYTES = 64;

/** A decode failure; the message names the field. */
export class InvalidMessage extends Error {
  /** Construct with a message naming the offending field. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidMessage";
  }
}

/**
 * How the two nodes authenticate each other: each node's own Ed25519 key, one
 * shared HMAC key, or nothing (addresses only).
 */
export type AuthMode = "ed25519" | "hmac-sha256" | "none";

/** First frame from each side of a peer connection. */
export interface Hello {
  /** Frame tag. */
  type: "hello";
  /** {@linkcode PROTOCOL_VERSION} of the sender. */
  protocol: number;
  /** The sender's node name. */
  node: NodeId;
  /** 32 random bytes, lowercase hex. */
  nonce: string;
  /** Whether the sender requires the shared secret. */
  auth: AuthMode;
  /** ed25519 only: the sender's ephemeral X25519 public key for this connection, lowercase hex. */
  kx?: string;
}

/** Keyed handshake: the sender's proof that it knows the secret (mac) or holds its node key (sig). */
export interface Proof {
  /** Frame tag. */
  type: "proof";
  /** hmac-sha256: HMAC-SHA-256 with the shared key, lowercase hex. */
  mac?: string;
  /** ed25519: the sender's signature of the transcript, lowercase hex. */
  sig?: string;
}

/** Handshake refused; the reason is for the operator's log. */
export interface Refusal {
  /** Frame tag. */
  type: "refuse";
  /** Why, in words for a log line. */
  reason: string;
}

/** Any frame of the handshake. */
export type HandshakeFrame = Hello | Proof | Refusal;

/** After a keyed handshake, every frame: a sequence number, a MAC and the JSON text it covers. */
export interface SealedFrame {
  /** 0 for the first frame of a direction, then +1 per frame. */
  seq: number;
  /** HMAC-SHA-256 over direction, seq and data, lowercase hex. */
  mac: string;
  /** JSON text of the inner frame body (exact bytes the MAC covers). */
  data: string;
}

/** With node keys, every frame after the handshake: a sequence number and the AES-GCM box. */
export interface BoxedFrame {
  /** 0 for the first frame of a direction, then +1 per frame. */
  seq: number;
  /** Base64 of the ciphertext and its 16-byte tag. */
  box: string;
}

// ---------------------------------------------------------------------------
// Field parsers: each returns the checked value or throws InvalidMessage.

type Parser<T> = (value: unknown, path: string) => T;

function fail(path: string, expected: string, value: unknown): never {
  throw new InvalidMessage(`${path}: expected ${expected}, got ${describe(value)}`);
}

/** A short, log-safe description of a bad value (never the peer's full text). */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return value.length > 40
      ? `a string of ${value.length} chars`
      : printable(JSON.stringify(value));
  }
  return String(value);
}

/** Control, format (bidi overrides, zero-width), separator and lone surrogate characters. */
const CONTROL_CHARS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const HEX = (bytes: number) => new RegExp(`^[0-9a-f]{${bytes * 2}}$`);
const NONCE_HEX = HEX(NONCE_BYTES);
const MAC_HEX = HEX(MAC_BYTES);
const KX_HEX = HEX(KX_BYTES);
const SIG_HEX = HEX(SIG_BYTES);

/** Printable text of 1..max chars: names and reasons end up in logs and hook environments. */
function text(max: number, allowEmpty = false): Parser<string> {
  return (v, path) => {
    if (typeof v !== "string") fail(path, "a string", v);
    if (v.length > max) fail(path, `at most ${max} chars`, v);
    if (!allowEmpty && v.length === 0) fail(path, "a non-empty string", v);
    if (CONTROL_CHARS.test(v)) fail(path, "printable text (no control or bidi characters)", v);
    return v;
  };
}

const name: Parser<string> = text(MAX_NAME_LENGTH);
const reasonText: Parser<string> = text(MAX_REASON_LENGTH, true);
/**
 * A peer's reason (a complaint, a lease refusal, a check, a handshake
 * refusal) is logged and may reach a hook: cut here, where every peer
 * message is decoded, so that no later reader sees more than a short line.
 */
const reason: Parser<string> = (v, path) => printable(reasonText(v, path));

const counter: Parser<number> = (v, path) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    ? v
    : fail(path, "a non-negative safe integer", v);

/** Epochs above MAX_EPOCH are refused: a node never follows (or promotes past) one. */
const epochOf: Parser<number> = (v, path) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MAX_EPOCH
    ? v
    : fail(path, `an epoch from 0 to 2^52`, v);

const duration: Parser<number> = (v, path) =>
  typeof v === "number" && Number.isFinite(v) && v >= 0
    ? v
    : fail(path, "a finite duration >= 0", v);

const boolean: Parser<boolean> = (v, path) =>
  typeof v === "boolean" ? v : fail(path, "a boolean", v);

function hex(pattern: RegExp, bytes: number): Parser<string> {
  return (v, path) =>
    typeof v === "string" && pattern.test(v) ? v : fail(path, `${bytes} bytes of lowercase hex`, v);
}

function oneOf<T extends string>(allowed: Record<T, true>): Parser<T> {
  const list = Object.keys(allowed).join("|");
  return (v, path) =>
    typeof v === "string" && Object.hasOwn(allowed, v) ? v as T : fail(path, list, v);
}

function nullable<T>(parse: Parser<T>): Parser<T | null> {
  return (v, path) => v === null ? null : parse(v, path);
}

function optional<T>(parse: Parser<T>): Parser<T | undefined> {
  return (v, path) => v === undefined ? undefined : parse(v, path);
}

// Record<Union, true> makes the compiler check that every member is listed.
const ROLE_SET: Record<Role, true> = { init: true, primary: true, secondary: true, watchdog: true };
const STATE_SET: Record<ServiceState, true> = {
  unknown: true,
  starting: true,
  running: true,
  stopping: true,
  stopped: true,
  stop_failed: true,
};
const AUTH_SET: Record<AuthMode, true> = { ed25519: true, "hmac-sha256": true, none: true };

const role = oneOf(ROLE_SET);
const state = oneOf(STATE_SET);

/** One parser per field; optional fields get a parser that accepts `undefined`. */
type Fields<T> = {
  [K in keyof T]-?: Record<never, never> extends Pick<T, K>
    ? Parser<Exclude<T[K], undefined> | undefined>
    : Parser<T[K]>;
};

/** Check a plain object against a field table; unknown fields are refused. */
function record<T>(fields: Fields<T>, skip: readonly string[] = []): Parser<T> {
  return (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, "an object", v);
    const input = v as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(fields, key) && !skip.includes(key) && input[key] !== undefined) {
        throw new InvalidMessage(`${path}: unknown field ${describe(key)}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(fields) as (keyof T & string)[]) {
      const parse = fields[key] as Parser<unknown>;
      const value = parse(Object.hasOwn(input, key) ? input[key] : undefined, `${path}.${key}`);
      if (value !== undefined) out[key] = value;
    }
    return out as T;
  };
}

const claim = record<ClaimRef>({ node: name, epoch: epochOf });

type MessageType = Message["type"];
type MessageOf<K extends MessageType> = Omit<Extract<Message, { type: K }>, "type">;

/** The fields a heartbeat and its ack share: who the sender is for this resource. */
const SENDER_STATUS = {
  resource: name,
  epoch: epochOf,
  role,
  state,
  seq: counter,
};

const MESSAGE_FIELDS: { [K in MessageType]: Fields<MessageOf<K>> } = {
  heartbeat: {
    ...SENDER_STATUS,
    leaseMs: duration,
    stopTimeoutMs: duration,
  },
  ack: {
    ...SENDER_STATUS,
    granted: boolean,
    leaseMs: optional(duration),
    stopTimeoutMs: optional(duration),
    holder: optional(claim),
    reason: optional(reason),
  },
  complaint: {
    resource: name,
    epoch: epochOf,
    reason,
    primary: nullable(name),
    silenceMs: duration,
  },
  release: {
    resource: name,
    epoch: epochOf,
    successor: nullable(name),
    // A member's name, or "" for a giveover of the whole group.
    pingpong: optional(text(MAX_NAME_LENGTH, true)),
  },
  check_request: {
    resource: name,
    epoch: epochOf,
    id: counter,
  },
  check_result: {
    resource: name,
    epoch: epochOf,
    id: counter,
    ok: boolean,
    reason,
  },
  fenced: {
    resource: name,
    epoch: epochOf,
    node: name,
    nodeEpoch: epochOf,
  },
};

const MESSAGE_PARSERS = Object.fromEntries(
  Object.entries(MESSAGE_FIELDS).map((
    [type, fields],
  ) => [type, record(fields as Fields<unknown>, ["type"])]),
) as Record<MessageType, Parser<Record<string, unknown>>>;

function message(v: unknown, path: string): Message {
  const type = (typeof v === "object" && v !== null && !Array.isArray(v))
    ? (v as Record<string, unknown>).type
    : undefined;
  if (typeof type !== "string" || !Object.hasOwn(MESSAGE_PARSERS, type)) {
    if (type === undefined) fail(path, "a message object with a type", v);
    fail(`${path}.type`, Object.keys(MESSAGE_PARSERS).join("|"), type);
  }
  return { type, ...MESSAGE_PARSERS[type as MessageType](v, path) } as Message;
}

function attempt<T>(fn: () => T): T | InvalidMessage {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InvalidMessage) return e;
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Public decoders.

/** Decode one core message, or say exactly which field is wrong. */
export function parseMessage(obj: unknown): Message | InvalidMessage {
  return attempt(() => message(obj, "message"));
}

/** The frame body that carries messages for one peer. */
export function batchBody(messages: readonly Message[]): FrameBody {
  return { type: "batch", messages };
}

/** A batch as decoded: the messages that passed, and why each other one did not. */
export interface DecodedBatch {
  messages: Message[];
  invalid: string[];
}

/**
 * Decode a batch frame body. A message that fails validation is dropped alone
 * (and named in `invalid`); only a frame that is not a batch at all fails.
 */
export function parseBatch(
  obj: unknown,
  maxMessages: number = MAX_BATCH_MESSAGES,
): DecodedBatch | InvalidMessage {
  return attempt(() => {
    const batch = record<{ type: "batch"; messages: unknown[] }>({
      type: (v, path) => v === "batch" ? "batch" : fail(path, '"batch"', v),
      messages: (v, path) => {
        if (!Array.isArray(v)) fail(path, "an array", v);
        if (v.length > maxMessages) fail(path, `at most ${maxMessages} messages`, v);
        return v;
      },
    })(obj, "batch");
    const out: DecodedBatch = { messages: [], invalid: [] };
    batch.messages.forEach((m, i) => {
      const parsed = attempt(() => message(m, `batch.messages[${i}]`));
      if (parsed instanceof InvalidMessage) out.invalid.push(parsed.message);
      else out.messages.push(parsed);
    });
    return out;
  });
}

const HANDSHAKE_PARSERS: {
  [K in HandshakeFrame["type"]]: Parser<Extract<HandshakeFrame, { type: K }>>;
} = {
  hello: (v, path) => {
    const hello = record<Hello>({
      type: () => "hello",
      protocol: counter,
      node: name,
      nonce: hex(NONCE_HEX, NONCE_BYTES),
      auth: oneOf(AUTH_SET),
      kx: optional(hex(KX_HEX, KX_BYTES)),
    })(v, path);
    // The key exchange belongs to ed25519 and to nothing else.
    if ((hello.auth === "ed25519") !== (hello.kx !== undefined)) {
      fail(`${path}.kx`, hello.auth === "ed25519" ? "a key with ed25519" : "nothing", hello.kx);
    }
    return hello;
  },
  proof: (v, path) => {
    const proof = record<Proof>({
      type: () => "proof",
      mac: optional(hex(MAC_HEX, MAC_BYTES)),
      sig: optional(hex(SIG_HEX, SIG_BYTES)),
    })(v, path);
    if ((proof.mac === undefined) === (proof.sig === undefined)) {
      fail(path, "exactly one of mac and sig", v);
    }
    return proof;
  },
  refuse: record<Refusal>({ type: () => "refuse", reason }),
};

/** Decode a handshake frame (hello, proof or refusal). */
export function parseHandshake(obj: unknown): HandshakeFrame | InvalidMessage {
  return attempt(() => {
    const type = typeof obj === "object" && obj !== null
      ? (obj as Record<string, unknown>).type
      : undefined;
    if (typeof type !== "string" || !Object.hasOwn(HANDSHAKE_PARSERS, type)) {
      fail("handshake.type", "hello|proof|refuse", type);
    }
    return HANDSHAKE_PARSERS[type as HandshakeFrame["type"]](obj, type);
  });
}

/** Decode the envelope of a keyed frame (the MAC is checked by auth.ts). */
export function parseSealed(obj: unknown): SealedFrame | InvalidMessage {
  return attempt(() =>
    record<SealedFrame>({
      seq: counter,
      mac: hex(MAC_HEX, MAC_BYTES),
      data: (v, path) => typeof v === "string" ? v : fail(path, "a string", v),
    })(obj, "sealed")
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode the envelope of an encrypted frame (decryption is auth.ts's). */
export function parseBoxed(obj: unknown): BoxedFrame | InvalidMessage {
  return attempt(() =>
    record<BoxedFrame>({
      seq: counter,
      box: (v, path) =>
        typeof v === "string" && v.length >= 24 && BASE64.test(v)
          ? v
          : fail(path, "base64 of at least 16 bytes", v),
    })(obj, "boxed")
  );
}
