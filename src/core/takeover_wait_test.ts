/**
 * The takeover wait of a node that was primary itself: after its step-down
 * its last primary is itself, and the next primary (a, whose section gives it
 * a longer lease) may be one it never hears. It must wait out the longest
 * hold the file gives any node, not its own. (Found by the mutation audit;
 * the quorum kept it safe, but docs/SAFETY.md's condition (3) did not hold.)
 */
import { assertEquals } from "../../tests/assert.ts";
import type { Event } from "./types.ts";
import { clusterNode, I, make, run } from "./test_helpers.ts";

const node = clusterNode;

Deno.test("after its own step-down, a secondary waits out the hold of the primary the complaints name", () => {
  const nodes = [
    node("a", 10, { leaseMs: 6 * I }),
    node("b", 20),
    node("w", 30, { watchdog: true }),
  ];
  const { m } = make("b", { nodes, peers: ["a", "w"], priority: 20, roleOnStart: "primary" });
  run(m, { type: "command", now: 100, command: { role: "secondary" } });
  assertEquals([m.role, m.lastPrimary], ["secondary", "b"]);
  // a, primary since, dies at 10 s; b never hears a. w complains from 12 s on, naming a.
  let tookOverAt: number | null = null;
  for (let t = 1000; t <= 30 * I && tookOverAt === null; t += 100) {
    const ev: Event = t >= 12 * I && t % I === 0
      ? {
        type: "message",
        now: t,
        from: "w",
        msg: {
          type: "complaint",
          resource: "r",
          epoch: 2,
          reason: "x",
          primary: "a",
          silenceMs: t - 10 * I,
        },
      }
      : { type: "tick", now: t };
    run(m, ev);
    if (m.role === "primary") tookOverAt = t;
  }
  // a's hold: (6 + 1) x 1.1 + 1 = 8.7 s of silence, i.e. not before 18.7 s.
  assertEquals(tookOverAt, 18800);
});
