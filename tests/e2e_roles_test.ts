/**
 * End to end, real daemons on loopback: roles from role_on_start and from
 * `hastmon ctl role`, what `ctl status` shows, and two nodes told to be
 * primary at once. Every test also checks the service timeline: never two
 * nodes active at once.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { sleep, takeoverBoundMs, withCluster } from "./cluster/harness.ts";
import { activeIntervals } from "./cluster/timeline.ts";

/** a and b start with no role (init): only `ctl role` gives them one; w is the watchdog. */
const NO_ROLE_ON_START = [
  { name: "a", priority: 10, role: "init" as const },
  { name: "b", priority: 20, role: "init" as const },
  { name: "w", priority: 30, role: "watchdog" as const },
];

Deno.test("e2e roles: role_on_start, ctl status, ctl role primary moves it, role secondary all hands it back", async () => {
  await withCluster({}, async (c) => {
    // role_on_start: a primary, b secondary, w watchdog; the primary starts once leased.
    await c.waitForSteady("a");
    const text = await c.waitFor(
      async () => {
        const out = await c.ctlOk("a", "status");
        const ready = ["b (connected)", "w (connected)", "state: running"];
        return ready.every((part) => out.includes(part)) ? out : null;
      },
      5000,
      "a's ctl status to show both remotes connected and the service running",
    );
    assertStringIncludes(text, "role: primary");
    assertStringIncludes(text, "state: running");
    assertStringIncludes(text, "lease: held");

    const b = JSON.parse(await c.ctlOk("b", "status", "--json"));
    const rb = b.resources[0];
    assertEquals([b.node, rb.name, rb.role, rb.state], ["b", "r0", "secondary", "stopped"]);
    assertEquals(
      rb.peers.map((p: { node: string; connected: boolean; role: string }) => [
        p.node,
        p.connected,
        p.role,
      ]),
      [["a", true, "primary"], ["w", true, "watchdog"]],
    );
    const w = JSON.parse(await c.ctlOk("w", "status", "--json"));
    assertEquals(w.resources[0].role, "watchdog");
    assert(w.resources[0].peers.every((p: { connected: boolean }) => p.connected));
    // The primary's `connect` hook ran for its secondary (and not for the watchdog).
    const links = (await c.timeline()).filter((e) =>
      e.kind === "connect" || e.kind === "disconnect"
    );
    assertEquals(links.map((e) => [e.node, e.kind, e.detail[0]]), [["a", "connect", "b"]]);

    // ctl role primary on b: a higher epoch, so a yields, stops, and only then b starts.
    assertStringIncludes(await c.ctlOk("b", "role", "primary", "r0"), "r0");
    const moved = await c.waitForActive("b");
    await c.waitForRole("a", "secondary");
    const [ia, ib] = activeIntervals(moved);
    assertEquals([ia.node, ib.node], ["a", "b"]);
    assert(ia.to < ib.from, "a's stop ended before b's start began");
    const sb = await c.resourceStatus("b");
    assertEquals([sb?.role, sb?.epoch], ["primary", 2]);

    // role secondary all on b: a planned switchover. b stops and hands over to a (the
    // only connected secondary) at once; it does not come back to b by complaints.
    await c.ctlOk("b", "role", "secondary", "all");
    const handed = await c.waitForActive("a");
    const sn = await c.resourceStatus("a");
    assertEquals([sn?.role, sn?.epoch], ["primary", 3]);
    assertStringIncludes(sn?.lastTransition?.reason ?? "", "handover from b");
    await c.assertStaysSettled("a", 2000);
    assertEquals(activeIntervals(handed).map((i) => i.node), ["a", "b", "a"]);
  });
});

Deno.test("e2e roles: a planned switchover at heartbeat 0.25 runs the service on the secondary within 1 s", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    const t0 = Date.now();
    await c.ctlOk("a", "role", "secondary", "r0");
    const timeline = await c.waitForActive("b");
    const begin = timeline.filter((e) => e.kind === "begin" && e.node === "b").at(-1)!;
    const took = begin.t - t0;
    assert(took < 1000, `the switchover took ${took} ms`);
    // --to names a node that cannot take it: refused, nothing moves.
    const refused = await c.ctl("b", "role", "secondary", "r0", "--to", "w");
    assertEquals(refused.code, 75, refused.stderr);
    assertStringIncludes(refused.stderr, "w is not a connected secondary");
    await c.assertStaysSettled("b", 1500);
  });
});

