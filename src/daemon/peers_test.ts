/** What the peer links coalesce into one frame. */
import { assertEquals } from "../../tests/assert.ts";
import type { Message } from "../core/types.ts";
import { latestOnly } from "./peers.ts";

const hb = (resource: string, seq: number): Message => ({
  type: "heartbeat",
  resource,
  epoch: 1,
  role: "primary",
  state: "running",
  seq,
  leaseMs: 3000,
  stopTimeoutMs: 1000,
});
const ack = (resource: string, seq: number, granted: boolean): Message => ({
  type: "ack",
  resource,
  epoch: 1,
  role: "watchdog",
  state: "unknown",
  seq,
  granted,
  ...(granted ? { leaseMs: 3000, stopTimeoutMs: 1000 } : { reason: "lease held by b" }),
});
const release = (resource: string): Message => ({
  type: "release",
  resource,
  epoch: 1,
  successor: null,
});

Deno.test("peers: of the heartbeats and acks of one resource waiting together, the last goes", () => {
  const frame = latestOnly([
    hb("r1", 1),
    ack("r1", 7, true),
    hb("r2", 1),
    release("r1"),
    hb("r1", 2),
    ack("r1", 8, false), // a refusal after a grant: what holds now
    release("r1"),
  ]);
  assertEquals(frame, [
    hb("r2", 1),
    release("r1"),
    hb("r1", 2),
    ack("r1", 8, false),
    release("r1"),
  ]);
  // Nothing to drop: unchanged, in order.
  const plain = [hb("r1", 1), hb("r2", 1), ack("r3", 1, true)];
  assertEquals(latestOnly(plain), plain);
});
