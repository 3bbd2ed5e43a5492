/**
 * Node authentication with a shared secret, and per-frame MACs.
 *
 * Handshake (both sides know the secret K):
 *
 * 1. Each side sends a hello with its node name and a fresh 32-byte nonce.
 * 2. Each side proves knowledge of K with
 *    `HMAC(K, "hastmon/1 proof" | side | nonceC | nonceA | nodeC | nodeA)`,
 *    where C is the connector, A the acceptor and `side` the prover's role.
 *    The side label stops a proof being reflected back to its sender; the two
 *    nonces make every proof fresh, so a recorded handshake replays nowhere.
 * 3. Both derive the session key `HMAC(K, "hastmon/1 session" | nonces | names)`.
 *
 * Then every frame is sealed as `{seq, mac, data}`: `data` is the JSON text of
 * the inner body, `seq` starts at 0 and goes up by one per frame and direction,
 * and `mac = HMAC(session, "hastmon/1 frame" | direction | seq | data)`. The
 * receiver accepts only the exact next seq, so a replayed, dropped, reordered
 * or reflected frame closes the connection. MACs are over the JSON *text*, so
 * no canonical re-serialisation is needed. Fields are length-prefixed, so no
 * two different inputs share a MAC input.
 *
 * All nodes share one secret, so a node's name is as trustworthy as the
 * nodes holding the secret: the secret authenticates membership, not identity.
 * That is why the listener also binds names to addresses in this mode.
 *
 * Per-node keys (ed25519) prove identity: each hello also carries a fresh
 * X25519 public key, each side signs
 * `"hastmon/1 sign" | side | nonceC | nonceA | nodeC | nodeA | kxC | kxA`
 * with its own Ed25519 key, and the other side verifies it against the public
 * keys configured for the name claimed, so one node's key cannot speak as
 * another. The session key is `HMAC(X25519 shared secret, "hastmon/1 session
 * ed25519" | transcript)`: fresh per connection, unknown to anyone who did not
 * hold an ephemeral private key, even to a thief of a node key later on.
 * Frames are then encrypted and authenticated with it (AES-256-GCM, with the
 * same direction and exact-next-seq rules as above).
 */
import type { NodeId } from "../core/types.ts";
import {
  type BoxedFrame,
  MAC_BYTES,
  NONCE_BYTES,
  parseBoxed,
  parseSealed,
  type SealedFrame,
} from "./codec.ts";
import type { FrameBody } from "./frame.ts";

/** The imported shared secret. Build one with {@linkcode importSecret}. */
export interface PeerSecret {
  /** Shared-key mode. */
  readonly mode: "hmac-sha256";
  /** HMAC-SHA-256 key of the shared secret; not extractable. */
  readonly key: CryptoKey;
}

/** One configured public key of a node. */
export interface NodePublicKey {
  /** As configured: `ed25519:BASE64`; names the key in logs. */
  readonly id: string;
  /** The Ed25519 verification key. */
  readonly key: CryptoKey;
}

/**
 * Per-node keys. Lookups are made at each handshake, so a reload that changes
 * them (a key rotation) applies to the next connection.
 */
export interface NodeKeyAuth {
  /** Per-node-key mode. */
  readonly mode: "ed25519";
  /** This node's Ed25519 signing key. */
  signingKey(): CryptoKey;
  /** The keys `node` may sign with (two during a rotation); none for a node without keys. */
  publicKeys(node: NodeId): readonly NodePublicKey[];
}

/** How a node authenticates its peers: a shared key or per-node keys. */
export type PeerAuth = PeerSecret | NodeKeyAuth;

/** Which end of the TCP connection a node is. */
export type HandshakeSide = "connector" | "acceptor";

/** The sender's side of a sealed frame's direction. */
export type Direction = "connector-to-acceptor" | "acceptor-to-connector";

/** What both sides' proofs and the session key are bound to. */
export interface Transcript {
  /** Name in the dialling node's hello. */
  connectorNode: NodeId;
  /** Name in the accepting node's hello. */
  acceptorNode: NodeId;
  /** The dialling node's nonce: lowercase hex, as sent in its hello. */
  connectorNonce: string;
  /** The accepting node's nonce, likewise. */
  acceptorNonce: string;
  /** ed25519 only: the dialling node's ephemeral X25519 key, lowercase hex. */
  connectorKx?: string;
  /** ed25519 only: the accepting node's, likewise. */
  acceptorKx?: string;
}

