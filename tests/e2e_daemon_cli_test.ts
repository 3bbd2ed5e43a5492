/**
 * `hastmon daemon` as an operator runs it: in the background by default, a
 * second daemon on the same pidfile refused with exit 69, SIGTERM stops the
 * service and cleans up, and a configuration error is a file:line:col line
 * with exit 78.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon } from "./cli.ts";
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";
import { backgroundArgs } from "../src/cli/daemon_run.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("daemon: background start, a second one refused (69), SIGTERM stops and cleans up", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = `${dir}/hastmon.toml`;
  await Deno.writeTextFile(
    `${dir}/svc.sh`,
    `#!/bin/sh\ncase $1 in start) touch ${dir}/running;; stop) rm -f ${dir}/running;;\n` +
      `status) [ -f ${dir}/running ] && exit 0; exit 1;; esac\nexit 0\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    cfg,
    `heartbeat_interval = 0.2\ntimeout = 0.1\nexec = "${dir}/svc.sh"\n[on.solo]\n` +
      `listen = "tcp://127.0.0.1:0"\ncontrol = "${dir}/ctl.sock"\nstate_dir = "${dir}/state"\n` +
      `[resource.r0.on.solo]\nremote = "none"\nrole_on_start = "primary"\n`,
  );
  const pidfile = `${dir}/hastmon.pid`;
  const args = ["daemon", "-c", cfg, "--node", "solo", "-P", pidfile];
  let pid = 0;
  try {
    const first = await hastmon(args);
    assertEquals(first.code, 0, first.err);
    assertStringIncludes(first.out, "hastmon daemon started (pid ");
    pid = Number((await Deno.readTextFile(pidfile)).trim());
    assert(pid > 0);
    assertEquals((await Deno.stat(`${dir}/ctl.sock`)).mode! & 0o777, 0o600);
    await waitFor("the service to run", () => exists(`${dir}/running`));

    const second = await hastmon(args);
    assertEquals(second.code, 69, second.err);
    assertStringIncludes(second.err, `another hastmon daemon is running (pid ${pid})`);

    const status = await hastmon(["ctl", "-c", cfg, "--node", "solo", "status"]);
    assertEquals(status.code, 0, status.err);
    assertStringIncludes(status.out, "role: primary");

    Deno.kill(pid, "SIGTERM");
    await waitFor("the daemon to exit", () => {
      try {
        Deno.kill(pid, "SIGCONT"); // signal 0 is not offered; SIGCONT is harmless
        return Promise.resolve(false);
      } catch {
        return Promise.resolve(true);
      }
    });
    pid = 0;
    assertEquals(await exists(`${dir}/running`), false, "SIGTERM must stop the service");
    assertEquals(await exists(pidfile), false, "the pidfile is removed");
    assertEquals(await exists(`${dir}/ctl.sock`), false, "the control socket is removed");
  } finally {
    if (pid) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: a bad configuration is refused with file:line:col and exit 78", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = `${dir}/bad.toml`;
    await Deno.writeTextFile(cfg, `heartbeat_intervall = 2\n`);
    const r = await hastmon(["daemon", "-F", "-c", cfg, "--node", "x", "-P", `${dir}/p`]);
    assertEquals(r.code, 78, r.err);
    assertStringIncludes(r.err, `${cfg}:1:1:`);
    assertStringIncludes(r.err, "heartbeat_interval");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: the background re-exec and the hastmon task run with the daemon's Deno options", async () => {
  const background = backgroundArgs(["-c", "x.toml"]);
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const task: string[] = denoJson.tasks.hastmon.split(" ");
  for (const flag of DAEMON_DENO_FLAGS) {
    // Deno options go before the script; after it they would be the script's.
    assert(background.indexOf(flag) > 0 && background.indexOf(flag) < background.indexOf("daemon"));
    assert(task.includes(flag) && task.indexOf(flag) < task.indexOf("main.ts"), task.join(" "));
  }
  assertEquals(background.slice(-3), ["daemon", "-c", "x.toml"]);
});
