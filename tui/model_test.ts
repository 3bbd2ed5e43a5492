import { assert, assertEquals } from "../tests/assert.ts";
import { advance, buildModel, isLive, mergeEvents } from "./model.ts";
import {
  alphaWeb,
  answer,
  betaWeb,
  connected,
  event,
  healthy,
  member,
  unreachable,
  wdWeb,
} from "./test_fixtures.ts";
import { quietLoad } from "../src/control/test_helpers.ts";

Deno.test("model: three answering daemons make one row, each cell from the node's own daemon", () => {
  const m = buildModel(healthy(), 1000);
  assertEquals(m.nodes, ["alpha", "beta", "wd"]);
  assertEquals(m.resources.map((r) => r.name), ["web"]);
  const row = m.resources[0];
  assertEquals(row.cells.map((c) => [c.node, c.role, c.source.kind]), [
    ["alpha", "primary", "own"],
    ["beta", "secondary", "own"],
    ["wd", "watchdog", "own"],
  ]);
  assertEquals(row.primary, "alpha");
  assertEquals(row.lease, {
    holder: "alpha",
    held: true,
    remainingMs: 2000,
    lengthMs: 3000,
    stale: false,
  });
  assertEquals(row.links.every((l) => l.connected), true);
  assertEquals(m.daemons.map((d) => [d.node, d.phase]), [
    ["alpha", "connected"],
    ["beta", "connected"],
    ["wd", "connected"],
  ]);
});

Deno.test("model: from the local daemon alone, peers' cells come from its heartbeats, with their age", () => {
  const m = buildModel([connected(answer("alpha", alphaWeb()), 1000)], 1500);
  const [a, b, w] = m.resources[0].cells;
  assertEquals(a.source, { kind: "own", ageMs: 500 });
  // Heard 100 ms before the answer, which is 500 ms old.
  assertEquals(b.source, { kind: "peer", via: "alpha", ageMs: 600, connected: true });
  assertEquals([b.role, b.state, b.epoch], ["secondary", "stopped", 4]);
  assertEquals(w.role, "watchdog");
});

Deno.test("model: an unreachable daemon's cell prefers the freshest of its last answer and a peer's view", () => {
  const alphaGone = unreachable("/run/alpha.sock", answer("alpha", alphaWeb()), 900, 500);
  // beta heard alpha 100 ms before its answer at 1000: at 1200 that is 300 ms old,
  // fresher than alpha's own last answer (700 ms old).
  const m = buildModel([alphaGone, connected(answer("beta", betaWeb()), 1000)], 1200);
  const a = m.resources[0].cells[0];
  assertEquals(a.source, { kind: "peer", via: "beta", ageMs: 300, connected: true });
  assert(isLive(a));
  // Once beta lost alpha too, the knowledge is not live any more and shows its age.
  const lost = betaWeb({
    peers: [{ ...betaWeb().peers[0], connected: false, lastHeardAgoMs: 5000 }, betaWeb().peers[1]],
  });
  const m2 = buildModel([alphaGone, connected(answer("beta", lost), 1000)], 1200);
  const a2 = m2.resources[0].cells[0];
  assertEquals(a2.source, { kind: "stale", ageMs: 700 });
  assertEquals(isLive(a2), false);
  assertEquals(m2.daemons[0], {
    id: "/run/alpha.sock",
    node: "alpha",
    phase: "unreachable",
    error: "no daemon is listening",
    downForMs: 300,
    pid: 100,
    shedding: false,
  });
  // A stale view explains nothing; the answering one does.
  assertEquals(m2.resources[0].explanations.map((e) => e.node), ["beta"]);
});

Deno.test("model: a node nobody has heard is unknown, not guessed", () => {
  const beta = betaWeb({
    peers: [betaWeb().peers[0], { ...betaWeb().peers[1], lastHeardAgoMs: null, connected: false }],
  });
  const m = buildModel([connected(answer("beta", beta))], 1000);
  const wd = m.resources[0].cells.find((c) => c.node === "wd")!;
  assertEquals([wd.role, wd.source.kind], [null, "none"]);
});

Deno.test("model: countdowns move with the clock between answers; renewed things do not", () => {
  const waiting = betaWeb({
    takeover: { silenceMs: 3000, waitMs: 4350 },
    complaints: { count: 4, threshold: 3, windowMs: 60_000, from: ["wd"] },
    peers: [{ ...betaWeb().peers[0], connected: false, lastHeardAgoMs: 3000 }, betaWeb().peers[1]],
  });
  const at = (now: number) => buildModel([connected(answer("beta", waiting), 1000)], now);
  assertEquals(at(1000).resources[0].takeover!.leftMs, 1350);
  assertEquals(at(1800).resources[0].takeover!.leftMs, 550);
  assertEquals(at(9000).resources[0].takeover!.leftMs, 0);
  assertEquals(at(1800).resources[0].links.find((l) => l.to === "alpha")!.silentMs, 3800);
  // A held lease and a grant are renewed by heartbeats without any event: shown as answered.
  const a = advance(alphaWeb(), 1500);
  assertEquals(a.lease!.remainingMs, 2000);
  assertEquals(advance(betaWeb(), 1500).grant!.remainingMs, 2500);
  assertEquals(a.lastTransition!.agoMs, 61_500);
});

