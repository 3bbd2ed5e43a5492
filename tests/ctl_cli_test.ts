/**
 * `hastmon ctl …` as a user runs it: a subprocess of main.ts with NO_COLOR=1,
 * against no daemon at all or against a control server with a fake daemon
 * behind it in this process (the real daemon's end-to-end tests live
 * elsewhere). Help texts are compared with snapshots under
 * tests/data/ctl/snapshots/; UPDATE_SNAPSHOTS=1 rewrites them.
 */

import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { assertSnapshot as snapshotIn, hastmon, hastmonCommand, reader } from "./cli.ts";
import { ControlServer } from "../src/control/server.ts";
import { FakeDaemon, makeStaleSocket, tempSocketDir } from "../src/control/test_helpers.ts";
import { formatStatusText } from "../src/control/format.ts";

const SNAPSHOTS = new URL("data/ctl/snapshots/", import.meta.url);

const assertSnapshot = (name: string, actual: string) => snapshotIn(SNAPSHOTS, name, actual);

/** A control server with a fake daemon on a temp socket, closed after `fn`. */
async function withFakeDaemon(
  fn: (path: string, daemon: FakeDaemon) => Promise<void>,
): Promise<void> {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  try {
    await fn(tmp.path, daemon);
  } finally {
    await server.close();
    await tmp.remove();
  }
}

Deno.test("ctl help: ctl and each ctl command", async () => {
  const cases: [string[], string][] = [
    [["ctl", "--help"], "help-ctl.txt"],
    [["ctl", "role", "--help"], "help-ctl-role.txt"],
    [["ctl", "status", "--help"], "help-ctl-status.txt"],
    [["ctl", "check", "--help"], "help-ctl-check.txt"],
    [["ctl", "events", "--help"], "help-ctl-events.txt"],
    // restart, resource-restart, giveover: tests/scha_cli_test.ts
  ];
  for (const [args, snapshot] of cases) {
    const r = await hastmon(args);
    assertEquals([r.code, r.err], [0, ""], args.join(" "));
    await assertSnapshot(snapshot, r.out);
  }
});

Deno.test("ctl: no daemon → exit 69 naming the socket (no file, stale file)", async () => {
  const tmp = await tempSocketDir();
  try {
    for (const args of [["status"], ["role", "secondary", "all"], ["events"]]) {
      const r = await hastmon(["ctl", "-s", tmp.path, ...args]);
      assertEquals([r.code, r.out], [69, ""], args.join(" "));
      assertEquals(
        r.err,
        `hastmon: no daemon is listening on ${tmp.path} (no such socket); ` +
          "is `hastmon daemon` running?\n",
      );
    }
    makeStaleSocket(tmp.path);
    const r = await hastmon(["ctl", "status", "--socket", `unix://${tmp.path}`]);
    assertEquals(r.code, 69);
    assertStringIncludes(r.err, `no daemon is listening on ${tmp.path} (connection refused)`);
  } finally {
    await tmp.remove();
  }
});

Deno.test("ctl and scha_*: a control socket this user may not use → 77 and SCHA_ERR_ACCESS (6), saying so", async () => {
  await withFakeDaemon(async (path) => {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.chmod(dir, 0o755);
    const denoDir = await Deno.makeTempDir({ prefix: "hastmon-denodir-" });
    await Deno.chmod(denoDir, 0o777);
    // A real refusal by the kernel: as root, run as nobody (the socket is 0600, root's); as
    // anyone else, take the socket's permissions away from its owner.
    const root = Deno.uid() === 0;
    if (!root) await Deno.chmod(path, 0o000);
    const run = async (...args: string[]) => {
      const deno = [Deno.execPath(), "run", "-A", "--quiet", "--cached-only", "main.ts", ...args];
      const argv = root
        ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...deno]
        : deno;
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd: new URL("../", import.meta.url),
        env: { NO_COLOR: "1", HOME: denoDir, DENO_DIR: denoDir, PATH: Deno.env.get("PATH") ?? "" },
        clearEnv: true,
        stdin: "null",
      }).output();
      return { code: out.code, err: new TextDecoder().decode(out.stderr) };
    };
    try {
      const why = `permission denied on ${path}`;
      const status = await run("ctl", "-s", path, "status");
      assertEquals(status.code, 77, status.err);
      assertStringIncludes(status.err, why);
      const follow = await run("ctl", "-s", path, "events", "--follow");
      assertEquals(follow.code, 77, follow.err);
      const scha = await run(
        "scha_control",
        "-O",
        "RESTART",
        "-G",
        "web",
        "-R",
        "a",
        "--socket",
        path,
      );
      assertEquals(scha.code, 6, scha.err);
      assertStringIncludes(scha.err, `SCHA_ERR_ACCESS: ${why}`);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  });
});