/** Why a sealed frame was refused. */
export type AuthErrorKind = "bad_envelope" | "bad_mac" | "bad_seq" | "bad_body";

/** A sealed frame that failed verification; the caller closes the connection. */
export class AuthError extends Error {
  /** Construct with the failed check and a detail for the log. */
  constructor(readonly kind: AuthErrorKind, message: string) {
    super(message);
    this.name = "AuthError";
  }
}

const encoder = new TextEncoder();
const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" } as const;

/** Import the configured secret (bytes, or a string taken as UTF-8). An empty secret is refused. */
export async function importSecret(secret: Uint8Array | string): Promise<PeerSecret> {
  // A private copy: the caller may reuse its buffer, and WebCrypto wants a plain ArrayBuffer.
  const raw = typeof secret === "string" ? encoder.encode(secret) : new Uint8Array(secret);
  if (raw.length === 0) throw new TypeError("the shared secret is empty");
  const key = await crypto.subtle.importKey("raw", raw, HMAC_SHA256, false, ["sign"]);
  return { mode: "hmac-sha256", key };
}

/** A fresh X25519 key pair for one handshake; the public half as lowercase hex. */
export async function newKeyExchange(): Promise<{ publicHex: string; privateKey: CryptoKey }> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { publicHex: toHex(raw), privateKey: pair.privateKey };
}

/** `side`'s signature of the transcript with its node key, as lowercase hex. */
export async function signTranscript(
  key: CryptoKey,
  side: HandshakeSide,
  t: Transcript,
): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign("Ed25519", key, signInput(side, t))));
}

/** The configured key that made `sigHex` (`side`'s signature of `t`), or null if none did. */
export async function verifyTranscript(
  keys: readonly NodePublicKey[],
  side: HandshakeSide,
  t: Transcript,
  sigHex: string,
): Promise<NodePublicKey | null> {
  const input = signInput(side, t);
  const sig = fromHex(sigHex) as Uint8Array<ArrayBuffer>;
  for (const k of keys) {
    try {
      if (await crypto.subtle.verify("Ed25519", k.key, sig, input)) return k;
    } catch {
      // A key WebCrypto cannot use verifies nothing.
    }
  }
  return null;
}

/**
 * The AES-256-GCM session key of an ed25519 handshake: from the X25519
 * exchange, bound to the transcript.
 */
export async function deriveExchangedSessionKey(
  mine: CryptoKey,
  theirsHex: string,
  t: Transcript,
): Promise<CryptoKey> {
  const theirs = await crypto.subtle.importKey(
    "raw",
    fromHex(theirsHex) as Uint8Array<ArrayBuffer>,
    { name: "X25519" },
    false,
    [],
  );
  // Throws for a low-order point (all-zero shared secret): the handshake then fails.
  const shared = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "X25519", public: theirs }, mine, 256),
  );
  if (shared.every((b) => b === 0)) throw new Error("degenerate key exchange");
  const base = await crypto.subtle.importKey("raw", shared, HMAC_SHA256, false, ["sign"]);
  const raw = await hmac(base, fields("hastmon/1 session ed25519", ...transcriptFields(t)));
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** A fresh random nonce for a hello, as lowercase hex. */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

/** The proof that `side` knows the secret, as lowercase hex. */
export async function proveSecret(
  secret: PeerSecret,
  side: HandshakeSide,
  t: Transcript,
): Promise<string> {
  return toHex(await hmac(secret.key, proofInput(side, t)));
}

/** Whether `macHex` is `side`'s valid proof (constant-time comparison). */
export async function checkProof(
  secret: PeerSecret,
  side: HandshakeSide,
  t: Transcript,
  macHex: string,
): Promise<boolean> {
  const expected = await hmac(secret.key, proofInput(side, t));
  return timingSafeEqual(expected, fromHex(macHex));
}

