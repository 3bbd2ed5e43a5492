import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import type { Message } from "../core/types.ts";
import {
  batchBody,
  type Hello,
  InvalidMessage,
  MAX_BATCH_MESSAGES,
  MAX_REASON_LENGTH,
  parseBatch,
  parseHandshake,
  parseMessage,
  parseSealed,
} from "./codec.ts";
import { MAX_PEER_TEXT } from "./text.ts";

const heartbeat: Message = {
  type: "heartbeat",
  resource: "db",
  epoch: 3,
  role: "primary",
  state: "running",
  seq: 17,
  leaseMs: 3000,
  stopTimeoutMs: 5000,
};
const ack: Message = {
  type: "ack",
  resource: "db",
  epoch: 3,
  role: "secondary",
  state: "stopped",
  seq: 17,
  granted: false,
  holder: { node: "nodeA", epoch: 3 },
  reason: "nodeA holds a live lease",
};
const bareAck: Message = { ...ack, granted: true, leaseMs: 3000, stopTimeoutMs: 5000 } as Message;
delete (bareAck as { holder?: unknown }).holder;
delete (bareAck as { reason?: unknown }).reason;
const complaint: Message = {
  type: "complaint",
  resource: "db",
  epoch: 3,
  reason: "status exited 1",
  primary: "nodeA",
  silenceMs: 2500.5,
};
const release: Message = { type: "release", resource: "db", epoch: 4, successor: null };
const fenced: Message = { type: "fenced", resource: "db", epoch: 5, node: "nodeA", nodeEpoch: 4 };

const VALID: Message[] = [
  heartbeat,
  ack,
  bareAck,
  complaint,
  { ...complaint, primary: null },
  release,
  {
    ...release,
    successor: "nodeB",
  },
  fenced,
];

/** Through JSON, as a peer would send it. */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

Deno.test("codec: every valid message decodes to an equal, fresh object", () => {
  for (const msg of VALID) {
    const input = wire(msg);
    const out = parseMessage(input);
    assert(!(out instanceof Error), `${msg.type}: ${out}`);
    assertEquals(out, msg);
    assert(out !== input, "the peer's object must not be passed through");
  }
});

/** Replace (or with `undefined`, remove) one field of a valid message. */
function mutate(msg: Message, field: string, value: unknown): unknown {
  const copy = wire(msg) as Record<string, unknown>;
  if (value === undefined) delete copy[field];
  else copy[field] = value;
  return copy;
}

