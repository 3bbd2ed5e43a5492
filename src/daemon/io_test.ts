/**
 * The daemon's Io and its guard: a lease renewal that changes nothing but
 * the deadline is a short `renew`, anything else a full `arm`: what a real
 * process in the guard's place (cat, into a file) was sent.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import type { ResourceNodeConfig } from "../config/mod.ts";
import { DaemonIo } from "./io.ts";
import { Guard } from "./guard_link.ts";
import { Logger, MemorySink } from "./log.ts";
import { StateStore } from "./state_store.ts";
import { EventLog } from "./events.ts";
import { processAlive, waitFor } from "./test_helpers.ts";

/** Just what arming a guard reads of a resource's configuration on this node. */
function view(resource: string): ResourceNodeConfig {
  return {
    resource,
    timeoutMs: 1000,
    stopTimeoutMs: 1000,
    hookTimeoutMs: 1000,
    panic: null,
    members: [{ name: resource, commands: { stop: { argv: ["/bin/true"] } } }],
  } as unknown as ResourceNodeConfig;
}

type Tell = (resource: string, command: Parameters<DaemonIo["guard"]>[1]) => Promise<void>;

/**
 * Run `fn` with a guard that only records: each guard process appends its pid, then what it
 * is sent, to a file (`lines` reads it); `tellFor` makes a DaemonIo on that guard, with
 * `views` as this node's configuration and `env` as `hook_env`, and returns its `tell`.
 */
