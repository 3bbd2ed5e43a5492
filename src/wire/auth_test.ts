import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import {
  AuthError,
  checkProof,
  deriveSessionKey,
  FrameOpener,
  FrameSealer,
  fromHex,
  importSecret,
  newNonce,
  proveSecret,
  timingSafeEqual,
  toHex,
  type Transcript,
} from "./auth.ts";

function transcript(): Transcript {
  return {
    connectorNode: "nodeA",
    acceptorNode: "nodeB",
    connectorNonce: newNonce(),
    acceptorNonce: newNonce(),
  };
}

Deno.test("auth: a proof verifies only with the same secret, side and transcript", async () => {
  const secret = await importSecret("s3cret");
  const other = await importSecret("other");
  const t = transcript();
  const proof = await proveSecret(secret, "connector", t);
  assert(/^[0-9a-f]{64}$/.test(proof));
  assert(await checkProof(secret, "connector", t, proof));
  assert(!await checkProof(other, "connector", t, proof), "wrong secret");
  assert(!await checkProof(secret, "acceptor", t, proof), "reflected to the other side");
  assert(
    !await checkProof(secret, "connector", { ...t, acceptorNonce: newNonce() }, proof),
    "stale",
  );
  assert(!await checkProof(secret, "connector", { ...t, connectorNode: "nodeC" }, proof), "name");
});

Deno.test("auth: the secret may be bytes or text, never empty", async () => {
  const t = transcript();
  const fromText = await importSecret("key");
  const fromBytes = await importSecret(new TextEncoder().encode("key"));
  assertEquals(
    await proveSecret(fromText, "acceptor", t),
    await proveSecret(fromBytes, "acceptor", t),
  );
  await assertRejects(() => importSecret(""), "empty");
});

async function sessionPair(t = transcript()) {
  const secret = await importSecret("s3cret");
  const a = await deriveSessionKey(secret, t);
  const b = await deriveSessionKey(secret, t);
  return {
    sealer: new FrameSealer(a, "connector-to-acceptor"),
    opener: new FrameOpener(b, "connector-to-acceptor"),
    reverse: new FrameOpener(b, "acceptor-to-connector"),
  };
}

function kind(result: unknown): string {
  return result instanceof AuthError ? result.kind : "accepted";
}

Deno.test("auth: sealed frames open in order on the other side", async () => {
  const { sealer, opener } = await sessionPair();
  for (let i = 0; i < 3; i++) {
    const sealed = await sealer.seal({ n: i, text: "é\u2028" });
    assertEquals(sealed.seq, i);
    assertEquals(await opener.open(JSON.parse(JSON.stringify(sealed))), { n: i, text: "é\u2028" });
  }
});

Deno.test("auth: tampered, replayed, reordered, reflected or foreign frames are refused", async () => {
  const { sealer, opener, reverse } = await sessionPair();
  const f0 = await sealer.seal({ n: 0 });
  const f1 = await sealer.seal({ n: 1 });
  const f2 = await sealer.seal({ n: 2 });
  assertEquals(kind(await opener.open({ ...f0, data: '{"n":9}' })), "bad_mac");
  assertEquals(kind(await opener.open({ ...f0, seq: 1 })), "bad_mac");
  assertEquals(kind(await opener.open({ ...f0, mac: "0".repeat(64) })), "bad_mac");
  assertEquals(kind(await opener.open({ ...f0, mac: "00" })), "bad_envelope");
  assertEquals(kind(await opener.open({ n: 0 })), "bad_envelope");
  assertEquals(kind(await reverse.open(f0)), "bad_mac");
  assertEquals(kind(await opener.open(f1)), "bad_seq"); // skipped ahead
  assertEquals(kind(await opener.open(f0)), "accepted");
  assertEquals(kind(await opener.open(f0)), "bad_seq"); // replay
  assertEquals(kind(await opener.open(f2)), "bad_seq"); // reordered
  assertEquals(kind(await opener.open(f1)), "accepted");
  const { opener: foreign } = await sessionPair();
  assertEquals(kind(await foreign.open(f0)), "bad_mac"); // another connection's frame
});

Deno.test("auth: authentic data that is not a JSON object is refused", async () => {
  const key = await deriveSessionKey(await importSecret("s3cret"), transcript());
  const opener = new FrameOpener(key, "acceptor-to-connector");
  const sealer = new FrameSealer(key, "acceptor-to-connector");
  const fake = await sealer.seal([1] as unknown as Record<string, unknown>);
  assertEquals(kind(await opener.open(fake)), "bad_body");
});

Deno.test("auth: hex and constant-time comparison helpers", () => {
  const bytes = Uint8Array.of(0, 1, 0xab, 0xff);
  assertEquals(toHex(bytes), "0001abff");
  assertEquals([...fromHex("0001abff")], [...bytes]);
  assert(timingSafeEqual(bytes, Uint8Array.of(0, 1, 0xab, 0xff)));
  assert(!timingSafeEqual(bytes, Uint8Array.of(0, 1, 0xab, 0xfe)));
  assert(!timingSafeEqual(bytes, Uint8Array.of(0, 1, 0xab)));
  assert(newNonce() !== newNonce());
});