Deno.test("codec: every malformed message class is rejected with the field named", () => {
  const cases: [string, unknown, string][] = [
    ["not an object", "heartbeat", "message"],
    ["null", null, "message"],
    ["array", [heartbeat], "message"],
    ["no type", mutate(heartbeat, "type", undefined), "message"],
    ["unknown type", mutate(heartbeat, "type", "takeover"), "message.type"],
    ["type not a string", mutate(heartbeat, "type", 1), "message.type"],
    ["unknown field", { ...heartbeat, extra: 1 }, "unknown field"],
    [
      "prototype key",
      JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(release).slice(1)}`),
      "unknown field",
    ],
    ["missing resource", mutate(heartbeat, "resource", undefined), "message.resource"],
    ["empty resource", mutate(heartbeat, "resource", ""), "message.resource"],
    ["resource too long", mutate(heartbeat, "resource", "r".repeat(256)), "at most 255"],
    ["resource with newline", mutate(heartbeat, "resource", "db\nFAKE LOG"), "control"],
    ["resource not a string", mutate(heartbeat, "resource", 7), "message.resource"],
    ["negative epoch", mutate(heartbeat, "epoch", -1), "message.epoch"],
    ["fractional epoch", mutate(heartbeat, "epoch", 1.5), "message.epoch"],
    ["unsafe epoch", mutate(heartbeat, "epoch", 2 ** 53), "message.epoch"],
    ["epoch above 2^52", mutate(heartbeat, "epoch", 2 ** 52 + 1), "from 0 to 2^52"],
    ["fenced epoch above 2^52", mutate(fenced, "nodeEpoch", 2 ** 52 + 1), "nodeEpoch"],
    ["string epoch", mutate(heartbeat, "epoch", "3"), "message.epoch"],
    ["negative seq", mutate(heartbeat, "seq", -5), "message.seq"],
    ["missing seq", mutate(heartbeat, "seq", undefined), "message.seq"],
    ["unknown role", mutate(heartbeat, "role", "master"), "message.role"],
    ["role from prototype", mutate(heartbeat, "role", "toString"), "message.role"],
    ["unknown state", mutate(heartbeat, "state", "fine"), "message.state"],
    ["a priority (the configuration's to say)", mutate(heartbeat, "priority", 1), "unknown field"],
    ["negative duration", mutate(heartbeat, "leaseMs", -1), "message.leaseMs"],
    ["infinite duration (null in JSON)", mutate(heartbeat, "stopTimeoutMs", null), "stopTimeoutMs"],
    ["string duration", mutate(complaint, "silenceMs", "10"), "message.silenceMs"],
    ["granted not boolean", mutate(ack, "granted", 1), "message.granted"],
    ["holder not an object", mutate(ack, "holder", "nodeA"), "message.holder"],
    [
      "holder with bad epoch",
      mutate(ack, "holder", { node: "a", epoch: -1 }),
      "holder.epoch",
    ],
    [
      "holder with extra field",
      mutate(ack, "holder", { node: "a", epoch: 1, priority: 1 }),
      "unknown field",
    ],
    ["holder null", mutate(ack, "holder", null), "message.holder"],
    ["reason not a string", mutate(ack, "reason", 42), "message.reason"],
    ["reason too long", mutate(complaint, "reason", "x".repeat(1025)), "at most 1024"],
    ["complaint without reason", mutate(complaint, "reason", undefined), "message.reason"],
    ["primary empty", mutate(complaint, "primary", ""), "message.primary"],
    ["primary missing", mutate(complaint, "primary", undefined), "message.primary"],
    ["successor missing", mutate(release, "successor", undefined), "message.successor"],
    ["successor not a name", mutate(release, "successor", 3), "message.successor"],
  ];
  for (const [name, input, where] of cases) {
    const out = parseMessage(input);
    assert(out instanceof InvalidMessage, `${name}: accepted ${JSON.stringify(out)}`);
    assertStringIncludes(out.message, where, name);
  }
});

Deno.test("codec: error text never echoes a long peer string", () => {
  const out = parseMessage(mutate(heartbeat, "role", "x".repeat(5000)));
  assert(out instanceof InvalidMessage);
  assert(out.message.length < 200, out.message);
});

Deno.test("codec: a peer's reason reaches the node at most 200 characters long", () => {
  const long = "y".repeat(MAX_REASON_LENGTH);
  const cut = "y".repeat(MAX_PEER_TEXT) + "…";
  for (const msg of [{ ...complaint, reason: long }, { ...ack, reason: long }]) {
    assertEquals(parseMessage(wire(msg)), { ...msg, reason: cut } as Message, msg.type);
  }
  const result = { type: "check_result", resource: "db", epoch: 1, id: 2, ok: false, reason: long };
  assertEquals(parseMessage(wire(result)), { ...result, reason: cut } as Message);
  const inBatch = parseBatch(wire(batchBody([{ ...complaint, reason: long }])));
  assert(!(inBatch instanceof InvalidMessage));
  assertEquals(inBatch.messages, [{ ...complaint, reason: cut }]);
  assertEquals(parseHandshake(wire({ type: "refuse", reason: long })), {
    type: "refuse",
    reason: cut,
  });
  // Short text is not touched; astral characters count as one.
  const short = "💥".repeat(MAX_PEER_TEXT);
  assertEquals(parseMessage(wire({ ...complaint, reason: short })), {
    ...complaint,
    reason: short,
  });
});

Deno.test("codec: batch round trip, including an empty batch", () => {
  assertEquals(parseBatch(wire(batchBody(VALID))), { messages: VALID, invalid: [] });
  assertEquals(parseBatch(wire(batchBody([]))), { messages: [], invalid: [] });
});

Deno.test("codec: a bad message in a batch is dropped alone, the others go through", () => {
  const out = parseBatch(
    wire({ type: "batch", messages: [heartbeat, { ...release, epoch: -1 }, complaint] }),
  );
  assert(!(out instanceof InvalidMessage));
  assertEquals(out.messages, [heartbeat, complaint]);
  assertEquals(out.invalid.length, 1);
  assertStringIncludes(out.invalid[0], "messages[1].epoch");
});

Deno.test("codec: malformed batches are rejected", () => {
  const cases: [string, unknown, string][] = [
    ["wrong type", { type: "batches", messages: [] }, "batch.type"],
    ["messages not an array", { type: "batch", messages: {} }, "batch.messages"],
    ["missing messages", { type: "batch" }, "batch.messages"],
    ["extra field", { type: "batch", messages: [], from: "x" }, "unknown field"],
    [
      "too many messages",
      { type: "batch", messages: new Array(MAX_BATCH_MESSAGES + 1).fill(release) },
      "at most 4096",
    ],
  ];
  for (const [name, input, where] of cases) {
    const out = parseBatch(wire(input));
    assert(out instanceof InvalidMessage, `${name}: accepted`);
    assertStringIncludes(out.message, where, name);
  }
  assert(parseBatch({ type: "batch", messages: [release, release] }, 1) instanceof InvalidMessage);
});

const NONCE = "ab".repeat(32);

Deno.test("codec: handshake frames", () => {
  const hello: Hello = { type: "hello", protocol: 1, node: "nodeA", nonce: NONCE, auth: "none" };
  assertEquals(parseHandshake(wire(hello)), hello);
  assertEquals(parseHandshake({ type: "proof", mac: NONCE }), { type: "proof", mac: NONCE });
  assertEquals(parseHandshake({ type: "refuse", reason: "no" }), { type: "refuse", reason: "no" });
  const bad: [string, unknown][] = [
    ["no type", { ...hello, type: undefined }],
    ["batch before hello", batchBody([])],
    ["short nonce", { ...hello, nonce: "ab" }],
    ["uppercase nonce", { ...hello, nonce: NONCE.toUpperCase() }],
    ["unknown auth", { ...hello, auth: "md5" }],
    ["empty node", { ...hello, node: "" }],
    ["negative protocol", { ...hello, protocol: -1 }],
    ["extra field", { ...hello, time: 1 }],
    ["proof not hex", { type: "proof", mac: "zz".repeat(32) }],
  ];
  for (const [name, input] of bad) {
    assert(parseHandshake(wire(input)) instanceof InvalidMessage, name);
  }
});

Deno.test("codec: sealed envelope", () => {
  const ok = { seq: 0, mac: NONCE, data: "{}" };
  assertEquals(parseSealed(ok), ok);
  assert(parseSealed({ ...ok, seq: -1 }) instanceof InvalidMessage);
  assert(parseSealed({ ...ok, data: {} }) instanceof InvalidMessage);
  assert(parseSealed({ ...ok, mac: "00" }) instanceof InvalidMessage);
  assert(parseSealed({ ...ok, type: "batch" }) instanceof InvalidMessage);
});
