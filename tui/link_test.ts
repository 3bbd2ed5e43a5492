/**
 * The console's link to a daemon, against the real control server with a
 * fake daemon behind it: status on connect, a new status on every event (no
 * timer), unreachable when the daemon goes, reconnected when it is back.
 */
import { assert, assertEquals } from "../tests/assert.ts";
import { ControlServer } from "../src/control/server.ts";
import { FakeDaemon, tempSocketDir } from "../src/control/test_helpers.ts";
import { DaemonLink } from "./link.ts";
import { LiveCluster } from "./source.ts";

async function until(what: string, fn: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("link: status on connect, refreshed by events, unreachable when the daemon goes, back after", async () => {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  let statusCalls = 0;
  const status = daemon.status.bind(daemon);
  daemon.status = (r) => {
    statusCalls++;
    return status(r);
  };
  let server = await ControlServer.listen(tmp.path, daemon, () => {});
  let changes = 0;
  const link = new DaemonLink(tmp.path, () => changes++, {
    refreshMs: 0, // no safety refresh: only events may cause a status request
    backoffMs: { first: 20, max: 50 },
    timeoutMs: 1000,
  });
  try {
    link.start();
    await until("connected", () => link.snapshot().phase === "connected");
    assertEquals(link.snapshot().status!.resources.map((r) => r.resource), ["web", "db"]);
    // Nothing happens without events.
    const calls = statusCalls;
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(statusCalls, calls);
    // An event: kept, and a new status follows.
    daemon.statuses.get("web")!.role = "secondary";
    daemon.emit("web stepped down", "web");
    await until("the event", () => link.snapshot().events.length === 1);
    await until("the new status", () => link.snapshot().status!.resources[0].role === "secondary");
    assert(statusCalls > calls);

    // The daemon goes: unreachable, its last answer kept.
    await server.close();
    await until("unreachable", () => link.snapshot().phase === "unreachable");
    assert(link.snapshot().status !== null && link.snapshot().downSince !== null);
    assert(link.snapshot().error !== null);
    await assertRejects(() => link.request({ type: "status" }));

    // Back: connected again, and its history is not doubled.
    server = await ControlServer.listen(tmp.path, daemon, () => {});
    await until("reconnected", () => link.snapshot().phase === "connected");
    assertEquals(link.snapshot().downSince, null);
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(link.snapshot().events.length, 1);
    // A role change goes through the link's connection.
    const response = await link.request({ type: "role", role: "primary", resources: ["db"] });
    assert(response.ok);
    assertEquals(daemon.statuses.get("db")!.role, "primary");
    assert(changes > 3);
  } finally {
    await link.close();
    await server.close();
    await tmp.remove();
  }
});

Deno.test("link: a socket nobody listens on is unreachable, never an exception", async () => {
  const tmp = await tempSocketDir();
  const cluster = new LiveCluster([tmp.path, tmp.path], { backoffMs: { first: 20, max: 20 } });
  try {
    assertEquals(cluster.snapshot().length, 1);
    cluster.start();
    await until("unreachable", () => cluster.snapshot()[0].phase === "unreachable");
    assert(cluster.snapshot()[0].error!.includes("no daemon"));
    await assertRejects(() => cluster.send("/elsewhere", { type: "status" }));
  } finally {
    await cluster.close();
    await tmp.remove();
  }
});

Deno.test("link: a request past the bound is refused and the link reconnects; a giveover with a longer bound arrives", async () => {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  const link = new DaemonLink(tmp.path, () => {}, {
    refreshMs: 0,
    timeoutMs: 200,
    backoffMs: { first: 20, max: 50 },
  });
  try {
    link.start();
    await until("connected", () => link.snapshot().phase === "connected");
    const giveover = { type: "scha", group: "web", optag: "GIVEOVER", to: "beta" } as const;
    // Within the link's bound, no answer in time: refused, and the link connects again.
    daemon.schaGate = new Promise((r) => setTimeout(r, 400));
    await assertRejects(() => link.request(giveover));
    await until("dropped", () => link.snapshot().phase === "unreachable");
    await until("reconnected", () => link.snapshot().phase === "connected");
    await daemon.schaGate;
    assert((await link.request({ type: "status" })).ok, "a request after a timed-out one");
    // Answered after twice the link's bound; status requests meanwhile are answered at once.
    daemon.schaGate = new Promise((r) => setTimeout(r, 400));
    const long = link.request(giveover, 5000);
    const status = await link.request({ type: "status" });
    assert(status.ok);
    const answer = await long;
    assert(answer.ok && (answer.result as { code: number }).code === 0, JSON.stringify(answer));
    assertEquals(daemon.schaCalls.map((c) => c.to), ["beta", "beta"]);
  } finally {
    await link.close();
    await server.close();
    await tmp.remove();
  }
});

async function assertRejects(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch {
    return;
  }
  throw new Error("expected a rejection");
}
