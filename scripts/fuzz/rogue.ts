/**
 * A rogue listener that a dials (a resource of a alone names it as its
 * remote): what a peer sends back to the daemon that connected.
 */
import { fuzzFrame, mutateValue, PEER_SEEDS } from "../../tests/fuzz/gen.ts";
import { sleep } from "../../tests/cluster/harness.ts";
import { encodeFrame, FrameReader } from "../../src/wire/frame.ts";
import { acceptorHandshake } from "../../src/wire/handshake.ts";
import {
  authName,
  type Category,
  count,
  type Ctx,
  exchange,
  HANG_MS,
  header,
  hello,
} from "./io.ts";
import { sealed } from "./peer.ts";

const ROGUE_BEHAVIOURS = [
  "random",
  "silence",
  "mutated",
  "huge-length",
  "hello-then-garbage",
  "handshake-then-garbage",
  "handshake-then-silence",
  "handshake-as-stranger",
  "hello-as-a",
  "trickle",
] as const;

/** Answer every connection a makes to the rogue's port with one hostile behaviour. */
export async function serveRogue(ctx: Ctx) {
  for await (const conn of ctx.rogue.listener) {
    void (async () => {
      const rng = ctx.rng;
      const behaviour = rng.pick(ROGUE_BEHAVIOURS);
      const reader = new FrameReader(conn);
      let hold = HANG_MS;
      const bytes: Uint8Array[] = [];
      try {
        switch (behaviour) {
          case "random":
            bytes.push(rng.bytes(1 + rng.int(4096)));
            break;
          case "silence":
            break;
          case "mutated":
            bytes.push(fuzzFrame(rng, PEER_SEEDS));
            break;
          case "huge-length":
            bytes.push(header(rng.pick([4097, 2 ** 32 - 1, 1 << 20])));
            break;
          case "hello-then-garbage": {
            await reader.read(2000);
            bytes.push(encodeFrame(hello("b", authName(ctx))), fuzzFrame(rng, PEER_SEEDS));
            break;
          }
          case "handshake-then-garbage":
          case "handshake-then-silence":
          case "handshake-as-stranger": {
            const session = await acceptorHandshake(conn, reader, {
              self: behaviour === "handshake-as-stranger" ? "zz" : "b",
              auth: ctx.bAuth,
              timeoutMs: 3000,
            });
            if (behaviour === "handshake-then-silence") hold = HANG_MS;
            else if (behaviour === "handshake-then-garbage") {
              bytes.push(
                rng.int(2) ? fuzzFrame(rng, PEER_SEEDS) : await sealed(session, {
                  type: "batch",
                  messages: [mutateValue(rng, PEER_SEEDS[7])],
                }),
              );
            }
            break;
          }
          case "hello-as-a":
            await reader.read(2000);
            bytes.push(encodeFrame(hello("a", authName(ctx))));
            break;
          case "trickle": {
            await reader.read(2000);
            const f = encodeFrame(hello("b", authName(ctx)));
            for (const b of f) bytes.push(Uint8Array.of(b));
            break;
          }
        }
      } catch {
        // a gave up first (a refusal, its own deadline): what we wanted to see.
      }
      await reader.settle();
      const end = await exchange(conn, bytes, {
        gapMs: behaviour === "trickle" ? 150 : 0,
        hangMs: hold,
      });
      ctx.rogue.handled++;
      count(ctx, "rogue-listener");
      // A frame that fails is refused at once; a silent or idle peer by a's deadlines
      // (1 s for the handshake, 2 s idle): all well inside HANG_MS.
      if (!end.closedByDaemon) ctx.rogue.hung.push(behaviour);
    })();
  }
}

export const ROGUE_CATEGORIES: Record<string, Category> = {
  "rogue-listener": async (ctx) => {
    // a dials again after each close: let it meet a few behaviours.
    const until = ctx.rogue.handled + 4;
    const deadline = performance.now() + 20_000;
    while (ctx.rogue.handled < until && performance.now() < deadline) await sleep(100);
    for (const b of ctx.rogue.hung.splice(0)) {
      ctx.problems.push(`rogue-listener: a kept a connection open after "${b}"`);
    }
  },
};
