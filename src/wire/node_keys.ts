/**
 * Node key pairs (per-node authentication, auth.ts): how they are made, written
 * down and imported.
 *
 * - A public key is written `ed25519:BASE64` (32 raw bytes), in the shared
 *   configuration under `[on.NODE] public_key`.
 * - A private key file holds 64 bytes: the Ed25519 seed, then the public key
 *   (so a configuration check can tell, without crypto, which public key a
 *   file belongs to). It is binary, read as bytes, and must be mode 0600.
 */

/** Bytes of an Ed25519 public key. */
export const ED25519_PUBLIC_BYTES = 32;
/** Bytes of a node key file: the Ed25519 seed, then the public key. */
export const NODE_KEY_FILE_BYTES = 64;

/** PKCS #8 wrapping of an Ed25519 seed (RFC 8410): this prefix, then the 32 bytes. */
const PKCS8_PREFIX = Uint8Array.from(
  "302e020100300506032b657004220420".match(/../g)!,
  (h) => parseInt(h, 16),
);

/** The raw key of `ed25519:BASE64`, or null when it is not one. */
export function parsePublicKey(text: string): Uint8Array | null {
  const m = /^ed25519:([A-Za-z0-9+/]{43}=)$/.exec(text);
  if (!m) return null;
  try {
    const bin = atob(m[1]);
    if (bin.length !== ED25519_PUBLIC_BYTES) return null;
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** `ed25519:BASE64` of a raw public key. */
export function formatPublicKey(raw: Uint8Array): string {
  return `ed25519:${btoa(String.fromCharCode(...raw))}`;
}

/** A fresh node key pair: the key file's bytes and the public key line. */
export async function generateNodeKey(): Promise<{ file: Uint8Array; publicKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const file = new Uint8Array(NODE_KEY_FILE_BYTES);
  file.set(pkcs8.subarray(pkcs8.length - 32), 0);
  file.set(pub, 32);
  return { file, publicKey: formatPublicKey(pub) };
}

/**
 * Import a key file's signing key, after checking that it signs what its own
 * public half verifies (a corrupted file fails here, not at every handshake).
 */
export async function importSigningKey(file: Uint8Array): Promise<CryptoKey> {
  if (file.length !== NODE_KEY_FILE_BYTES) throw new TypeError("not a node key file");
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX, 0);
  pkcs8.set(file.subarray(0, 32), PKCS8_PREFIX.length);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const pub = await importPublicKey(file.slice(32));
  const probe = new TextEncoder().encode("hastmon key check");
  const sig = await crypto.subtle.sign("Ed25519", key, probe);
  if (!await crypto.subtle.verify("Ed25519", pub, sig, probe)) {
    throw new TypeError("the private key does not match its public key (damaged file?)");
  }
  return key;
}

/** Import a raw 32-byte public key for verifying. */
export function importPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    { name: "Ed25519" },
    false,
    ["verify"],
  );
}
