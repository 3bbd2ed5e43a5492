/**
 * The opening exchange of a peer connection.
 *
 * ```
 * connector                          acceptor
 *   hello {protocol, node, nonce, auth}  →
 *                                    ←  hello            (after checking the connector's)
 *   proof (keyed only)               →
 *                                    ←  proof            (after checking the connector's)
 * ```
 *
 * With per-node keys (auth "ed25519") each hello also carries an ephemeral
 * X25519 key and each proof is a signature of the transcript by the sender's
 * node key, checked against the public keys configured for the name it
 * claims (auth.ts).
 *
 * The acceptor answers only a valid hello, and with a key it proves itself
 * only to a connector that has already proved itself, so it never hands a MAC
 * made with the secret to an unauthenticated party. Either side may answer
 * `refuse {reason}` instead, so that both operators' logs say why (protocol
 * version, key configured on one side only, wrong key, unexpected node name).
 * The whole exchange has one deadline; the acceptor may give the first hello
 * a shorter one, so that a caller who says nothing holds no slot for long.
 */
import type { NodeId } from "../core/types.ts";
import {
  AeadOpener,
  AeadSealer,
  checkProof,
  deriveExchangedSessionKey,
  deriveSessionKey,
  FrameOpener,
  FrameSealer,
  type HandshakeSide,
  newKeyExchange,
  newNonce,
  type Opener,
  type PeerAuth,
  type PeerSecret,
  proveSecret,
  receivingDirection,
  type Sealer,
  sendingDirection,
  signTranscript,
  type Transcript,
  verifyTranscript,
} from "./auth.ts";
import {
  type AuthMode,
  type HandshakeFrame,
  type Hello,
  parseHandshake,
  PROTOCOL_VERSION,
} from "./codec.ts";
import { type ByteWriter, FrameError, type FrameReader, writeFrame } from "./frame.ts";
import { printable } from "./text.ts";

/** Cap on handshake frames: nothing big is read before the peer is authenticated. */
export const HANDSHAKE_MAX_BODY_BYTES = 4096;

/** What both sides need for the handshake. */
export interface HandshakeOptions {
  /** This node's name. */
  self: NodeId;
  /** The shared secret or this node's key pair, or null for address-based access. */
  auth: PeerAuth | null;
  /** Deadline for the whole exchange. */
  timeoutMs: number;
}

/** The outcome: who the peer is and, when keyed, how to seal and open frames. */
export interface Handshaken {
  /** The peer's node name (proved, when keyed). */
  node: NodeId;
  /** Seals outgoing frames (MAC with the shared key, AES-GCM with node keys); null without a key. */
  sealer: Sealer | null;
  /** Opens incoming frames; null without a key. */
  opener: Opener | null;
  /** ed25519: the configured public key (`ed25519:BASE64`) the peer proved; else null. */
  peerKey: string | null;
}

