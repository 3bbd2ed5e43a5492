/**
 * The daemon's event stream carries what the console and `ctl events` show
 * besides role changes: reloads (applied, or refused with why) and hook
 * failures. One daemon in-process, `remote = "none"`, a real hook script.
 */
import { assert, assertEquals } from "./assert.ts";
import { loadConfig } from "../src/config/mod.ts";
import { Daemon } from "../src/daemon/daemon.ts";
import { Logger, MemorySink } from "../src/daemon/log.ts";
import type { DaemonEvent } from "../src/control/protocol.ts";
import "../src/daemon/test_helpers.ts"; // loads the hook spawner before the tests (the sanitizer)

// start fails (exit 3) while the flag file `bad-start` exists.
const SCRIPT = `#!/bin/sh
D=$(dirname "$0")
case $1 in
start) [ -e "$D/bad-start" ] && exit 3; touch "$D/run-$2";;
stop) rm -f "$D/run-$2";;
status) [ -f "$D/run-$2" ] && exit 0; exit 1;;
esac
exit 0
`;

function config(dir: string, interval: number): string {
  return `heartbeat_interval = ${interval}
timeout = 0.1
stop_timeout = 1
exec = "${dir}/svc.sh"
[on.solo]
listen = "tcp://127.0.0.1:0"
control = "${dir}/ctl.sock"
state_dir = "${dir}/state"
[resource.r0.on.solo]
remote = "none"
role_on_start = "primary"
`;
}

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("daemon events: reloads applied and refused, and hook failures, are on the event stream", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/hastmon.toml`;
  await Deno.writeTextFile(`${dir}/svc.sh`, SCRIPT, { mode: 0o755 });
  await Deno.writeTextFile(file, config(dir, 0.1));
  let exitCode = -1;
  const loaded = await loadConfig(file, { node: "solo" });
  const d = await Daemon.start(loaded.config!, {
    configPath: file,
    node: "solo",
    logger: new Logger(new MemorySink(), { verbosity: 0 }),
    guard: null,
    onExit: (c) => exitCode = c,
  });
  const streamed: DaemonEvent[] = [];
  const unsubscribe = d.events.subscribe((e) => streamed.push(e));
  const of = (kind: DaemonEvent["kind"]) => streamed.filter((e) => e.kind === kind);
  try {
    await Deno.writeTextFile(file, "heartbeat_interval = [\n");
    await d.reload();
    const refused = of("reload");
    assertEquals(refused.length, 1);
    assertEquals(refused[0].level, "error");
    assertEquals(refused[0].resource, null);
    // The why: the file and position of the error.
    assert(refused[0].message.includes(`${file}:2:1`), refused[0].message);

    await Deno.writeTextFile(file, config(dir, 0.2));
    await d.reload();
    const applied = of("reload")[1];
    assertEquals(applied.level, "info");
    assert(applied.message.includes("r0"), applied.message);

    // A status probe answering "stopped" (exit 1) before the start is not a failure.
    assertEquals(of("hook"), []);
    // A start that fails is: made to fail, then the resource asked to start again.
    await Deno.writeTextFile(`${dir}/bad-start`, "");
    d.control.role("secondary", ["r0"], false);
    await waitFor("secondary", () => d.runtime.machine("r0")?.role === "secondary");
    d.control.role("primary", ["r0"], false);
    // (On a loaded machine another hook may time out first: the start's failure is looked for.)
    const startFailed = () => of("hook").find((e) => e.message.startsWith("start"));
    await waitFor("a hook failure event for the start", () => startFailed() !== undefined);
    const failure = startFailed()!;
    assertEquals(failure.resource, "r0");
    assert(failure.message.includes("exit 3"), failure.message);
    // The same events are in the recent history that a new follower receives first.
    const recent = d.events.recent().map((e) => e.seq);
    for (const e of [...of("reload"), failure]) assert(recent.includes(e.seq));
  } finally {
    unsubscribe();
    d.shutdown("test");
    await waitFor("exit", () => exitCode !== -1).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