Deno.test("ctl: the socket comes from this node's `control` in the configuration", async () => {
  const tmp = await tempSocketDir();
  try {
    const config = `${tmp.dir}/hastmon.toml`;
    await Deno.writeTextFile(
      config,
      `control = "${tmp.dir}/global.sock"\n\n[on.alpha]\ncontrol = "uds://${tmp.path}"\n`,
    );
    const alpha = await hastmon(["ctl", "-c", config, "--node", "alpha", "status"]);
    assertEquals(alpha.code, 69);
    assertStringIncludes(alpha.err, `no daemon is listening on ${tmp.path} `);
    const beta = await hastmon(["ctl", "status"], {
      HASTMON_CONFIG: config,
      HASTMON_NODE: "beta",
    });
    assertEquals(beta.code, 69);
    assertStringIncludes(beta.err, `no daemon is listening on ${tmp.dir}/global.sock `);
    // beta is no node of the file: its socket is the file's top-level one, and that is said.
    assertStringIncludes(
      beta.err,
      `This node is beta (from HASTMON_NODE), which ${config} does not name (its nodes: ` +
        "alpha): give --node NAME.",
    );
    assert(!alpha.err.includes("This node is"), alpha.err);
  } finally {
    await tmp.remove();
  }
});

Deno.test("ctl: an unreadable configuration → 66, an invalid one → 78", async () => {
  const tmp = await tempSocketDir();
  try {
    const missing = await hastmon(["ctl", "-c", `${tmp.dir}/none.toml`, "status"]);
    assertEquals(missing.code, 66);
    assertEquals(
      missing.err,
      `hastmon: cannot read ${tmp.dir}/none.toml: no such file; cannot tell where the daemon ` +
        "listens (give -c FILE or --socket PATH)\n",
    );
    const bad = `${tmp.dir}/bad.toml`;
    await Deno.writeTextFile(bad, 'control = "tcp://127.0.0.1:9000"\n');
    const invalid = await hastmon(["ctl", "-c", bad, "status"]);
    assertEquals(invalid.code, 78);
    assertStringIncludes(invalid.err, "so the control socket is unknown (give --socket PATH)");
    assertStringIncludes(invalid.err, `${bad}:1:11: bad control address`);
  } finally {
    await tmp.remove();
  }
});

Deno.test("ctl: usage errors → 64", async () => {
  const cases: [string[], string][] = [
    [["role", "boss", "all"], "argument 'role'. Allowed choices are init, primary, secondary"],
    [["role", "primary"], "missing required argument 'resources'"],
    [["role", "primary", "all", "web"], "`all` cannot be combined with names"],
    [["role", "secondary", "--force", "web"], "--force only applies to `role primary`"],
    [["status", "--colour"], "unknown option '--colour'"],
    [["events", "--limit", "0"], "expected a whole number ≥ 1"],
    [["reboot"], "unknown command 'reboot'"],
  ];
  for (const [args, message] of cases) {
    const r = await hastmon(["ctl", "-s", "/nonexistent/hastmon.sock", ...args]);
    assertEquals([r.code, r.out], [64, ""], args.join(" "));
    assertStringIncludes(r.err, message, args.join(" "));
  }
});

Deno.test("ctl status: text and JSON from the daemon; unknown names → 65 after the known ones", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const all = await hastmon(["ctl", "-s", path, "status"]);
    assertEquals([all.code, all.err], [0, ""]);
    assertEquals(all.out, formatStatusText(daemon.status().result));
    assertEquals((await hastmon(["ctl", "-s", path, "status", "all"])).out, all.out);

    const json = await hastmon(["ctl", "status", "db", "--json", "-s", path]);
    assertEquals([json.code, json.err], [0, ""]);
    const doc = JSON.parse(json.out);
    assertEquals([doc.version, doc.resources.map((r: { name: string }) => r.name)], [2, ["db"]]);

    const mixed = await hastmon(["ctl", "-s", path, "status", "web", "nope", "gone"]);
    assertEquals(mixed.code, 65);
    assert(mixed.out.startsWith("web:\n  role: primary\n"), mixed.out);
    assertEquals(mixed.err, "hastmon: unknown resources: nope, gone\n");
  });
});

