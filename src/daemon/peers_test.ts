/** What the peer links coalesce into one frame. */
import { assertEquals } from "../../tests/assert.ts";
import type { Message } from "../core/types.ts";
import { ackMsg, hb } from "../core/test_helpers.ts";
import { loadConfig } from "../config/mod.ts";
import { Logger, MemorySink } from "./log.ts";
import { PeerAccess } from "./peer_access.ts";
import { latestOnly, Peers } from "./peers.ts";

const heartbeat = (resource: string, seq: number): Message => hb({ resource, seq });
const ack = (resource: string, seq: number, granted: boolean): Message =>
  ackMsg({ resource, seq, granted });
const release = (resource: string): Message => ({
  type: "release",
  resource,
  epoch: 1,
  successor: null,
});

Deno.test("peers: of the heartbeats and acks of one resource waiting together, the last goes", () => {
  const frame = latestOnly([
    heartbeat("r1", 1),
    ack("r1", 7, true),
    heartbeat("r2", 1),
    release("r1"),
    heartbeat("r1", 2),
    ack("r1", 8, false), // a refusal after a grant: what holds now
    release("r1"),
  ]);
  assertEquals(frame, [
    heartbeat("r2", 1),
    release("r1"),
    heartbeat("r1", 2),
    ack("r1", 8, false),
    release("r1"),
  ]);
  // Nothing to drop: unchanged, in order.
  const plain = [heartbeat("r1", 1), heartbeat("r2", 1), ack("r3", 1, true)];
  assertEquals(latestOnly(plain), plain);
});

/** Two real Peers on loopback (a dials b), from one configuration each, with a shared key. */
async function twoPeers() {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-peers-" });
  const text = (bPort: number) =>
    `heartbeat_interval = 1
timeout = 1
stop_timeout = 1
exec = "/bin/true"
[key]
secret = "peers-test-shared-secret-0123456789"
[on.a]
listen = "tcp://127.0.0.1:0"
control = "${dir}/a.sock"
state_dir = "${dir}/state-a"
priority = 10
[on.b]
listen = "tcp://127.0.0.2:0"
control = "${dir}/b.sock"
state_dir = "${dir}/state-b"
priority = 20
[resource.r0.on.a]
remote = ["127.0.0.2:${bPort}"]
[resource.r0.on.b]
remote = ["127.0.0.1:9"]
`;
  const load = async (node: string, bPort: number) => {
    await Deno.writeTextFile(`${dir}/hastmon.toml`, text(bPort));
    const loaded = await loadConfig(`${dir}/hastmon.toml`, { node });
    if (!loaded.config || loaded.errors.length > 0) throw new Error(JSON.stringify(loaded.errors));
    return loaded.config;
  };
  const received: Message[] = [];
  const quiet = new Logger(new MemorySink(), { verbosity: 0 });
  const bCfg = await load("b", 9);
  const b = new Peers(bCfg, {
    node: "b",
    logger: quiet,
    access: await PeerAccess.create(bCfg),
    onMessages: (_from, messages) => received.push(...messages),
    onDown: () => {},
  });
  b.listen();
  const aCfg = await load("a", b.port);
  let up = false;
  const a = new Peers(aCfg, {
    node: "a",
    logger: quiet,
    access: await PeerAccess.create(aCfg),
    onMessages: () => {},
    onDown: () => {},
  });
  return {
    a,
    b,
    received,
    connected: async () => {
      a.dial();
      for (let i = 0; i < 200 && !up; i++) {
        await new Promise((r) => setTimeout(r, 10));
        up = a.connectedTo("b");
      }
      if (!up) throw new Error("a did not connect to b");
    },
    cleanup: async () => {
      await a.close();
      await b.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("peers: close writes the frames still queued first (a shutdown's release reaches the peer)", async () => {
  const p = await twoPeers();
  try {
    await p.connected();
    // The release and the heartbeat are queued in this turn; close is asked for in the same.
    p.a.send("b", [release("r0"), heartbeat("r0", 9)]);
    await p.a.close();
    for (let i = 0; i < 100 && p.received.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(p.received, [release("r0"), heartbeat("r0", 9)]);
  } finally {
    await p.cleanup();
  }
});

Deno.test("peers: a message the codec refuses is dropped alone, the rest of the frame goes", async () => {
  const p = await twoPeers();
  try {
    await p.connected();
    const bad = { ...heartbeat("r1", 1), epoch: -1 } as Message;
    p.a.send("b", [heartbeat("r0", 1), bad, release("r2")]);
    for (let i = 0; i < 200 && p.received.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(p.received, [heartbeat("r0", 1), release("r2")]);
  } finally {
    await p.cleanup();
  }
});
