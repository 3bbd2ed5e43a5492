import { assert, assertEquals } from "../tests/assert.ts";
import { buildModel } from "./model.ts";
import {
  GIVEOVER_TIMEOUT_MS,
  giveoverPlan,
  roleChangePlan,
  roleChoices,
  switchoverPlan,
} from "./plan.ts";
import {
  alphaWeb,
  answer,
  betaWeb,
  connected,
  healthy,
  unreachable,
  wdWeb,
} from "./test_fixtures.ts";

const model = (daemons = healthy()) => buildModel(daemons, 1000);

Deno.test("plan: switch over sends role secondary to the primary's daemon and names the best secondary", () => {
  const plan = switchoverPlan(model(), "web");
  assertEquals(plan.blockers, []);
  assertEquals(plan.requests, [{
    daemon: "/run/alpha.sock",
    node: "alpha",
    request: { type: "role", role: "secondary", resources: ["web"], to: "beta" },
    command: "hastmon ctl --node alpha role secondary web --to beta",
  }]);
  assertEquals(plan.title, "web: switch over from alpha to beta");
  assert(
    plan.expect.some((e) => e.includes("beta") && e.includes("at once")),
    plan.expect.join("\n"),
  );
});

Deno.test("plan: switch over names the best connected secondary, as the daemon would pick it", () => {
  // Two secondaries: gamma has the better priority (lower number); delta is not connected.
  const peers = [
    { ...alphaWeb().peers[0], node: "zeta", priority: 20 },
    { ...alphaWeb().peers[0], node: "gamma", priority: 15 },
    { ...alphaWeb().peers[0], node: "delta", priority: 1, connected: false },
    alphaWeb().peers[1],
  ];
  const plan = switchoverPlan(model([connected(answer("alpha", alphaWeb({ peers })))]), "web");
  assertEquals(plan.requests[0].request, {
    type: "role",
    role: "secondary",
    resources: ["web"],
    to: "gamma",
  });
  // Equal priorities: the name decides.
  const tied = peers.map((p) => p.node === "gamma" ? { ...p, priority: 20 } : p);
  const p2 = switchoverPlan(model([connected(answer("alpha", alphaWeb({ peers: tied })))]), "web");
  assertEquals(p2.requests[0].command, "hastmon ctl --node alpha role secondary web --to gamma");
});

Deno.test("plan: switch over is blocked without a reachable primary daemon or a connected secondary", () => {
  // The primary's daemon does not answer: the peers still know alpha is primary.
  const gone = [
    unreachable("/run/alpha.sock", answer("alpha", alphaWeb())),
    connected(answer("beta", betaWeb())),
    connected(answer("wd", wdWeb())),
  ];
  const p1 = switchoverPlan(model(gone), "web");
  assertEquals(p1.requests, []);
  assert(p1.blockers.some((b) => b.includes("alpha") && b.includes("does not answer")));
  // Only the local daemon of beta: no socket of alpha at all.
  const p2 = switchoverPlan(model([connected(answer("beta", betaWeb()))]), "web");
  assert(p2.blockers.some((b) => b.includes("no control socket of alpha")));
  // The secondary is not connected to the primary.
  const lonely = alphaWeb({
    peers: [{ ...alphaWeb().peers[0], connected: false }, alphaWeb().peers[1]],
  });
  const p3 = switchoverPlan(model([connected(answer("alpha", lonely))]), "web");
  assert(p3.blockers.some((b) => b.includes("no secondary is connected")));
  // No primary, or two.
  const none = switchoverPlan(model([connected(answer("beta", betaWeb({ peers: [] })))]), "web");
  assert(none.blockers.some((b) => b.includes("no primary")));
  const two = switchoverPlan(
    model([
      connected(answer("alpha", alphaWeb())),
      connected(answer("beta", betaWeb({ role: "primary" }))),
    ]),
    "web",
  );
  assert(two.blockers.some((b) => b.includes("both claim")));
  assert(switchoverPlan(model(), "nope").blockers.length > 0);
});