async function withRecordingGuard(
  respawn: boolean,
  fn: (f: {
    guard: Guard;
    lines: () => Promise<string[]>;
    tellFor: (views: Map<string, ResourceNodeConfig>, env: Record<string, string>) => Tell;
    sink: MemorySink;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-io-" });
  const sent = `${dir}/sent`;
  const guard = Guard.spawn({
    command: ["/bin/sh", "-c", `echo "pid $$" >> '${sent}'; exec cat >> '${sent}'`, "guard"],
    respawn,
  });
  const lifetime = new AbortController();
  const sink = new MemorySink();
  const tellFor = (views: Map<string, ResourceNodeConfig>, env: Record<string, string>) => {
    const io = new DaemonIo({
      node: "a",
      logger: new Logger(sink),
      guard,
      store: new StateStore(dir),
      events: new EventLog("a"),
      view: (r) => views.get(r),
      hookEnv: () => env, // the same object: a renewal stays a renewal
      send: () => {},
      onWake: () => {},
      onTransition: () => {},
      onQuiesced: () => {},
      lifetime: lifetime.signal,
    });
    return (resource: string, command: Parameters<DaemonIo["guard"]>[1]) =>
      new Promise<void>((resolve) => io.guard(resource, command, resolve));
  };
  const lines = async () =>
    (await Deno.readTextFile(sent).catch(() => "")).split("\n").filter((l) => l !== "");
  try {
    await fn({ guard, lines, tellFor, sink });
  } finally {
    lifetime.abort();
    await guard.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The commands in `lines` from index `from` on, parsed. */
const commandsIn = (lines: string[], from: number) => lines.slice(from).map((l) => JSON.parse(l));

Deno.test("daemon io: a lease renewal is a renew for the guard; a new epoch or a reload arms afresh", async () => {
  await withRecordingGuard(false, async ({ lines, tellFor }) => {
    const views = new Map([["r", view("r")]]);
    const tell = tellFor(views, { HASTMON_CONTROL: "/run/x.sock" });
    const until = () => performance.now() + 60_000;
    await tell("r", { action: "arm", until: until(), epoch: 1 });
    await tell("r", { action: "arm", until: until(), epoch: 1 });
    await tell("r", { action: "arm", until: until(), epoch: 1 });
    await tell("r", { action: "arm", until: until(), epoch: 2 }); // a new epoch: its stops' env
    await tell("r", { action: "arm", until: until(), epoch: 2 });
    views.set("r", view("r")); // a reload: the node's view is a new object
    await tell("r", { action: "arm", until: until(), epoch: 2 });
    await tell("r", { action: "disarm" });
    await tell("r", { action: "arm", until: until(), epoch: 2 }); // after a disarm: armed afresh
    await waitFor(async () => (await lines()).length === 9, 5000, "eight commands to the guard");
    const types = commandsIn(await lines(), 1).map((c) => c.type);
    assertEquals(types, ["arm", "renew", "renew", "arm", "renew", "arm", "disarm", "arm"]);
  });
});

Deno.test("daemon io: a guard that dies is started again and told at once what the dead one guarded", async () => {
  await withRecordingGuard(true, async ({ guard, lines, tellFor, sink }) => {
    const views = new Map([["r", view("r")], ["q", view("q")], ["p", view("p")]]);
    const tell = tellFor(views, {});
    const until = performance.now() + 60_000;
    await tell("r", { action: "arm", until, epoch: 3 });
    await tell("q", { action: "arm", until, epoch: 1 });
    await tell("q", { action: "stopping", timeoutMs: 30_000 }); // the daemon stops q itself
    await tell("p", { action: "arm", until, epoch: 1 });
    await tell("p", { action: "disarm" }); // nothing of p to guard any more
    await tell("r", { action: "arm", until: until + 1000, epoch: 3 }); // a renewal
    await guard.starting("r", 4242, "77"); // a start hook of r running
    await waitFor(async () => (await lines()).length === 8, 5000, "seven commands and a pid");
    const first = guard.pid;
    Deno.kill(first, "SIGKILL");
    await waitFor(async () => (await lines()).length === 13, 5000, "a new guard, told");
    const after = await lines();
    assertEquals(after[8], `pid ${guard.pid}`);
    assert(guard.pid !== first, "the same guard");
    const told = commandsIn(after, 9);
    // r armed with the lease end last told, and its start hook; q armed and stopping, with the
    // time its stop had left; p was disarmed and is not told again.
    assertEquals(told.map((c) => `${c.type} ${c.resource}`), [
      "arm r",
      "starting r",
      "arm q",
      "stopping q",
    ]);
    assert(Math.abs(told[0].remainingMs - (until + 1000 - told[0].sentAt)) <= 1000, after[9]);
    assertEquals([told[1].pid, told[1].since], [4242, "77"]);
    assert(told[3].timeoutMs > 25_000 && told[3].timeoutMs <= 30_000, after[12]);
    assert(
      sink.lines.some((l) => l.includes("the guard died (killed by SIGKILL)")),
      "the death is logged",
    );
    // Renewals go on as renewals, to the new guard.
    await tell("r", { action: "arm", until: until + 2000, epoch: 3 });
    await waitFor(async () => (await lines()).length === 14, 5000, "a renewal");
    assertEquals(JSON.parse((await lines())[13]).type, "renew");
  });
});

Deno.test("guard link: a guard dead a moment before the daemon leaves is replaced, told, then left to finish", async () => {
  await withRecordingGuard(true, async ({ guard, lines }) => {
    // A listener that throws (a log on a full disk) stops nothing.
    guard.onRespawn(() => {
      throw new Error("No space left on device");
    });
    await guard.arm("r", 60_000, [], 1000, null, 500);
    await waitFor(async () => (await lines()).length === 2, 5000, "the arm");
    const first = guard.pid;
    Deno.kill(first, "SIGKILL");
    await waitFor(async () => (await lines()).length === 4, 5000, "a new guard, told");
    assertEquals(JSON.parse((await lines())[3]).type, "arm");
    // Killed again, and the daemon leaves at once, before the death is seen.
    const second = guard.pid;
    Deno.kill(second, "SIGKILL");
    await waitFor(() => Promise.resolve(!processAlive(second)), 5000, "the second guard dead");
    await guard.abandon();
    await waitFor(async () => (await lines()).length === 6, 5000, "a third guard, told");
    const after = await lines();
    assert(!after[4].includes(String(second)), after[4]);
    assertEquals(JSON.parse(after[5]).resource, "r");
  });
});

Deno.test("guard link: a stop past its time is told again as a panic run, not as a stop to time again", async () => {
  await withRecordingGuard(true, async ({ guard, lines }) => {
    await guard.arm("r", 60_000, [], 1000, null, 100);
    await guard.stopping("r", 50); // the old guard's panic is due 150 ms from now
    await guard.arm("s", 60_000, [], 1000, null, 100);
    await guard.disarm("s");
    await waitFor(async () => (await lines()).length === 5, 5000, "four commands");
    await new Promise((r) => setTimeout(r, 300));
    Deno.kill(guard.pid, "SIGKILL");
    await waitFor(async () => (await lines()).length >= 7, 5000, "a new guard, told");
    await new Promise((r) => setTimeout(r, 100));
    const told = commandsIn(await lines(), 6);
    assertEquals(told.map((c) => `${c.type} ${c.resource}`), ["panicking r"]);
  });
});