/** The handshake failed; the connection must be closed. */
export class HandshakeError extends Error {
  /** Construct with the reason for the log. */
  constructor(message: string) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** A fresh nonce, and with node keys an ephemeral X25519 key pair, for one hello. */
interface Ours {
  nonce: string;
  kx: { publicHex: string; privateKey: CryptoKey } | null;
}

async function ours(options: HandshakeOptions): Promise<Ours> {
  return {
    nonce: newNonce(),
    kx: options.auth?.mode === "ed25519" ? await newKeyExchange() : null,
  };
}

/**
 * Run the connector's side. `expectNode`, when given, is the only name the
 * acceptor may have. Throws HandshakeError.
 */
export async function connectorHandshake(
  conn: ByteWriter,
  reader: FrameReader,
  options: HandshakeOptions & { expectNode?: NodeId },
): Promise<Handshaken> {
  const session = new Session(conn, reader, options, "connector");
  const mine = await ours(options);
  await session.send(hello(options, mine));
  const theirs = await session.expect("hello");
  let problem = helloProblem(options, theirs);
  if (!problem && options.expectNode !== undefined && theirs.node !== options.expectNode) {
    problem = `expected node ${options.expectNode}, reached ${theirs.node}`;
  }
  if (problem) return await session.refuse(problem);
  const t: Transcript = {
    connectorNode: options.self,
    acceptorNode: theirs.node,
    connectorNonce: mine.nonce,
    acceptorNonce: theirs.nonce,
    ...kxFields(mine.kx?.publicHex, theirs.kx),
  };
  const auth = options.auth;
  if (!auth) return { node: theirs.node, sealer: null, opener: null, peerKey: null };
  if (auth.mode === "ed25519") {
    const peerKeys = auth.publicKeys(theirs.node);
    if (peerKeys.length === 0) {
      return await session.refuse(`no public key configured for node ${theirs.node}`);
    }
    await session.send({
      type: "proof",
      sig: await signTranscript(auth.signingKey(), "connector", t),
    });
    const proof = await session.expect("proof");
    const key = proof.sig === undefined
      ? null
      : await verifyTranscript(peerKeys, "acceptor", t, proof.sig);
    if (!key) {
      return await session.refuse(`${theirs.node} failed to prove its node key (wrong key?)`);
    }
    return await exchanged(session, "connector", t, mine, theirs, key.id);
  }
  await session.send({ type: "proof", mac: await proveSecret(auth, "connector", t) });
  const proof = await session.expect("proof");
  if (proof.mac === undefined || !await checkProof(auth, "acceptor", t, proof.mac)) {
    return await session.refuse(`${theirs.node} failed to prove the shared key (wrong key?)`);
  }
  return await keyed(auth, "connector", t);
}

/**
 * Why the acceptor refuses a claimed name, or null to accept: for example a
 * name that is not configured, or one that does not connect from this address.
 */
export type AcceptNode = (node: NodeId) => string | null;

/**
 * Run the acceptor's side. `acceptNode` may refuse a peer by name.
 * `helloTimeoutMs` bounds the wait for the connector's hello (default: the
 * whole timeout): a caller that says nothing is dropped early. Throws HandshakeError.
 */
export async function acceptorHandshake(
  conn: ByteWriter,
  reader: FrameReader,
  options: HandshakeOptions & { acceptNode?: AcceptNode; helloTimeoutMs?: number },
): Promise<Handshaken> {
  const session = new Session(conn, reader, options, "acceptor");
  const theirs = await session.expect("hello", options.helloTimeoutMs);
  let problem = helloProblem(options, theirs);
  if (!problem && options.acceptNode) problem = options.acceptNode(theirs.node);
  const auth = options.auth;
  if (!problem && auth?.mode === "ed25519" && auth.publicKeys(theirs.node).length === 0) {
    problem = `no public key configured for node ${theirs.node}`;
  }
  if (problem) return await session.refuse(problem);
  const mine = await ours(options);
  await session.send(hello(options, mine));
  if (!auth) return { node: theirs.node, sealer: null, opener: null, peerKey: null };
  const t: Transcript = {
    connectorNode: theirs.node,
    acceptorNode: options.self,
    connectorNonce: theirs.nonce,
    acceptorNonce: mine.nonce,
    ...kxFields(theirs.kx, mine.kx?.publicHex),
  };
  const proof = await session.expect("proof");
  if (auth.mode === "ed25519") {
    const key = proof.sig === undefined
      ? null
      : await verifyTranscript(auth.publicKeys(theirs.node), "connector", t, proof.sig);
    if (!key) {
      return await session.refuse(`${theirs.node} failed to prove its node key (wrong key?)`);
    }
    await session.send({
      type: "proof",
      sig: await signTranscript(auth.signingKey(), "acceptor", t),
    });
    return await exchanged(session, "acceptor", t, mine, theirs, key.id);
  }
  if (proof.mac === undefined || !await checkProof(auth, "connector", t, proof.mac)) {
    return await session.refuse(`${theirs.node} failed to prove the shared key (wrong key?)`);
  }
  await session.send({ type: "proof", mac: await proveSecret(auth, "acceptor", t) });
  return await keyed(auth, "acceptor", t);
}

function kxFields(connectorKx?: string, acceptorKx?: string): Partial<Transcript> {
  if (connectorKx === undefined && acceptorKx === undefined) return {};
  return { connectorKx: connectorKx ?? "", acceptorKx: acceptorKx ?? "" };
}

function authMode(options: HandshakeOptions): AuthMode {
  return options.auth?.mode ?? "none";
}

function hello(options: HandshakeOptions, mine: Ours): Hello {
  const h: Hello = {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: options.self,
    nonce: mine.nonce,
    auth: authMode(options),
  };
  if (mine.kx) h.kx = mine.kx.publicHex;
  return h;
}

/** Why a peer's hello is unacceptable, or null. */
function helloProblem(options: HandshakeOptions, theirs: Hello): string | null {
  if (theirs.protocol !== PROTOCOL_VERSION) {
    return `protocol mismatch: ${theirs.node} speaks ${theirs.protocol}, ${options.self} speaks ${PROTOCOL_VERSION}`;
  }
  const mine = authMode(options);
  if (theirs.auth !== mine) {
    return `key mismatch: ${theirs.node} uses auth ${theirs.auth}, ${options.self} uses ${mine}`;
  }
  if (theirs.node === options.self) return `peer claims this node's own name ${options.self}`;
  return null;
}

async function keyed(secret: PeerSecret, side: HandshakeSide, t: Transcript): Promise<Handshaken> {
  const session = await deriveSessionKey(secret, t);
  return {
    node: side === "connector" ? t.acceptorNode : t.connectorNode,
    sealer: new FrameSealer(session, sendingDirection(side)),
    opener: new FrameOpener(session, receivingDirection(side)),
    peerKey: null,
  };
}

async function exchanged(
  session: Session,
  side: HandshakeSide,
  t: Transcript,
  mine: Ours,
  theirs: Hello,
  peerKey: string,
): Promise<Handshaken> {
  let key: CryptoKey;
  try {
    key = await deriveExchangedSessionKey(mine.kx!.privateKey, theirs.kx!, t);
  } catch (e) {
    return await session.refuse(`key exchange with ${theirs.node} failed: ${(e as Error).message}`);
  }
  return {
    node: theirs.node,
    sealer: new AeadSealer(key, sendingDirection(side)),
    opener: new AeadOpener(key, receivingDirection(side)),
    peerKey,
  };
}

/** One handshake's I/O under one deadline. */
class Session {
  #conn: ByteWriter;
  #reader: FrameReader;
  #timeoutMs: number;
  #side: HandshakeSide;
  #deadline: number;

