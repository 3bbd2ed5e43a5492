/**
 * The daemon runtime in-process (one node, `remote = "none"`, a real hook
 * script): SIGHUP-style reloads apply what changed, a bad file keeps the old
 * configuration, and shutdown stops what runs here before exiting 0.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { loadConfig } from "../src/config/mod.ts";
import { Daemon } from "../src/daemon/daemon.ts";
import { Logger, MemorySink } from "../src/daemon/log.ts";
import "../src/daemon/test_helpers.ts"; // loads the hook spawner before the tests (the sanitizer)

const SCRIPT = `#!/bin/sh
# EVENT RESOURCE: one marker file per running resource
echo "$1 $2" >> "$DIR/events"
case $1 in
start) touch "$DIR/run-$2";;
stop) rm -f "$DIR/run-$2";;
status) [ -f "$DIR/run-$2" ] && exit 0; exit 1;;
esac
exit 0
`;

function config(
  dir: string,
  opts: { interval: number; extra?: boolean; metrics?: string; validate?: string },
): string {
  const res = (name: string) => `
[resource.${name}.on.solo]
remote = "none"
role_on_start = "primary"
`;
  return `heartbeat_interval = ${opts.interval}
timeout = 0.1
stop_timeout = 1
exec = "${dir}/svc.sh"
hook_env = { DIR = "${dir}" }
[on.solo]
listen = "tcp://127.0.0.1:0"
control = "${dir}/ctl.sock"
state_dir = "${dir}/state"
${opts.metrics ? `metrics_listen = "${opts.metrics}"` : ""}
${res("r0")}${opts.extra ? res("r1") : ""}${
    opts.validate ? `\n[resource.r0.member.r0]\nvalidate = "${opts.validate}"\n` : ""
  }`;
}

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("daemon: reload applies changes, refuses a bad file, and shutdown stops the service", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/hastmon.toml`;
  await Deno.writeTextFile(`${dir}/svc.sh`, SCRIPT, { mode: 0o755 });
  await Deno.writeTextFile(file, config(dir, { interval: 0.2 }));
  const sink = new MemorySink();
  const logger = new Logger(sink, { verbosity: 0 });
  let exitCode = -1;
  const loaded = await loadConfig(file, { node: "solo" });
  assertEquals(loaded.errors, []);
  const d = await Daemon.start(loaded.config!, {
    configPath: file,
    node: "solo",
    logger,
    guard: null,
    onExit: (c) => exitCode = c,
  });
  try {
    await waitFor("r0 to run", () => exists(`${dir}/run-r0`));

    // A broken file: refused, the old configuration stays.
    await Deno.writeTextFile(file, "heartbeat_interval = [\n");
    await d.reload();
    assertStringIncludes(sink.lines.join("\n"), "reload refused");
    assertEquals(d.runtime.machine("r0")!.settings.heartbeatIntervalMs, 200);

    // A changed interval and a new resource: applied.
    await Deno.writeTextFile(file, config(dir, { interval: 0.3, extra: true }));
    await d.reload();
    assertEquals(d.runtime.machine("r0")!.settings.heartbeatIntervalMs, 300);
    assertStringIncludes(sink.lines.join("\n"), "added [r1], removed [], changed [r0]");
    await waitFor("r1 to run", () => exists(`${dir}/run-r1`));

    // metrics_listen is bound at start: a change is named, not silently ignored.
    await Deno.writeTextFile(
      file,
      config(dir, { interval: 0.3, extra: true, metrics: "127.0.0.1:9" }),
    );
    await d.reload();
    assertStringIncludes(sink.lines.join("\n"), "reload: metricsListen changed from null");

    // r1 removed: stopped, then dropped.
    await Deno.writeTextFile(file, config(dir, { interval: 0.3 }));
    await d.reload();
    await waitFor("r1 to stop", async () => !(await exists(`${dir}/run-r1`)));
    await waitFor("r1 to be dropped", () => !d.runtime.names().includes("r1"));
    assert(await exists(`${dir}/run-r0`), "r0 must keep running");

    // A member's validate that fails refuses r0's new settings: r0 runs on as before.
    await Deno.writeTextFile(`${dir}/no.sh`, "#!/bin/sh\necho 'no disk here'\nexit 3\n", {
      mode: 0o755,
    });
    await Deno.writeTextFile(file, config(dir, { interval: 0.5, validate: `${dir}/no.sh` }));
    await d.reload();
    assertEquals(d.runtime.machine("r0")!.settings.heartbeatIntervalMs, 300);
    assertStringIncludes(
      sink.lines.join("\n"),
      "reload: validate of member r0 (resource r0) failed: exit 3: no disk here; r0 keeps its previous configuration",
    );
    assert(await exists(`${dir}/run-r0`), "r0 must keep running");
    // The same file again: validated again, refused again (not taken as already applied).
    await d.reload();
    assertEquals(
      sink.lines.filter((l) => l.includes("validate of member r0 (resource r0) failed")).length,
      2,
    );
    assertEquals(d.runtime.machine("r0")!.settings.heartbeatIntervalMs, 300);

    // Two SIGHUPs in a row: the newer file wins, though the older one validates slowly.
    await Deno.writeTextFile(`${dir}/slow.sh`, "#!/bin/sh\nsleep 0.5\nexit 0\n", {
      mode: 0o755,
    });
    await Deno.writeTextFile(file, config(dir, { interval: 0.4, validate: `${dir}/slow.sh` }));
    const first = d.reload();
    await new Promise((r) => setTimeout(r, 150)); // it has read the file and is validating
    await Deno.writeTextFile(file, config(dir, { interval: 0.6 }));
    const second = d.reload();
    await Promise.all([first, second]);
    assertEquals(d.runtime.machine("r0")!.settings.heartbeatIntervalMs, 600);

    // Shutdown: the service is stopped and the daemon exits 0.
    d.shutdown("test");
    await waitFor("exit", () => exitCode !== -1);
    assertEquals(exitCode, 0);
    assertEquals(await exists(`${dir}/run-r0`), false);
    const events = await Deno.readTextFile(`${dir}/events`);
    assertStringIncludes(events, "stop r0");
  } finally {
    d.shutdown("cleanup");
    await waitFor("exit", () => exitCode !== -1).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