Deno.test("e2e roles: a switchover whose stop fails (no panic) leaves the service where it may run: the other node starts it only once that stop succeeded", async () => {
  await withCluster({}, async (c) => {
    const check = await c.configCheck("a");
    const boundMs = takeoverBoundMs(check.stdout, "b", "a");
    await c.waitForSteady("a");
    await c.ctlOk("a", "role", "secondary", "r0");
    await c.waitForActive("b");
    // b's stop now hangs and stops nothing; b is asked to hand the service back.
    await c.hangStop("b", true);
    const asked = Date.now();
    await c.ctlOk("b", "role", "secondary", "r0");
    // Its stop is killed at stop_timeout and fails, again and again. Before, a took over once
    // the takeover bound had passed and started the service beside b's.
    await sleep(boundMs + 2000);
    const waited = await c.timeline();
    assert(
      !waited.some((e) => e.kind === "begin" && e.node === "a" && e.t > asked),
      `a started r0 while b's stop had failed:\n${JSON.stringify(waited.slice(-8))}`,
    );
    // b says why: the group is ERROR_STOP_FAILED there (b may even have taken the primary role
    // back: nobody else held the lease, and the service may run there).
    const sb = await c.resourceStatus("b");
    assertEquals(sb?.rgState, "ERROR_STOP_FAILED");
    assertStringIncludes(sb?.explanations.join("\n") ?? "", "stop failed: ERROR_STOP_FAILED");
    // The stop works again; as b's status says, the operator hands it over again (a stop
    // that failed as secondary is retried every heartbeat by itself). b stops the
    // service, hands over, and only then a starts it.
    await c.hangStop("b", false);
    if ((await c.resourceStatus("b"))?.role === "primary") {
      await c.ctlOk("b", "role", "secondary", "r0");
    }
    const timeline = await c.waitForActive("a", 15_000);
    const intervals = activeIntervals(timeline);
    assertEquals(intervals.map((i) => i.node), ["a", "b", "a"]);
    assert(intervals[1].to < intervals[2].from, "b's service ended before a's start began");
  });
});

Deno.test("e2e roles: both nodes told to be primary at once: exactly one runs", async () => {
  await withCluster({ nodes: NO_ROLE_ON_START }, async (c) => {
    const [ra, rb] = await Promise.all([
      c.ctl("a", "role", "primary", "r0"),
      c.ctl("b", "role", "primary", "r0"),
    ]);
    assertEquals([ra.code, rb.code], [0, 0], ra.stderr + rb.stderr);
    // Whichever arrived first may start, but the other's claim is judged by epoch, then
    // priority: in the end one is primary and runs r0, the other follows as secondary.
    const winner = await c.waitForSettled(8000);
    // Hold for longer than a takeover would take: still the same one, alone.
    await c.assertStaysSettled(winner, 2000);
    const begins = (await c.timeline()).filter((e) => e.kind === "begin").map((e) => e.node);
    assertEquals(begins.at(-1), winner);
  });
});

Deno.test("e2e roles: both nodes started as primary (role_on_start): exactly one runs", async () => {
  await withCluster({
    nodes: [
      { name: "a", priority: 10, role: "primary" },
      { name: "b", priority: 20, role: "primary" },
      { name: "w", priority: 30, role: "watchdog" },
    ],
  }, async (c) => {
    // Both claim epoch 1 at start-up; priority decides (a: 10 beats b: 20), whoever the
    // watchdog heard first.
    const winner = await c.waitForSettled(8000);
    assertEquals(winner, "a");
    await c.assertStaysSettled(winner, 1500);
    assertEquals((await c.resourceStatus("b"))?.role, "secondary");
  });
});

Deno.test("e2e roles: the primary's connect and disconnect hooks follow its secondary", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    const links = async () =>
      (await c.timeline()).filter((e) => e.kind === "connect" || e.kind === "disconnect")
        .map((e) => `${e.node} ${e.kind} ${e.detail[0]}`);
    await c.waitFor(async () => (await links()).length === 1, 3000, "a's connect hook");
    await c.kill9("b");
    await c.waitFor(async () => (await links()).length === 2, 3000, "a's disconnect hook");
    await c.startNode("b");
    await c.waitFor(async () => (await links()).length === 3, 5000, "a's connect hook again");
    assertEquals(await links(), ["a connect b", "a disconnect b", "a connect b"]);
  });
});

