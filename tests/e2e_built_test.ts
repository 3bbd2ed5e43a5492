/**
 * The built executable (`deno task build` → dist/hastmon) as an operator uses
 * it: copied alone into an empty directory (no deno.json, no node_modules,
 * no sources), started from another directory with relative paths, as a
 * two-node-plus-watchdog cluster through `ctl status`, and as a background
 * daemon. Also the launcher's refusals: a damaged copy never runs and leaves
 * no cache entry behind.
 *
 * The build is made once per set of sources (`--if-changed`, tests/cluster/built.ts):
 * a CI run that built already reuses it.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { withCluster } from "./cluster/harness.ts";
import { DIST, ensureBuilt, installCopy } from "./cluster/built.ts";
import { DEFAULT_INSTALL } from "../scripts/build/service_files.ts";
import { KEY_BY_NAME } from "../src/config/schema.ts";

async function run(
  exe: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(exe, {
    args,
    cwd,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("built file: a two-node-plus-watchdog cluster from a lone copy, relative paths, ctl status", async () => {
  const { root, exe, cache } = await installCopy();
  try {
    await withCluster({
      executable: { path: exe, env: { HASTMON_CACHE: cache } },
      relativePaths: true,
    }, async (c) => {
      await c.waitForSteady("a");
      for (const [node, role] of [["a", "primary"], ["b", "secondary"], ["w", "watchdog"]]) {
        const out = await c.ctlOk(node, "status");
        assertStringIncludes(out, `role: ${role}`);
        assertStringIncludes(out, `node: ${node}`);
        // Every daemon started its guard by running the built file again.
        assertStringIncludes(await c.log(node), "guard started");
      }
      const json = JSON.parse(await c.ctlOk("b", "status", "--json"));
      assertEquals(json.resources[0].role, "secondary");
      // -P resolved against the caller's directory, state_dir against the configuration's.
      assert(await exists(`${c.dir}/run/a.pid`), "pidfile a.pid in the caller's directory");
      assert(await exists(`${c.dir}/state-a`), "state_dir relative to the configuration file");
      assert(!(await exists(`${root}/bin/state-a`)), "nothing written beside the executable");
      // The service (started by a hook) inherits none of the launcher's DENO_* variables (its
      // DENO_DIR is in hastmon's cache): hooks get a minimal environment (hook_hygiene.ts).
      const env = new TextDecoder().decode(
        await Deno.readFile(`/proc/${c.servicePid("a")}/environ`),
      ).split("\0");
      assert(!env.some((v) => v.startsWith("DENO_")), `DENO_* leaked: ${env.join(" ")}`);
      assert(!env.some((v) => v.includes(cache)), "the launcher's cache leaked");
      // No `Task …` line, no Deno noise: the first line is the resource.
      assertEquals((await c.ctlOk("a", "status")).split("\n")[0], "r0:");
      // The Solaris names for a script (docs/SCHA.md): wrappers that run this very file.
      const links = await c.hastmon("scha-links", `${root}/cluster-bin`);
      assertEquals(links.code, 0, links.stderr);
      assertStringIncludes(
        await Deno.readTextFile(`${root}/cluster-bin/scha_control`),
        `exec '${exe}' scha_control "$@"`,
      );
      const rg = await run(
        `${root}/cluster-bin/scha_resource_get`,
        ["-O", "rg_state", "-G", "r0", "-R", "r0", "-s", c.controlPath("a")],
        "/",
        { HASTMON_CACHE: cache },
      );
      assertEquals([rg.code, rg.out], [0, "ONLINE\n"], rg.err);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("built file: the background daemon re-runs the file itself, and SIGTERM cleans up", async () => {
  const { root, exe, cache } = await installCopy();
  const work = `${root}/work`;
  await Deno.mkdir(`${work}/etc`, { recursive: true });
  await Deno.writeTextFile(
    `${work}/etc/svc.sh`,
    `#!/bin/sh\nf="$(dirname "$0")/running"\ncase $1 in start) touch "$f";; stop) rm -f "$f";;\n` +
      `status) [ -f "$f" ] && exit 0; exit 1;; esac\nexit 0\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${work}/etc/hastmon.toml`,
    `heartbeat_interval = 0.2\ntimeout = 0.1\nexec = "svc.sh"\n[on.solo]\n` +
      `listen = "tcp://127.0.0.1:0"\ncontrol = "ctl.sock"\nstate_dir = "state"\n` +
      `[resource.r0.on.solo]\nremote = "none"\nrole_on_start = "primary"\n`,
  );
  const env = { HASTMON_CACHE: cache };
  let pid = 0;
  try {
    const started = await run(
      exe,
      ["daemon", "-c", "etc/hastmon.toml", "--node", "solo", "-P", "solo.pid"],
      work,
      env,
    );
    assertEquals(started.code, 0, started.err);
    assertStringIncludes(started.out, "hastmon daemon started (pid ");
    pid = Number((await Deno.readTextFile(`${work}/solo.pid`)).trim());
    const status = await run(
      exe,
      ["ctl", "-c", "etc/hastmon.toml", "--node", "solo", "status"],
      work,
      env,
    );
    assertEquals(status.code, 0, status.err);
    assertStringIncludes(status.out, "role: primary");
    const deadline = Date.now() + 10_000;
    while (!(await exists(`${work}/etc/running`)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(await exists(`${work}/etc/running`), "the service runs");
    Deno.kill(pid, "SIGTERM");
    while (Date.now() < deadline + 10_000 && await exists(`/proc/${pid}`)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(!(await exists(`/proc/${pid}`)), "the daemon exited");
    pid = 0;
    assert(!(await exists(`${work}/etc/running`)), "SIGTERM stopped the service");
    assert(!(await exists(`${work}/solo.pid`)), "the pidfile is gone");
  } finally {
    if (pid) Deno.kill(pid, "SIGKILL");
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("built file: a damaged copy is refused before anything runs and leaves no cache entry", async () => {
  const { root, exe, cache } = await installCopy();
  try {
    // One byte flipped near the end of the payload, as a cut-short or corrupted copy would be.
    const bytes = await Deno.readFile(exe);
    bytes[bytes.length - 100] ^= 0xff;
    await Deno.writeFile(exe, bytes);
    const r = await run(exe, ["--version"], root, { HASTMON_CACHE: cache });
    assertEquals(r.code, 65, r.err);
    assertStringIncludes(r.err, "is damaged");
    assertEquals(r.out, "");
    assertEquals([...Deno.readDirSync(cache)], [], "no entry, no leftover unpacking directory");
    // Restored, the same file runs; a half-unpacked directory left by a killed run is ignored.
    bytes[bytes.length - 100] ^= 0xff;
    await Deno.writeFile(exe, bytes);
    await Deno.mkdir(`${cache}/.unpack.killed/`);
    await Deno.writeTextFile(`${cache}/.unpack.killed/app.js`, "throw 1");
    const ok = await run(exe, ["--version"], root, { HASTMON_CACHE: cache });
    assertEquals(ok.code, 0, ok.err);
    assertEquals(ok.out.trim(), (await import("../src/version.ts")).VERSION);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * VmRSS of `pid` in MB, once it runs the unpacked program and has settled: Deno on app.js, or
 * already the guard, which then names itself (its command line too, src/daemon/proc_title.ts).
 */