Deno.test("ctl role: prints each change; --force warns; unknown names → 65", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const r = await hastmon(["ctl", "-s", path, "role", "secondary", "all"]);
    assertEquals([r.code, r.err], [0, ""]);
    assertEquals(r.out, "web: primary -> secondary\ndb: secondary (unchanged)\n");

    const forced = await hastmon(["ctl", "-s", path, "role", "primary", "--force", "db", "nope"]);
    assertEquals(forced.code, 65);
    assertEquals(forced.out, "db: secondary -> primary\n");
    assertEquals(
      forced.err,
      "hastmon: warning: --force starts the resource without a lease: nothing stops another " +
        "node from running it at the same time\nhastmon: unknown resource: nope\n",
    );
    assertEquals(daemon.statuses.get("db")!.role, "primary");
  });
});

Deno.test("ctl check: an unknown resource → 3 UNKNOWN, named first, before a lesser problem", async () => {
  await withFakeDaemon(async (path) => {
    const alone = await hastmon(["ctl", "-s", path, "check", "nope"]);
    assertEquals(alone, { code: 3, out: "HASTMON UNKNOWN - nope: unknown resource\n", err: "" });
    // web alone is a WARNING (no watchdog); the unknown name makes the whole line UNKNOWN.
    const web = await hastmon(["ctl", "-s", path, "check", "web"]);
    assertEquals([web.code, web.out.startsWith("HASTMON WARNING - web: ")], [1, true], web.out);
    const mixed = await hastmon(["ctl", "-s", path, "check", "web", "nope"]);
    assertEquals([mixed.code, mixed.err], [3, ""]);
    assertEquals(
      mixed.out,
      `HASTMON UNKNOWN - nope: unknown resource; ${web.out.slice("HASTMON WARNING - ".length)}`,
    );
  });
});

Deno.test("ctl: a daemon that refuses → 70", async () => {
  await withFakeDaemon(async (path, daemon) => {
    daemon.failWith = new Error("disk full");
    const r = await hastmon(["ctl", "-s", path, "status"]);
    assertEquals([r.code, r.out], [70, ""]);
    assertEquals(
      r.err,
      "hastmon: the daemon refused the request (internal): the daemon failed: disk full\n",
    );
  });
});

Deno.test("ctl events: recent events, then with --follow new ones, across daemon restarts", async () => {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  let server = await ControlServer.listen(tmp.path, daemon, () => {});
  let child: Deno.ChildProcess | null = null;
  try {
    daemon.emit("daemon started");
    daemon.emit("web became primary", "web");
    const recent = await hastmon(["ctl", "-s", tmp.path, "events", "--limit", "1"]);
    assertEquals([recent.code, recent.err], [0, ""]);
    assertEquals(recent.out, "2026-11-25T10:00:01.000Z alpha web info log: web became primary\n");
    const json = await hastmon(["ctl", "-s", tmp.path, "events", "--json"]);
    assertEquals(json.out.trim().split("\n").map((l) => JSON.parse(l).seq), [1, 2]);

    child = hastmonCommand(["ctl", "-s", tmp.path, "events", "--follow"]).spawn();
    const out = reader(child.stdout);
    const err = reader(child.stderr);
    await out.waitFor("web became primary\n");
    daemon.emit("db became secondary", "db");
    await out.waitFor("db became secondary\n");

    // The daemon goes: said on stderr, and the follower keeps trying.
    await server.close();
    await err.waitFor("reconnecting\n");
    // The same daemon back (a dropped connection): its history is not printed twice.
    daemon.emit("while away", "db");
    server = await ControlServer.listen(tmp.path, daemon, () => {});
    await err.waitFor(`reconnected to ${tmp.path}\n`);
    await out.waitFor("while away\n");
    // A restarted daemon numbers its events from 1 again, later in time: all of them are new.
    await server.close();
    const restarted = new FakeDaemon(5);
    restarted.emit("daemon started again");
    server = await ControlServer.listen(tmp.path, restarted, () => {});
    await out.waitFor("daemon started again\n");
    restarted.emit("web became secondary", "web");
    await out.waitFor("web became secondary\n");
    assertEquals(out.text().trim().split("\n").map((l) => l.split(" ").slice(-2).join(" ")), [
      "daemon started",
      "became primary",
      "became secondary",
      "while away",
      "started again",
      "became secondary",
    ]);
    assertEquals(err.text().split("\n").filter((l) => l).length, 4, err.text());
  } finally {
    if (child) {
      child.kill("SIGTERM");
      await child.status;
    }
    await server.close();
    await tmp.remove();
  }
});

Deno.test("ctl events --follow: no daemon at first is an error, not a wait", async () => {
  const tmp = await tempSocketDir();
  try {
    const r = await hastmon(["ctl", "-s", tmp.path, "events", "--follow"]);
    assertEquals(r.code, 69);
    assertStringIncludes(r.err, "no daemon is listening");
  } finally {
    await tmp.remove();
  }
});
