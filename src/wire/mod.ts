/**
 * Between nodes: the frame codec (also used by the control socket), strict
 * message decoding, shared-secret authentication, and the peer transport.
 *
 * - frame.ts: header + length + JSON frames, incremental decoder, timed I/O
 * - codec.ts: the core's `Message` union, batches and handshake frames
 * - auth.ts: HMAC-SHA-256 challenge-response and sealed frames
 * - handshake.ts: the opening exchange of a peer connection
 * - peer.ts: connect, and the connection it and the listener produce
 * - peer_listener.ts: the listener
 */
export * from "./frame.ts";
export * from "./codec.ts";
export * from "./auth.ts";
export * from "./handshake.ts";
export * from "./peer.ts";
export * from "./peer_listener.ts";
