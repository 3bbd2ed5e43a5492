/**
 * The daemon's Io and its guard: a lease renewal that changes nothing but
 * the deadline is a short `renew`, anything else a full `arm`: what a real
 * process in the guard's place (cat, into a file) was sent.
 */
import { assertEquals } from "../../tests/assert.ts";
import type { ResourceNodeConfig } from "../config/mod.ts";
import { DaemonIo } from "./io.ts";
import { Guard } from "./guard.ts";
import { Logger, MemorySink } from "./log.ts";
import { StateStore } from "./state_store.ts";
import { EventLog } from "./events.ts";
import { waitFor } from "./test_helpers.ts";

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

Deno.test("daemon io: a lease renewal is a renew for the guard; a new epoch or a reload arms afresh", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-io-" });
  const sent = `${dir}/sent`;
  const guard = Guard.spawn({ command: ["/bin/sh", "-c", `exec cat > '${sent}'`, "guard"] });
  const lifetime = new AbortController();
  try {
    const views = new Map([["r", view("r")]]);
    const env = { HASTMON_CONTROL: "/run/x.sock" };
    const io = new DaemonIo({
      node: "a",
      logger: new Logger(new MemorySink()),
      guard,
      store: new StateStore(dir),
      events: new EventLog("a"),
      view: (r) => views.get(r),
      hookEnv: () => env,
      send: () => {},
      onWake: () => {},
      onTransition: () => {},
      onQuiesced: () => {},
      lifetime: lifetime.signal,
    });
    const tell = (command: Parameters<DaemonIo["guard"]>[1]) =>
      new Promise<void>((resolve) => io.guard("r", command, resolve));
    const until = () => performance.now() + 60_000;
    await tell({ action: "arm", until: until(), epoch: 1 });
    await tell({ action: "arm", until: until(), epoch: 1 });
    await tell({ action: "arm", until: until(), epoch: 1 });
    await tell({ action: "arm", until: until(), epoch: 2 }); // a new epoch: its stops' environment
    await tell({ action: "arm", until: until(), epoch: 2 });
    views.set("r", view("r")); // a reload: the node's view is a new object
    await tell({ action: "arm", until: until(), epoch: 2 });
    await tell({ action: "disarm" });
    await tell({ action: "arm", until: until(), epoch: 2 }); // after a disarm: armed afresh
    let types: string[] = [];
    await waitFor(
      async () => {
        const text = await Deno.readTextFile(sent).catch(() => "");
        types = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).type);
        return types.length === 8;
      },
      5000,
      "eight commands to the guard",
    );
    assertEquals(types, ["arm", "renew", "renew", "arm", "renew", "arm", "disarm", "arm"]);
  } finally {
    lifetime.abort();
    await guard.close();
    await Deno.remove(dir, { recursive: true });
  }
});
