/**
 * End to end: a daemon frozen with SIGSTOP (short, then long enough for a
 * takeover, then thawed), and a status hook that hangs.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { processAlive, sleep, SLOW_START_S, withCluster } from "./cluster/harness.ts";

Deno.test("e2e freeze: SIGSTOP of the primary daemon, short then long, then SIGCONT", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    const pid = c.servicePid("a");

    // A freeze well within the lease (0.75 s, renewed every 0.25 s): no failover. (On a
    // loaded machine a may still lose its lease and restart the service: that is safe.)
    c.sigstop("a");
    await sleep(150);
    c.sigcont("a");
    // Longer than any takeover could take (b waits 1.9 s of silence, then needs complaints
    // and a grant; config check's bound is about 2.4 s): had the freeze let b in, it would
    // have begun by now.
    await sleep(3000);
    assertEquals(c.runningNodes(), ["a"]);
    const begins = (await c.timeline()).filter((e) => e.kind === "begin");
    assert(begins.every((e) => e.node === "a"), "b started after a short freeze of a");
    if (c.servicePid("a") !== pid) console.log("note: a restarted its service after the freeze");

    // Frozen for good: the guard stops a's service when the lease runs out, b takes over.
    c.sigstop("a");
    await c.waitForActive("b", 8000);
    assertStringIncludes(await c.log("a"), "lease deadline passed without a new arm");
    assertEquals(c.servicePid("a"), null);

    // Thawed: a finds its lease gone and follows b; it must not start the service again.
    c.sigcont("a");
    await c.waitFor(
      async () => {
        const s = await c.resourceStatus("a");
        return s?.role === "secondary" && s.peers.some((p) => p.role === "primary" && p.connected);
      },
      5000,
      "a to follow b as secondary",
    );
    await sleep(500);
    assertEquals(c.runningNodes(), ["b"]);
    assertEquals((await c.timeline()).filter((e) => e.kind === "begin").map((e) => e.node), [
      "a",
      "b",
    ]);
  });
});

Deno.test("e2e freeze: a hung status hook is killed after status_timeout and never reads as running", async () => {
  const statusTimeout = 0.5;
  await withCluster({ statusTimeout }, async (c) => {
    await c.waitForSteady("a");
    await c.hangStatus("a", true);
    const hang = await c.waitFor(
      async () => (await c.timeline()).find((e) => e.node === "a" && e.kind === "hang"),
      5000,
      "a's status hook to hang",
    );
    const hungPid = Number(hang.detail[0]);
    await c.waitFor(() => !processAlive(hungPid), 5000, "the hung status hook to be killed");
    const killedAfter = Date.now() - hang.t;
    // SIGTERM at status_timeout (sleep dies of it); the grace before SIGKILL is not needed.
    assert(
      killedAfter >= statusTimeout * 1000 * 0.9 && killedAfter < statusTimeout * 1000 + 1000,
      `hung status killed ${killedAfter} ms after it began`,
    );
    // The daemon reports what it knows: unknown, not running.
    const st = await c.waitFor(
      async () => {
        const s = await c.resourceStatus("a");
        return s && s.state !== "running" ? s : null;
      },
      3000,
      "a to stop believing its service is running",
    );
    assert(["unknown", "starting"].includes(st.state), `state ${st.state}`);
    const events = await c.ctlOk("a", "events");
    assertStringIncludes(events, "status: unknown (timed out)");

    // Status answers again: running, and the service never moved nor ran twice.
    await c.hangStatus("a", false);
    await c.waitFor(
      async () => (await c.resourceStatus("a"))?.state === "running",
      5000,
      "a's status to read running again",
    );
    assertEquals(c.runningNodes(), ["a"]);
    assertEquals((await c.resourceStatus("b"))?.role, "secondary");
  });
});

Deno.test("e2e freeze: frozen in the middle of a start, the guard kills the start hook before its stop", async () => {
  await withCluster({}, async (c) => {
    await c.waitForSteady("a");
    await c.slowStart("b", true);
    await c.kill9WithService("a");
    // b takes over; its start hook begins, and dawdles before launching the service.
    await c.waitFor(
      async () => (await c.timeline()).some((e) => e.node === "b" && e.kind === "slow"),
      10_000,
      "b's start hook to begin",
    );
    c.sigstop("b");
    try {
      // b's lease runs out while it is frozen: its guard acts for it.
      await c.waitFor(
        async () => (await c.log("b")).includes("killing it before the stop"),
        10_000,
        "b's guard to kill the start hook",
      );
      await c.waitFor(
        async () => (await c.timeline()).some((e) => e.node === "b" && e.kind === "end"),
        5000,
        "the guard's stop",
      );
      // Long enough for a start hook that survived to launch the service.
      await sleep(SLOW_START_S * 1000 + 1000);
      const ups = (await c.timeline()).filter((e) => e.node === "b" && e.kind === "up");
      assertEquals(ups, [], "the killed start hook launched the service");
      assertEquals(c.servicePid("b"), null);
    } finally {
      c.sigcont("b");
    }
  });
});

Deno.test("e2e freeze: a stop that hangs when the lease runs out is killed, panic runs, and only then b starts", async () => {
  await withCluster({ panic: true }, async (c) => {
    await c.waitForSteady("a");
    await c.hangStop("a", true);
    const cutAt = Date.now();
    c.relay.blockBoth("a", "b");
    c.relay.blockBoth("a", "w");
    const events = await c.waitForActive("b", 10_000);
    const of = (kind: string) => events.filter((e) => e.node === "a" && e.kind === kind);
    // a's stop hung (it stopped nothing), was killed at stop_timeout, then panic put the
    // service down: that, not the stop, ended a's interval, and b began after it.
    const [hung] = of("hang-stop");
    assert(hung, "a's stop never ran");
    const panicked = of("panic");
    assert(panicked.length >= 1, "a never ran panic");
    const died = events.find((e) => e.node === "a" && e.kind === "died");
    assertEquals(died?.detail, ["panic"]);
    assertEquals(of("end"), [], "the hung stop did not stop the service");
    const begin = events.findLast((e) => e.node === "b" && e.kind === "begin")!;
    assert(died!.t < begin.t, "b began before a's panic had put the service down");
    assert(panicked[0].t - hung.t < 2000, `panic ${panicked[0].t - hung.t} ms after the stop`);
    console.log(
      `hung stop: a stops at +${hung.t - cutAt} ms, panics at +${panicked[0].t - cutAt} ms, ` +
        `b begins at +${begin.t - cutAt} ms`,
    );
    assertStringIncludes(await c.log("a"), "panic");
    assertEquals(c.servicePid("a"), null);
  });
});