Deno.test("model: two nodes claiming primary are both listed and neither is the primary", () => {
  const m = buildModel([
    connected(answer("alpha", alphaWeb())),
    connected(answer("beta", betaWeb({ role: "primary", epoch: 5 }))),
  ], 1000);
  assertEquals(m.resources[0].primaries, ["alpha", "beta"]);
  assertEquals(m.resources[0].primary, null);
});

Deno.test("model: a stale primary gives way to the live one", () => {
  const alphaGone = unreachable("/run/alpha.sock", answer("alpha", alphaWeb()), 900, 500);
  const beta = betaWeb({
    role: "primary",
    epoch: 5,
    peers: [{ ...betaWeb().peers[0], connected: false, lastHeardAgoMs: 9000 }, betaWeb().peers[1]],
  });
  const m = buildModel([alphaGone, connected(answer("beta", beta))], 1000);
  assertEquals(m.resources[0].primaries, ["beta"]);
  assertEquals(m.resources[0].primary, "beta");
});

Deno.test("model: events of every daemon in time order, once, without the log echo of a transition", () => {
  const transition = event("beta", 8, "role secondary -> primary", {
    kind: "transition",
    from: "secondary",
    to: "primary",
    epoch: 5,
    reason: "takeover",
  });
  const echo = event("beta", 9, "role secondary -> primary (epoch 5): takeover");
  const a = {
    ...connected(answer("alpha", alphaWeb())),
    events: [event("alpha", 3, "a3"), event("alpha", 10, "a10")],
  };
  const b = {
    ...connected(answer("beta", betaWeb())),
    events: [event("beta", 4, "b4"), transition, echo],
  };
  const merged = mergeEvents([a, b, { ...b, id: "/run/beta-again.sock" }]);
  assertEquals(merged.map((e) => `${e.node}:${e.seq}`), [
    "alpha:3",
    "beta:4",
    "beta:8",
    "alpha:10",
  ]);
});

Deno.test("model: members, budgets, pingpong marks, the hook's member and failover phases pass through, aging", () => {
  const alpha = alphaWeb({
    members: [
      member("db", { restarts: { used: 1, max: 2, windowMs: 300_000, resetsInMs: 5000 } }),
      member("app", { state: "starting", resourceState: "STARTING" }),
    ],
    rgState: "PENDING_ONLINE",
    pingpong: [{ node: "beta", member: "db", untilWallMs: 1e12, remainingMs: 700 }],
    hook: { method: "start", member: "app", runningMs: 200 },
    failover: {
      kind: "takeover",
      from: "beta",
      agoMs: 1000,
      phases: { detectedMs: 0, decidedMs: 1350, oldStoppedMs: 1300, startedMs: null },
    },
  });
  const row = buildModel([connected(answer("alpha", alpha), 1000)], 1500).resources[0];
  const st = row.views[0].status;
  assertEquals(st.members.map((m) => m.name), ["db", "app"]);
  // Restart windows and pingpong marks run out between two answers.
  assertEquals(st.members[0].restarts.resetsInMs, 4500);
  assertEquals(st.pingpong[0].remainingMs, 200);
  const later = buildModel([connected(answer("alpha", alpha), 1000)], 1800).resources[0];
  assertEquals(later.views[0].status.pingpong, []);
  assertEquals(st.failover!.agoMs, 1500);
  assertEquals(row.hooks, [{ node: "alpha", method: "start", member: "app", runningMs: 700 }]);
});

Deno.test("model: no daemon answered yet: no nodes, no rows, the daemons listed as connecting", () => {
  const m = buildModel([{
    id: "/run/x.sock",
    phase: "connecting",
    status: null,
    receivedAt: null,
    error: null,
    downSince: null,
    events: [],
  }], 0);
  assertEquals([m.nodes, m.resources.length, m.daemons[0].phase], [[], 0, "connecting"]);
});

Deno.test("fixtures: the watchdog fixture is a watchdog", () => {
  assertEquals(wdWeb().role, "watchdog");
});

Deno.test("model: a daemon that sheds load says so in its summary", () => {
  const status = answer("alpha", alphaWeb());
  status.load = quietLoad({ shedding: true, sheddingForMs: 4000, lagMs: 900 });
  const m = buildModel([connected(status, 1000)], 1200);
  assertEquals(m.daemons.map((d) => [d.node, d.shedding]), [["alpha", true]]);
  assertEquals(buildModel(healthy(), 1000).daemons.every((d) => !d.shedding), true);
});