Deno.test("e2e roles: SIGTERM on the primary hands over to the connected secondary, then exits 0", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    const t0 = Date.now();
    assertEquals(await c.terminate("a"), 0);
    const events = await c.waitForActive("b", 5000);
    const [ia, ib] = activeIntervals(events);
    assertEquals([ia.node, ib.node], ["a", "b"]);
    // A handover, not a takeover: b did not wait for complaints nor for a's lease to run out
    // (config check's takeover bound is about 2.4 s here).
    assert(ib.from - t0 < 1500, `b began ${ib.from - t0} ms after the SIGTERM`);
    const sb = await c.resourceStatus("b");
    assertEquals([sb?.role, sb?.epoch], ["primary", 2]);
    assertStringIncludes(sb?.lastTransition?.reason ?? "", "handover from a");
    assertEquals(c.runningNodes(), ["b"]);
    // The role hooks saw it: a stepped down to secondary, b went up to primary.
    const roles = (await c.timeline()).filter((e) => e.kind === "role" && e.t >= t0)
      .map((e) => `${e.node} ${e.detail.join(" ")}`);
    assert(roles.includes("a primary secondary"), roles.join(", "));
    assert(roles.includes("b secondary primary"), roles.join(", "));
  });
});

Deno.test("e2e roles: daemons killed -9 come back with their persisted roles; a higher epoch keeps the service", async () => {
  await withCluster({ nodes: NO_ROLE_ON_START }, async (c) => {
    await c.ctlOk("b", "role", "secondary", "r0");
    await c.ctlOk("a", "role", "primary", "r0");
    await c.waitForSteady("a");
    // b restarted: secondary as it was told, not role_on_start's init.
    await c.restart("b");
    await c.waitForRole("b", "secondary", 5000);
    assertEquals((await c.resourceStatus("b"))?.epoch, 1);
    await c.waitForSteady("a");
    // a killed: its guard stops the service, b takes over with epoch 2.
    await c.kill9("a");
    await c.waitForActive("b", 8000);
    assertEquals((await c.resourceStatus("b"))?.epoch, 2);
    // a comes back as the primary of epoch 1 it persisted, meets epoch 2, and yields
    // without starting anything.
    const restartedAt = Date.now();
    await c.startNode("a");
    await c.waitForRole("a", "secondary", 5000);
    await c.assertStaysSettled("b", 2000);
    const begins = (await c.timeline()).filter((e) => e.kind === "begin").map((e) => e.node);
    assertEquals(begins, ["a", "b"]);
    // Its role hooks: restored as primary (not role_on_start's init), then down to secondary.
    const roles = (await c.timeline()).filter((e) =>
      e.node === "a" && e.kind === "role" && e.t >= restartedAt
    ).map((e) => e.detail.join(" "));
    assertEquals(roles, ["init primary", "primary secondary"]);
  });
});

Deno.test("e2e roles: a primary that reaches no peer starts nothing; --force starts it and says the risk", async () => {
  await withCluster({ startNodes: ["a"] }, async (c) => {
    await c.waitForRole("a", "primary", 5000);
    // Longer than a lease, a takeover and a start would take together.
    await sleep(2500);
    assertEquals((await c.timeline()).filter((e) => e.kind === "begin"), []);
    const sa = await c.resourceStatus("a");
    assertEquals([sa?.role, sa?.state, sa?.lease?.held], ["primary", "stopped", false]);

    const forced = await c.ctl("a", "role", "primary", "--force", "r0");
    assertEquals(forced.code, 0, forced.stderr);
    assertStringIncludes(forced.stderr, "warning: --force starts the resource without a lease");
    await c.waitForActive("a", 5000);
    // The daemon's log keeps the risk too, as a warning.
    assert(
      (await c.log("a")).split("\n").some((l) => l.includes("[WARNING]") && /force/i.test(l)),
      "a's log has no warning about the forced start",
    );
  });
});