/** The per-connection key that seals frames. */
export async function deriveSessionKey(secret: PeerSecret, t: Transcript): Promise<CryptoKey> {
  const raw = await hmac(
    secret.key,
    fields("hastmon/1 session", ...transcriptFields(t)),
  );
  return crypto.subtle.importKey("raw", raw, HMAC_SHA256, false, ["sign"]);
}

/** Seals the frames of one direction; seal in send order, never concurrently. */
export interface Sealer {
  /** The envelope carrying `body`, with the next sequence number. */
  seal(body: FrameBody): Promise<FrameBody>;
}

/** Opens the frames of one direction, in order. */
export interface Opener {
  /** The inner body of an envelope, or an AuthError. Call once per frame, in order. */
  open(obj: unknown): Promise<FrameBody | AuthError>;
}

/**
 * Seals outgoing frames of one direction. Seq numbers are taken in call
 * order: seal and write frames from one queue, never concurrently.
 */
export class FrameSealer implements Sealer {
  #session: CryptoKey;
  #direction: Direction;
  #seq = 0;

  /** Seal with `session`, sending in `direction`. */
  constructor(session: CryptoKey, direction: Direction) {
    this.#session = session;
    this.#direction = direction;
  }

  /** The envelope carrying `body`: next seq, MAC over direction, seq and JSON text. */
  async seal(body: FrameBody): Promise<SealedFrame & FrameBody> {
    const seq = this.#seq++;
    const data = JSON.stringify(body);
    const mac = await hmac(this.#session, frameInput(this.#direction, seq, data));
    return { seq, mac: toHex(mac), data };
  }
}

/** Opens incoming frames of one direction: MAC first, then the exact next seq. */
export class FrameOpener implements Opener {
  #session: CryptoKey;
  #direction: Direction;
  #expected = 0;

  /** Open with `session`, receiving frames sent in `direction`. */
  constructor(session: CryptoKey, direction: Direction) {
    this.#session = session;
    this.#direction = direction;
  }

