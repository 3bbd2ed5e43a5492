/**
 * `hastmon daemon` as an operator runs it: in the background by default, a
 * second daemon on the same pidfile or state_dir refused with exit 69, SIGTERM stops the
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
    // Another pidfile, the same state_dir: refused too, before it touches the journal.
    const journal = await Deno.readTextFile(`${dir}/state/state.journal`);
    const other = await hastmon(["daemon", "-c", cfg, "--node", "solo", "-P", `${dir}/other.pid`]);
    assertEquals(other.code, 69, other.err);
    assertStringIncludes(other.err, `state_dir ${dir}/state is in use by another hastmon daemon`);
    assertEquals(await exists(`${dir}/other.pid`), false, "the refused daemon's pidfile is left");
    assertEquals(await Deno.readTextFile(`${dir}/state/state.journal`), journal);

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
    // Whatever a failed run left: the first daemon, and the refused one had it started after all.
    for (const file of [pidfile, `${dir}/other.pid`]) {
      const left = pid || Number((await Deno.readTextFile(file).catch(() => "")).trim());
      if (left > 0) {
        try {
          Deno.kill(left, "SIGKILL");
        } catch { /* gone */ }
      }
      pid = 0;
    }
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

Deno.test("daemon: a missing configuration is 66, bad usage 64, a taken peer port is named", async () => {
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const missing = await hastmon(["daemon", "-F", "-c", `${dir}/none.toml`, "--node", "x"]);
    assertEquals(missing.code, 66, missing.err);
    assertStringIncludes(missing.err, `${dir}/none.toml`);
    assertEquals((await hastmon(["daemon", "--bogus"])).code, 64);
    const cfg = await soloConfig(dir, `${dir}/state`);
    const port = (taken.addr as Deno.NetAddr).port;
    await Deno.writeTextFile(
      cfg,
      (await Deno.readTextFile(cfg)).replace("tcp://127.0.0.1:0", `tcp://127.0.0.1:${port}`),
    );
    const r = await hastmon(["daemon", "-F", "-c", cfg, "--node", "solo", "-P", `${dir}/p`]);
    assertEquals(r.code, 73, r.err);
    // Which address, and that it is the peer listener's: "cannot start: Address already in
    // use" alone leaves the operator to guess between listen, control and metrics_listen.
    assertStringIncludes(r.err, `listen 127.0.0.1:${port}: `);
    assertEquals(await exists(`${dir}/running`), false, "a daemon that could not start ran start");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: a start-up that fails after the resources began (metrics_listen taken) leaves nothing running", async () => {
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pidFile = `${dir}/service.pid`;
  try {
    // A lone primary starts at once; its start takes a while before it launches the service.
    await Deno.writeTextFile(
      `${dir}/svc.sh`,
      `#!/bin/sh\ncase $1 in\n` +
        `start) sleep 0.5; setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile};;\n` +
        `stop) [ -s ${pidFile} ] && kill -9 $(cat ${pidFile}); rm -f ${pidFile};;\n` +
        `status) [ -s ${pidFile} ] && kill -0 $(cat ${pidFile}) 2>/dev/null && exit 0; exit 1;;\n` +
        `esac\nexit 0\n`,
      { mode: 0o755 },
    );
    const cfg = `${dir}/hastmon.toml`;
    await Deno.writeTextFile(
      cfg,
      `exec = "${dir}/svc.sh"\nmetrics_listen = "127.0.0.1:${
        (taken.addr as Deno.NetAddr).port
      }"\n` +
        `[on.solo]\nlisten = "tcp://127.0.0.1:0"\ncontrol = "${dir}/ctl.sock"\n` +
        `state_dir = "${dir}/state"\n[resource.r0.on.solo]\nremote = "none"\n` +
        `role_on_start = "primary"\n`,
    );
    const r = await hastmon(["daemon", "-F", "-c", cfg, "--node", "solo", "-P", `${dir}/p`]);
    assertEquals(r.code, 73, r.err);
    assertStringIncludes(r.err, "metrics_listen 127.0.0.1:");
    // Past the start's delay: a start left running beside the stop would have launched by now.
    await new Promise((res) => setTimeout(res, 1500));
    const pid = await Deno.readTextFile(pidFile).then((t) => Number(t.trim()), () => 0);
    let alive = false;
    if (pid > 0) {
      try {
        Deno.kill(pid, "SIGKILL");
        alive = true;
      } catch { /* gone */ }
    }
    assertEquals(alive, false, `the service (pid ${pid}) outlived the daemon that failed to start`);
  } finally {
    taken.close();
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

/** A one-node configuration (remote = "none") whose start hook lists its open descriptors. */
async function soloConfig(dir: string, stateDir: string, name = "hastmon.toml"): Promise<string> {
  await Deno.writeTextFile(
    `${dir}/svc.sh`,
    `#!/bin/sh\ncase $1 in\n` +
      // What the hook holds open, as "fd target" lines (its shell's own, and inherited ones).
      `start) for f in /proc/$$/fd/*; do echo "\${f##*/} $(readlink "$f")"; done >${dir}/fds.tmp\n` +
      `  mv ${dir}/fds.tmp ${dir}/fds; touch ${dir}/running;;\n` +
      `stop) rm -f ${dir}/running;;\nstatus) [ -f ${dir}/running ] && exit 0; exit 1;;\nesac\nexit 0\n`,
    { mode: 0o755 },
  );
  const cfg = `${dir}/${name}`;
  await Deno.writeTextFile(
    cfg,
    `heartbeat_interval = 0.2\ntimeout = 0.1\nexec = "${dir}/svc.sh"\n[on.solo]\n` +
      `listen = "tcp://127.0.0.1:0"\ncontrol = "${dir}/${name}.sock"\nstate_dir = "${stateDir}"\n` +
      `[resource.r0.on.solo]\nremote = "none"\nrole_on_start = "primary"\n`,
  );
  return cfg;
}

/**
 * Run `hastmon ARGS` (through /bin/sh, which first runs `prelude`) until it
 * exits, or `ms` have passed: then it is stopped (SIGTERM, then SIGKILL) and
 * the code is null. A daemon that should have refused to start is not left running.
 */
async function runUntilExit(args: string[], ms: number, prelude = ":") {
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      `${prelude}; exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "main.ts",
      ...args,
    ],
    cwd: new URL("../", import.meta.url),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const stopper = setTimeout(() => {
    timedOut = true;
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 5000);
  }, ms);
  const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(stopper));
  const dec = new TextDecoder();
  return { code: timedOut ? null : code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

const PRECIOUS = "precious data\n";

Deno.test("daemon: a symlink at -P or --log, or a state_dir open to others, is refused with 73 and nothing is written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-files-" });
  const cfg = await soloConfig(dir, `${dir}/state`);
  await Deno.mkdir(`${dir}/state`, { mode: 0o700 });
  await Deno.mkdir(`${dir}/open`);
  await Deno.chmod(`${dir}/open`, 0o777);
  const openCfg = await soloConfig(dir, `${dir}/open`, "open.toml");
  for (const target of ["pid-target", "log-target"]) {
    await Deno.writeTextFile(`${dir}/${target}`, PRECIOUS);
  }
  await Deno.symlink(`${dir}/pid-target`, `${dir}/hastmon.pid`);
  await Deno.symlink(`${dir}/log-target`, `${dir}/hastmon.log`);
  const base = ["daemon", "--node", "solo"];
  try {
    const [pid, log, open] = await Promise.all([
      runUntilExit([...base, "-F", "-c", cfg, "-P", `${dir}/hastmon.pid`], 20_000),
      // --log counts in the background (the default); the pidfile is a fresh one there.
      runUntilExit(
        [...base, "-c", cfg, "-P", `${dir}/bg.pid`, "--log", `${dir}/hastmon.log`],
        20_000,
      ),
      runUntilExit([...base, "-F", "-c", openCfg, "-P", `${dir}/open.pid`], 20_000),
    ]);
    assertEquals(pid.code, 73, pid.err);
    assertStringIncludes(pid.err, `${dir}/hastmon.pid: it is a symbolic link`);
    assertEquals(log.code, 73, log.err);
    assertStringIncludes(log.err, `${dir}/hastmon.log: it is a symbolic link`);
    assertEquals(open.code, 73, open.err);
    assertStringIncludes(open.err, "state_dir is writable by group or others (mode 777)");
    assertStringIncludes(open.err, `chmod 700 "${dir}/open"`);
    assertEquals(
      open.err.includes("if it is stale"),
      false,
      "a state_dir must never be advised away",
    );
    for (const target of ["pid-target", "log-target"]) {
      assertEquals(await Deno.readTextFile(`${dir}/${target}`), PRECIOUS, target);
    }
    assertEquals((await Deno.lstat(`${dir}/hastmon.pid`)).isSymlink, true);
    assertEquals((await Deno.stat(`${dir}/open`)).mode! & 0o777, 0o777, "state_dir changed");
    assertEquals(await exists(`${dir}/running`), false, "a refused daemon started the service");
  } finally {
    // Had one started after all (the test then fails above), it must not outlive the test.
    for (const p of ["hastmon.pid", "bg.pid", "open.pid", "pid-target"]) {
      const text = await Deno.readTextFile(`${dir}/${p}`).catch(() => "");
      const n = Number(text.trim());
      if (Number.isInteger(n) && n > 0) {
        try {
          Deno.kill(n, "SIGKILL");
        } catch { /* gone */ }
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: creates state_dir 0700; a descriptor it inherited does not reach its hooks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-fds-" });
  const cfg = await soloConfig(dir, `${dir}/new/state`);
  const marker = `${dir}/inherited-descriptor`;
  const run = runUntilExit(
    ["daemon", "-F", "-c", cfg, "--node", "solo", "-P", `${dir}/hastmon.pid`],
    60_000,
    // The shell opens descriptor 7 without close-on-exec: the daemon inherits it.
    `exec 7>>'${marker}'`,
  );
  try {
    await waitFor("the start hook's descriptor list", () => exists(`${dir}/fds`), 20_000);
    assertEquals((await Deno.stat(`${dir}/new/state`)).mode! & 0o777, 0o700);
    const fds = await Deno.readTextFile(`${dir}/fds`);
    // The hook has its own descriptors (0, 1, 2 at least), and not the inherited one.
    assert(/^1 .*\/fds\.tmp$/m.test(fds), fds);
    assertEquals(
      fds.includes(marker),
      false,
      `the hook inherited the daemon's descriptor:\n${fds}`,
    );
  } finally {
    const pid = Number((await Deno.readTextFile(`${dir}/hastmon.pid`).catch(() => "")).trim());
    if (pid > 0) Deno.kill(pid, "SIGTERM");
    const r = await run;
    await Deno.remove(dir, { recursive: true });
    assertEquals(r.code, 0, r.err);
    assert(/descriptors (\d+, )*7(, \d+)* \(inherited.*marked close-on-exec/.test(r.err), r.err);
  }
});