async function settledRssMb(pid: number): Promise<number> {
  const until = Date.now() + 30_000;
  const running = () =>
    Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("app.js") ||
    Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === "hastmon: guard";
  while (!running()) {
    if (Date.now() > until) throw new Error(`process ${pid} never ran app.js`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 2000));
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
}

Deno.test("built file: the first run after unpacking is no bigger than a later one (Deno's caches are warmed while unpacking)", async () => {
  // A process that parses the bundle (no cache yet) keeps the parser's memory, about 16 MB,
  // for as long as it lives; the first run after an install may well be the daemon. The guard
  // stands in for it: long-lived, and it waits on its standard input.
  const { root, exe, cache } = await installCopy();
  try {
    const rss: number[] = [];
    for (let i = 0; i < 2; i++) {
      const child = new Deno.Command(exe, {
        args: ["guard", "--node", "x"],
        cwd: root,
        env: { NO_COLOR: "1", HASTMON_CACHE: cache },
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        rss.push(await settledRssMb(child.pid));
      } finally {
        child.kill("SIGKILL");
        await child.status;
        await child.stdin.close().catch(() => {});
      }
    }
    assert(
      rss[0] <= rss[1] + 8,
      `first run ${rss[0].toFixed(1)} MB, second ${rss[1].toFixed(1)} MB`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("built file: systemd-analyze verify accepts hastmon.service, which gives SIGTERM its time", async () => {
  const { root, exe } = await installCopy();
  try {
    const unit = await Deno.readTextFile(`${DIST}/hastmon.service`);
    // The unit names the installed path; here the copy stands in for it (verify wants it to exist).
    await Deno.writeTextFile(
      `${root}/hastmon.service`,
      unit.replaceAll(DEFAULT_INSTALL.bin, exe),
    );
    const r = await new Deno.Command("systemd-analyze", {
      args: ["verify", `${root}/hastmon.service`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    // verify exits 0 even after "ignoring" a bad line: it must have nothing to say.
    assertEquals([r.code, said], [0, ""]);
    assertStringIncludes(unit, `ExecStart=${DEFAULT_INSTALL.bin} daemon -F `);
    assertStringIncludes(unit, "KillMode=process\n");
    assertStringIncludes(unit, "Restart=on-failure\n");
    assertStringIncludes(unit, "StateDirectory=hastmon\n");
    assertStringIncludes(unit, `Environment=HASTMON_CACHE=${DEFAULT_INSTALL.cache}\n`);
    // The daemon's own bound on a SIGTERM shutdown with the defaults fits in TimeoutStopSec.
    const s = (k: string) => KEY_BY_NAME.get(k)!.default as number;
    const daemonBound = 2 * s("stop_timeout") + s("hook_timeout");
    const timeout = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    assert(timeout > daemonBound, `TimeoutStopSec=${timeout} ≤ ${daemonBound}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("built file: the rc.d script is valid sh and runs the daemon as rc.subr expects", async () => {
  await ensureBuilt();
  const dir = await Deno.makeTempDir({ prefix: "hastmon-rc-" });
  try {
    const rc = await Deno.readTextFile(`${DIST}/hastmon.rc`);
    const syntax = await new Deno.Command("sh", { args: ["-n", `${DIST}/hastmon.rc`] }).output();
    assertEquals(syntax.code, 0, new TextDecoder().decode(syntax.stderr));
    // A stand-in for FreeBSD's rc.subr that shows what run_rc_command would do.
    await Deno.writeTextFile(
      `${dir}/rc.subr`,
      `load_rc_config() { hastmon_enable=YES; }\n` +
        `run_rc_command() { echo "$1|$rcvar|$command $command_args|$pidfile|$procname|$hastmon_env|` +
        `$sig_reload|$sig_stop|$extra_commands|$required_files"; }\n`,
    );
    await Deno.writeTextFile(`${dir}/hastmon`, rc.replace(". /etc/rc.subr", `. ${dir}/rc.subr`));
    const r = await new Deno.Command("sh", {
      args: [`${dir}/hastmon`, "start"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const i = DEFAULT_INSTALL;
    assertEquals(new TextDecoder().decode(r.stdout).trim().split("|"), [
      "start",
      "hastmon_enable",
      `${i.bin} daemon -c ${i.config} -P /var/run/hastmon.pid`,
      "/var/run/hastmon.pid",
      i.bin,
      `HASTMON_CACHE=${i.cache}`,
      "HUP",
      "TERM",
      "reload",
      i.config,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
