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
 * The acceptor answers only a valid hello, and with a key it proves itself
 * only to a connector that has already proved itself, so it never hands a MAC
 * made with the secret to an unauthenticated party. Either side may answer
 * `refuse {reason}` instead, so that both operators' logs say why (protocol
 * version, key configured on one side only, wrong key, unexpected node name).
 * The whole exchange has one deadline.
 */
import type { NodeId } from "../core/types.ts";
import {
  checkProof,
  deriveSessionKey,
  FrameOpener,
  FrameSealer,
  type HandshakeSide,
  newNonce,
  type PeerSecret,
  proveSecret,
  receivingDirection,
  sendingDirection,
  type Transcript,
} from "./auth.ts";
import {
  type AuthMode,
  type HandshakeFrame,
  type Hello,
  parseHandshake,
  PROTOCOL_VERSION,
} from "./codec.ts";
import { type ByteWriter, FrameError, type FrameReader, writeFrame } from "./frame.ts";

/** Cap on handshake frames: nothing big is read before the peer is authenticated. */
export const HANDSHAKE_MAX_BODY_BYTES = 4096;

/** What both sides need for the handshake. */
export interface HandshakeOptions {
  /** This node's name. */
  self: NodeId;
  /** The shared secret, or null for address-based access. */
  secret: PeerSecret | null;
  /** Deadline for the whole exchange. */
  timeoutMs: number;
}

/** The outcome: who the peer is and, when keyed, how to seal and open frames. */
export interface Handshaken {
  /** The peer's node name (proved, when keyed). */
  node: NodeId;
  /** Seals outgoing frames; null without a secret. */
  sealer: FrameSealer | null;
  /** Opens incoming frames; null without a secret. */
  opener: FrameOpener | null;
}

/** The handshake failed; the connection must be closed. */
export class HandshakeError extends Error {
  /** Construct with the reason for the log. */
  constructor(message: string) {
    super(message);
    this.name = "HandshakeError";
  }
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
  const nonce = newNonce();
  await session.send(hello(options, nonce));
  const theirs = await session.expect("hello");
  let problem = helloProblem(options, theirs);
  if (!problem && options.expectNode !== undefined && theirs.node !== options.expectNode) {
    problem = `expected node ${options.expectNode}, reached ${theirs.node}`;
  }
  if (problem) return await session.refuse(problem);
  const t: Transcript = {
    connectorNode: options.self,
    acceptorNode: theirs.node,
    connectorNonce: nonce,
    acceptorNonce: theirs.nonce,
  };
  if (!options.secret) return { node: theirs.node, sealer: null, opener: null };
  await session.send({ type: "proof", mac: await proveSecret(options.secret, "connector", t) });
  const proof = await session.expect("proof");
  if (!await checkProof(options.secret, "acceptor", t, proof.mac)) {
    return await session.refuse(`${theirs.node} failed to prove the shared key (wrong key?)`);
  }
  return await keyed(options.secret, "connector", t);
}

/**
 * Run the acceptor's side. `acceptNode` may refuse a peer by name (for
 * example, a name that is not configured). Throws HandshakeError.
 */
export async function acceptorHandshake(
  conn: ByteWriter,
  reader: FrameReader,
  options: HandshakeOptions & { acceptNode?: (node: NodeId) => boolean },
): Promise<Handshaken> {
  const session = new Session(conn, reader, options, "acceptor");
  const theirs = await session.expect("hello");
  let problem = helloProblem(options, theirs);
  if (!problem && options.acceptNode && !options.acceptNode(theirs.node)) {
    problem = `node ${theirs.node} is not accepted by ${options.self}`;
  }
  if (problem) return await session.refuse(problem);
  const nonce = newNonce();
  await session.send(hello(options, nonce));
  if (!options.secret) return { node: theirs.node, sealer: null, opener: null };
  const t: Transcript = {
    connectorNode: theirs.node,
    acceptorNode: options.self,
    connectorNonce: theirs.nonce,
    acceptorNonce: nonce,
  };
  const proof = await session.expect("proof");
  if (!await checkProof(options.secret, "connector", t, proof.mac)) {
    return await session.refuse(`${theirs.node} failed to prove the shared key (wrong key?)`);
  }
  await session.send({ type: "proof", mac: await proveSecret(options.secret, "acceptor", t) });
  return await keyed(options.secret, "acceptor", t);
}

function authMode(options: HandshakeOptions): AuthMode {
  return options.secret ? "hmac-sha256" : "none";
}

function hello(options: HandshakeOptions, nonce: string): Hello {
  return {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: options.self,
    nonce,
    auth: authMode(options),
  };
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

  async expect<T extends "hello" | "proof">(
    type: T,
  ): Promise<Extract<HandshakeFrame, { type: T }>> {
    let body;
    try {
      body = await this.#reader.read(this.#left());
    } catch (e) {
      const detail = e instanceof FrameError && e.kind === "timeout"
        ? `no ${type} within ${this.#timeoutMs} ms`
        : (e as Error).message;
      throw new HandshakeError(`handshake (${this.#side}): ${detail}`);
    }
    const frame = parseHandshake(body);
    if (frame instanceof Error) {
      throw new HandshakeError(`handshake (${this.#side}): ${frame.message}`);
    }
    if (frame.type === "refuse") throw new HandshakeError(`refused by peer: ${frame.reason}`);
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