  constructor(
    conn: ByteWriter,
    reader: FrameReader,
    options: HandshakeOptions,
    side: HandshakeSide,
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.#timeoutMs = options.timeoutMs;
    this.#side = side;
    this.#deadline = performance.now() + options.timeoutMs;
  }

  #left(): number {
    return Math.max(1, this.#deadline - performance.now());
  }

  async send(frame: HandshakeFrame): Promise<void> {
    try {
      await writeFrame(this.#conn, { ...frame }, this.#left());
    } catch (e) {
      throw new HandshakeError(`handshake (${this.#side}): ${(e as Error).message}`);
    }
  }

  /** The next frame, which must be a `type`; within `withinMs` if given, else by the deadline. */
  async expect<T extends "hello" | "proof">(
    type: T,
    withinMs?: number,
  ): Promise<Extract<HandshakeFrame, { type: T }>> {
    let body;
    const wait = Math.min(this.#left(), withinMs ?? Infinity);
    try {
      body = await this.#reader.read(wait);
    } catch (e) {
      const detail = e instanceof FrameError && e.kind === "timeout"
        ? `no ${type} within ${Math.round(wait)} ms`
        : (e as Error).message;
      throw new HandshakeError(`handshake (${this.#side}): ${detail}`);
    }
    const frame = parseHandshake(body);
    if (frame instanceof Error) {
      throw new HandshakeError(`handshake (${this.#side}): ${frame.message}`);
    }
    if (frame.type === "refuse") {
      throw new HandshakeError(`refused by peer: ${printable(frame.reason)}`);
    }
    if (frame.type !== type) {
      return await this.refuse(`handshake (${this.#side}): expected ${type}, got ${frame.type}`);
    }
    return frame as Extract<HandshakeFrame, { type: T }>;
  }

  /** Tell the peer why (best effort, bounded), then fail. */
  async refuse(reason: string): Promise<never> {
    try {
      await writeFrame(this.#conn, { type: "refuse", reason }, Math.min(this.#left(), 1000));
    } catch {
      // The peer may already be gone; the reason is logged locally anyway.
    }
    throw new HandshakeError(reason);
  }
}