  /** The inner body of a sealed frame, or an AuthError. Call once per frame, in order. */
  async open(obj: unknown): Promise<FrameBody | AuthError> {
    const sealed = parseSealed(obj);
    if (sealed instanceof Error) return new AuthError("bad_envelope", sealed.message);
    const expected = await hmac(
      this.#session,
      frameInput(this.#direction, sealed.seq, sealed.data),
    );
    if (!timingSafeEqual(expected, fromHex(sealed.mac))) {
      return new AuthError("bad_mac", `frame ${sealed.seq}: wrong MAC`);
    }
    if (sealed.seq !== this.#expected) {
      return new AuthError(
        "bad_seq",
        `frame seq ${sealed.seq}, expected ${this.#expected}: replayed or out of order`,
      );
    }
    this.#expected++;
    let body: unknown;
    try {
      body = JSON.parse(sealed.data);
    } catch {
      return new AuthError("bad_body", `frame ${sealed.seq}: data is not JSON`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return new AuthError("bad_body", `frame ${sealed.seq}: data is not a JSON object`);
    }
    return body as FrameBody;
  }
}

/**
 * Seals outgoing frames of one direction with AES-256-GCM (node keys): the
 * envelope is `{seq, box}`, `box` the base64 ciphertext and tag of the JSON
 * text. The nonce is the direction and the seq, so it never repeats under
 * one connection's key; direction and seq are also the additional data.
 */
export class AeadSealer implements Sealer {
  #key: CryptoKey;
  #direction: Direction;
  #seq = 0;

  /** Seal with the AES-GCM `key`, sending in `direction`. */
  constructor(key: CryptoKey, direction: Direction) {
    this.#key = key;
    this.#direction = direction;
  }

  /** The envelope carrying `body`, encrypted. */
  async seal(body: FrameBody): Promise<BoxedFrame & FrameBody> {
    const seq = this.#seq++;
    const box = new Uint8Array(
      await crypto.subtle.encrypt(
        aeadParams(this.#direction, seq),
        this.#key,
        encoder.encode(JSON.stringify(body)),
      ),
    );
    return { seq, box: toBase64(box) };
  }
}

/** Opens AES-GCM frames of one direction: authentic first, then the exact next seq. */
export class AeadOpener implements Opener {
  #key: CryptoKey;
  #direction: Direction;
  #expected = 0;

  /** Open with the AES-GCM `key`, receiving frames sent in `direction`. */
  constructor(key: CryptoKey, direction: Direction) {
    this.#key = key;
    this.#direction = direction;
  }

  /** The inner body of a boxed frame, or an AuthError. */
  async open(obj: unknown): Promise<FrameBody | AuthError> {
    const boxed = parseBoxed(obj);
    if (boxed instanceof Error) return new AuthError("bad_envelope", boxed.message);
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          aeadParams(this.#direction, boxed.seq),
          this.#key,
          fromBase64(boxed.box),
        ),
      );
    } catch {
      return new AuthError("bad_mac", `frame ${boxed.seq}: does not decrypt (forged or damaged)`);
    }
    if (boxed.seq !== this.#expected) {
      return new AuthError(
        "bad_seq",
        `frame seq ${boxed.seq}, expected ${this.#expected}: replayed or out of order`,
      );
    }
    this.#expected++;
    return parseInner(new TextDecoder().decode(plain), boxed.seq);
  }
}

function aeadParams(direction: Direction, seq: number): AesGcmParams {
  const iv = new Uint8Array(12);
  iv[0] = direction === "connector-to-acceptor" ? 1 : 2;
  new DataView(iv.buffer).setBigUint64(4, BigInt(seq), false);
  const seqBytes = new Uint8Array(8);
  new DataView(seqBytes.buffer).setBigUint64(0, BigInt(seq), false);
  return { name: "AES-GCM", iv, additionalData: fields("hastmon/1 aead", direction, seqBytes) };
}

function parseInner(data: string, seq: number): FrameBody | AuthError {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return new AuthError("bad_body", `frame ${seq}: data is not JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return new AuthError("bad_body", `frame ${seq}: data is not a JSON object`);
  }
  return body as FrameBody;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64 text (validated by the codec before it gets here). */
function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The direction in which `side` sends. */
export function sendingDirection(side: HandshakeSide): Direction {
  return side === "connector" ? "connector-to-acceptor" : "acceptor-to-connector";
}

/** The direction in which `side` receives. */
export function receivingDirection(side: HandshakeSide): Direction {
  return side === "connector" ? "acceptor-to-connector" : "connector-to-acceptor";
}

/** Compare two byte strings in time that depends only on their lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of an even-length hex string (validated by the codec before it gets here). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const byte = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    out[i] = Number.isNaN(byte) ? 0 : byte;
  }
  return out;
}

async function hmac(
  key: CryptoKey,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  if (mac.length !== MAC_BYTES) throw new Error("HMAC-SHA-256 gave an unexpected length");
  return mac;
}

function transcriptFields(t: Transcript): (string | Uint8Array)[] {
  const out = [
    fromHex(t.connectorNonce),
    fromHex(t.acceptorNonce),
    t.connectorNode,
    t.acceptorNode,
  ];
  // Shared-key transcripts stay as they were, so such nodes still talk to older ones.
  if (t.connectorKx !== undefined || t.acceptorKx !== undefined) {
    out.push(fromHex(t.connectorKx ?? ""), fromHex(t.acceptorKx ?? ""));
  }
  return out;
}

function signInput(side: HandshakeSide, t: Transcript): Uint8Array<ArrayBuffer> {
  return fields("hastmon/1 sign", side, ...transcriptFields(t));
}

function proofInput(side: HandshakeSide, t: Transcript): Uint8Array<ArrayBuffer> {
  return fields("hastmon/1 proof", side, ...transcriptFields(t));
}

function frameInput(direction: Direction, seq: number, data: string): Uint8Array<ArrayBuffer> {
  const seqBytes = new Uint8Array(8);
  new DataView(seqBytes.buffer).setBigUint64(0, BigInt(seq), false);
  return fields("hastmon/1 frame", direction, seqBytes, data);
}

/** Concatenate fields, each prefixed with its 32-bit big-endian length. */
function fields(...parts: (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const bytes = parts.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let off = 0;
  for (const b of bytes) {
    view.setUint32(off, b.length, false);
    out.set(b, off + 4);
    off += 4 + b.length;
  }
  return out;
}