Deno.test("plan: role change targets the node's own daemon and weighs the risks", () => {
  const promote = roleChangePlan(model(), "web", "beta", "primary");
  assertEquals(promote.blockers, []);
  assertEquals(promote.requests[0].daemon, "/run/beta.sock");
  assertEquals(promote.requests[0].request, { type: "role", role: "primary", resources: ["web"] });
  // alpha is primary: it yields; the planned way is a switchover.
  assert(promote.warnings.some((w) => w.includes("alpha is primary")));
  // beta is the only secondary: making it init leaves no failover.
  const idle = roleChangePlan(model(), "web", "beta", "init");
  assert(idle.warnings.some((w) => w.includes("no secondary would be left")));
  // Demoting the primary to secondary is a switchover: it hands over to beta at once.
  const demote = roleChangePlan(model(), "web", "alpha", "secondary");
  assert(demote.expect.some((e) => e.includes("stops web") && e.includes("over to beta")));
  assertEquals(demote.requests[0].request, {
    type: "role",
    role: "secondary",
    resources: ["web"],
  });
  // To init: it stops there, and beta takes over once the watchdogs complain.
  const idlePrimary = roleChangePlan(model(), "web", "alpha", "init");
  assert(idlePrimary.expect.some((e) => e.includes("complain")), idlePrimary.expect.join("\n"));
  // The only watchdog changing role.
  assert(
    roleChangePlan(model(), "web", "wd", "init").warnings.some((w) => w.includes("no watchdog")),
  );
});

Deno.test("plan: role change is blocked when the role is already so or the daemon is out of reach", () => {
  assert(
    roleChangePlan(model(), "web", "alpha", "primary").blockers.some((b) => b.includes("already")),
  );
  const gone = [
    unreachable("/run/beta.sock", answer("beta", betaWeb())),
    connected(answer("alpha", alphaWeb())),
  ];
  const p = roleChangePlan(model(gone), "web", "beta", "primary");
  assertEquals(p.requests, []);
  assert(p.blockers.some((b) => b.includes("does not answer")));
});

Deno.test("plan: role choices cover the nodes the console reaches, without their current role", () => {
  const choices = roleChoices(model([connected(answer("beta", betaWeb()))]), "web");
  assertEquals(choices.map((c) => `${c.node}:${c.from}>${c.to}`), [
    "beta:secondary>primary",
    "beta:secondary>watchdog",
    "beta:secondary>init",
  ]);
  assertEquals(roleChoices(model(), "nope"), []);
});

Deno.test("plan: give over sends GIVEOVER to the primary's daemon, naming the best connected secondary", () => {
  const plan = giveoverPlan(model(), "web");
  assertEquals(plan.blockers, []);
  assertEquals(plan.title, "web: give over from alpha to beta");
  assertEquals(plan.requests, [{
    daemon: "/run/alpha.sock",
    node: "alpha",
    request: { type: "scha", group: "web", optag: "GIVEOVER", to: "beta" },
    command: "hastmon ctl --node alpha giveover web --to beta",
    timeoutMs: GIVEOVER_TIMEOUT_MS,
  }]);
  assert(plan.expect.some((e) => e.includes("monitor_check")), plan.expect.join("\n"));
});

Deno.test("plan: give over skips a node a pingpong mark holds off, and is blocked when none is left", () => {
  const peers = [
    alphaWeb().peers[0],
    { ...alphaWeb().peers[0], node: "gamma", priority: 25 },
    alphaWeb().peers[1],
  ];
  const mark = { node: "beta", member: "web", untilWallMs: 1e12, remainingMs: 600_000 };
  const marked = alphaWeb({ peers, pingpong: [mark] });
  const plan = giveoverPlan(model([connected(answer("alpha", marked))]), "web");
  assertEquals(plan.requests[0].request, {
    type: "scha",
    group: "web",
    optag: "GIVEOVER",
    to: "gamma",
  });
  assert(plan.warnings.some((w) => w.includes("beta") && w.includes("pingpong")));
  const alone = alphaWeb({ pingpong: [mark] });
  const p2 = giveoverPlan(model([connected(answer("alpha", alone))]), "web");
  assertEquals(p2.requests, []);
  assert(p2.blockers.some((b) => b.includes("pingpong")), p2.blockers.join("\n"));
});

Deno.test("plan: give over is blocked while the group is not online or a request is under way", () => {
  const pending = alphaWeb({ rgState: "PENDING_ONLINE" });
  const p1 = giveoverPlan(model([connected(answer("alpha", pending))]), "web");
  assert(p1.blockers.some((b) => b.includes("PENDING_ONLINE")), p1.blockers.join("\n"));
  const busy = alphaWeb({
    request: { optag: "RESTART", member: null, phase: "stopping", target: null },
  });
  const p2 = giveoverPlan(model([connected(answer("alpha", busy))]), "web");
  assert(p2.blockers.some((b) => b.includes("RESTART")), p2.blockers.join("\n"));
  const none = giveoverPlan(model([connected(answer("beta", betaWeb({ peers: [] })))]), "web");
  assert(none.blockers.some((b) => b.includes("no primary")));
});
