import { assert, assertEquals } from "../../tests/assert.ts";
import {
  AeadOpener,
  AeadSealer,
  type AuthError,
  type NodeKeyAuth,
  type NodePublicKey,
} from "./auth.ts";
import {
  formatPublicKey,
  generateNodeKey,
  importPublicKey,
  importSigningKey,
  parsePublicKey,
} from "./node_keys.ts";
import { connectPeer, type PeerConnection } from "./peer.ts";
import { listenPeers } from "./peer_listener.ts";
import { printable } from "./text.ts";

interface NodeKey {
  signing: CryptoKey;
  pub: NodePublicKey;
}

async function newKey(): Promise<NodeKey> {
  const { file, publicKey } = await generateNodeKey();
  assertEquals(formatPublicKey(file.subarray(32)), publicKey);
  const raw = parsePublicKey(publicKey)!;
  return {
    signing: await importSigningKey(file),
    pub: { id: publicKey, key: await importPublicKey(raw) },
  };
}

function authOf(mine: NodeKey, known: Record<string, NodeKey[]>): NodeKeyAuth {
  return {
    mode: "ed25519",
    signingKey: () => mine.signing,
    publicKeys: (node) => (known[node] ?? []).map((k) => k.pub),
  };
}

/** Listen as nodeB with `auth`, dial as `self` with `dialAuth`; the two ends, or the dial error. */
async function handshake(
  listenAuth: NodeKeyAuth,
  self: string,
  dialAuth: NodeKeyAuth,
): Promise<{ client: PeerConnection; server: PeerConnection } | Error> {
  const logs: string[] = [];
  let arrived!: (c: PeerConnection) => void;
  const accepted = new Promise<PeerConnection>((r) => arrived = r);
  const listener = listenPeers({
    self: "nodeB",
    auth: listenAuth,
    refusalSummaryMs: 0,
    timeoutMs: 1000,
    idleTimeoutMs: 2000,
    hostname: "127.0.0.1",
    port: 0,
    log: (_l, m) => logs.push(m),
    allowed: () => true,
    onConnection: arrived,
  });
  try {
    const client = await connectPeer({
      self,
      auth: dialAuth,
      timeoutMs: 1000,
      idleTimeoutMs: 2000,
      hostname: "127.0.0.1",
      port: listener.port,
      log: () => {},
    });
    const server = await accepted;
    const got = (async () => {
      for await (const batch of server) return batch;
    })();
    await client.send([{ type: "release", resource: "r", epoch: 1, successor: null }]);
    assertEquals((await got)?.from, self);
    await client.close();
    return { client, server };
  } catch (e) {
    return e as Error;
  } finally {
    await listener.close();
  }
}

Deno.test("node keys: each side proves its own name; frames flow sealed with the exchanged key", async () => {
  const a = await newKey(), b = await newKey();
  const r = await handshake(authOf(b, { nodeA: [a] }), "nodeA", authOf(a, { nodeB: [b] }));
  assert(!(r instanceof Error), String(r));
  assertEquals(r.client.peerKey, b.pub.id);
  assertEquals(r.server.peerKey, a.pub.id);
  assert(r.client.keyed && r.server.keyed);
});

Deno.test("node keys: a key cannot speak as another node; the verifier names the key it accepted", async () => {
  const a = await newKey(), b = await newKey(), w = await newKey();
  // w's key, claiming to be nodeA.
  const forged = await handshake(
    authOf(b, { nodeA: [a], nodeW: [w] }),
    "nodeA",
    authOf(w, { nodeB: [b] }),
  );
  assert(
    forged instanceof Error && /failed to prove its node key/.test(forged.message),
    String(forged),
  );
  // The acceptor must prove itself too: a listener with the wrong key is refused by the dialler.
  const impostor = await handshake(authOf(w, { nodeA: [a] }), "nodeA", authOf(a, { nodeB: [b] }));
  assert(
    impostor instanceof Error && /nodeB failed to prove/.test(impostor.message),
    String(impostor),
  );
  // No key configured for the claimed name: refused before any proof.
  const unknown = await handshake(authOf(b, {}), "nodeA", authOf(a, { nodeB: [b] }));
  assert(
    unknown instanceof Error && /no public key configured for node nodeA/.test(unknown.message),
  );
});

Deno.test("node keys: during a rotation either listed key is accepted", async () => {
  const old = await newKey(), fresh = await newKey(), b = await newKey();
  const listening = authOf(b, { nodeA: [old, fresh] });
  for (const key of [old, fresh]) {
    const r = await handshake(listening, "nodeA", authOf(key, { nodeB: [b] }));
    assert(!(r instanceof Error), String(r));
    assertEquals(r.server.peerKey, key.pub.id);
  }
});

Deno.test("node keys: the public key text is strict", () => {
  assertEquals(parsePublicKey("ed25519:abc"), null);
  assertEquals(parsePublicKey("ed25519:" + btoa("x".repeat(31)) + "="), null);
  assertEquals(parsePublicKey("rsa:" + btoa("x".repeat(32))), null);
  assertEquals(parsePublicKey("ed25519:" + btoa("x".repeat(32)))?.length, 32);
});

Deno.test("peer text: control, bidi and separator characters are escaped, and long text is cut", () => {
  assertEquals(printable("ok reason"), "ok reason");
  assertEquals(printable("a\nb\u202ec\u0007"), "a\\u{a}b\\u{202e}c\\u{7}");
  assertEquals(printable("x".repeat(300)).length, 201);
  assertEquals(printable("-rf /", 3), "-rf…");
});

Deno.test("node keys: frames are encrypted; a flipped, replayed, reflected or reordered frame is refused", async () => {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "AES-GCM" },
    false,
    ["encrypt", "decrypt"],
  );
  const sealer = new AeadSealer(key, "connector-to-acceptor");
  const opener = new AeadOpener(key, "connector-to-acceptor");
  const secret = { type: "batch", messages: [], note: "secret-words" };
  const first = await sealer.seal(secret);
  assert(!JSON.stringify(first).includes("secret-words"), "plaintext on the wire");
  assertEquals(await opener.open(first), secret);
  const second = await sealer.seal(secret);
  const box = first.box as string;
  const flipped = { seq: 1, box: (box[0] === "A" ? "B" : "A") + box.slice(1) };
  assertEquals((await opener.open(flipped) as AuthError).kind, "bad_mac");
  assertEquals((await opener.open(first) as AuthError).kind, "bad_seq"); // replayed
  const reflected = new AeadOpener(key, "acceptor-to-connector");
  assertEquals((await reflected.open(first) as AuthError).kind, "bad_mac");
  assertEquals(await opener.open(second), secret);
  assertEquals((await opener.open({ seq: 2, box: "!!" }) as AuthError).kind, "bad_envelope");
});
