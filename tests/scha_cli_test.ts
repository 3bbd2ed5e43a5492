/**
 * The Solaris commands and `ctl restart|resource-restart|giveover` as a user
 * runs them (subprocesses of main.ts), against no daemon or a control server
 * with a fake daemon behind it in this process: usage errors, exit numbers,
 * where the socket is found, what is printed. What a real daemon answers is
 * in tests/scha_conformance_test.ts. Help texts are compared with snapshots
 * under tests/data/scha/snapshots/ (UPDATE_SNAPSHOTS=1 rewrites them).
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { assertSnapshot as snapshotIn, hastmon, hastmonCommand } from "./cli.ts";
import { ControlServer } from "../src/control/server.ts";
import { FakeDaemon, memberStatus, tempSocketDir } from "../src/control/test_helpers.ts";
import { SCHA_ERR } from "../src/core/scha.ts";

const SNAPSHOTS = new URL("data/scha/snapshots/", import.meta.url);

/** A control server with a fake daemon on a temp socket, closed after `fn`. */
async function withFakeDaemon(
  fn: (path: string, daemon: FakeDaemon, dir: string) => Promise<void>,
): Promise<void> {
  const tmp = await tempSocketDir();
  const daemon = new FakeDaemon();
  daemon.statuses.get("web")!.members = [memberStatus("httpd"), memberStatus("php")];
  daemon.statuses.get("db")!.members = [memberStatus("php")];
  const server = await ControlServer.listen(tmp.path, daemon, () => {});
  try {
    await fn(tmp.path, daemon, tmp.dir);
  } finally {
    await server.close();
    await tmp.remove();
  }
}

Deno.test("scha help: each Solaris command, scha-links, and the ctl forms", async () => {
  const cases: [string[], string][] = [
    [["scha_control", "--help"], "help-scha_control.txt"],
    [["scha_resource_get", "--help"], "help-scha_resource_get.txt"],
    [["scha_resource_setstatus", "--help"], "help-scha_resource_setstatus.txt"],
    [["scha-links", "--help"], "help-scha-links.txt"],
    [["ctl", "restart", "--help"], "help-ctl-restart.txt"],
    [["ctl", "resource-restart", "--help"], "help-ctl-resource-restart.txt"],
    [["ctl", "giveover", "--help"], "help-ctl-giveover.txt"],
  ];
  for (const [args, snapshot] of cases) {
    const r = await hastmon(args);
    assertEquals([r.code, r.err], [0, ""], args.join(" "));
    await snapshotIn(SNAPSHOTS, snapshot, r.out);
  }
});

Deno.test("scha: usage errors exit 3 (SCHA_ERR_INVAL) with a message on stderr, before any daemon is asked", async () => {
  const cases: [string[], string][] = [
    [["scha_control", "-G", "web", "-R", "httpd"], "required option '-O, --optag <optag>'"],
    [["scha_control", "-O", "RESTART", "-R", "httpd"], "required option '-G, --group <group>'"],
    [["scha_control", "-O", "RESTART", "-G", "web"], "required option '-R, --resource <member>'"],
    [["scha_control", "-O", "RESTART", "-G", "web", "-R", "httpd", "x"], "too many arguments"],
    [["scha_control", "-O", "RESTART", "-G", "web", "-R", "httpd", "-q"], "unknown option '-q'"],
    [["scha_control", "-O", "RESTART", "-G", "web", "-R", "h", "-Z", "zc1"], "no zone clusters"],
    [["scha_resource_get", "-O", "STATUS"], "required option '-R, --resource <member>'"],
    [["scha_resource_setstatus", "-G", "web", "-R", "httpd"], "required option '-s, --status"],
    [["scha_control", "-O", "RESTART", "-G", "web", "-R", "h", "-s", "tcp://x:1"], "--socket"],
  ];
  for (const [args, said] of cases) {
    const r = await hastmon(args, { HASTMON_CONTROL: "/nonexistent/ctl.sock" });
    assertEquals([r.code, r.out], [3, ""], args.join(" "));
    assertStringIncludes(r.err, said);
  }
  // An unknown tag of scha_resource_get is SCHA_ERR_TAG, known before asking.
  const tag = await hastmon(["scha_resource_get", "-O", "EXTENSION", "-G", "web", "-R", "httpd"]);
  assertEquals(tag.code, 4);
  assertStringIncludes(tag.err, 'SCHA_ERR_TAG: unknown tag "EXTENSION"');
});

Deno.test("scha: no daemon → 18 (SCHA_ERR_INTERNAL) naming the socket, found at --socket, $HASTMON_CONTROL, the configuration, the default", async () => {
  const tmp = await tempSocketDir();
  try {
    const args = ["scha_control", "-O", "RESTART", "-G", "web", "-R", "httpd"];
    const config = `${tmp.dir}/hastmon.toml`;
    await Deno.writeTextFile(config, `control = "${tmp.dir}/from-config.sock"\n`);
    const cases: [string[], Record<string, string>, string][] = [
      [["-s", `${tmp.dir}/flag.sock`], { HASTMON_CONTROL: `${tmp.dir}/env.sock` }, "flag.sock"],
      [["-c", config], { HASTMON_CONTROL: `${tmp.dir}/env.sock` }, "env.sock"],
      [["-c", config], {}, "from-config.sock"],
      [[], { HASTMON_CONFIG: config }, "from-config.sock"],
      [["-c", `${tmp.dir}/none.toml`], {}, "/var/run/hastmonctl"],
    ];
    for (const [extra, env, where] of cases) {
      const r = await hastmon([...args, ...extra], env);
      assertEquals([r.code, r.out], [18, ""], `${extra} ${JSON.stringify(env)}`);
      assertStringIncludes(r.err, "SCHA_ERR_INTERNAL: no daemon is listening on ");
      assertStringIncludes(r.err, where);
    }
    // A configuration that cannot be trusted to say where the daemon listens.
    await Deno.writeTextFile(config, `control = 7\n`);
    const bad = await hastmon([...args, "-c", config]);
    assertEquals(bad.code, 18);
    assertStringIncludes(bad.err, `${config} is invalid, so the control socket is unknown`);
  } finally {
    await tmp.remove();
  }
});

Deno.test("scha_control: exits with the daemon's number, prints why on stderr, nothing on success; sends the optag as typed", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const ok = await hastmon(
      ["scha_control", "-O", "resource_restart", "-G", "web", "-R", "httpd"],
      {
        HASTMON_CONTROL: path,
      },
    );
    assertEquals([ok.code, ok.out, ok.err], [0, "", ""]);
    assertEquals(daemon.schaCalls.at(-1), {
      group: "web",
      optag: "resource_restart",
      member: "httpd",
      to: undefined,
    });
    for (const code of Object.values(SCHA_ERR).filter((c) => c !== 0)) {
      daemon.schaAnswer = { code, message: `refusal ${code}` };
      const r = await hastmon(["scha_control", "-O", "GIVEOVER", "-G", "web", "-R", "httpd"], {
        HASTMON_CONTROL: path,
      });
      assertEquals([r.code, r.out], [code, ""], `code ${code}`);
      assertStringIncludes(r.err, `: scha_control GIVEOVER of web: refusal ${code}\n`);
    }
    // Numbers scripts cannot know, and answers of the wrong shape, are SCHA_ERR_INTERNAL.
    for (const answer of [{ code: 19, message: "?" }, { code: "0" }, { code: -1, message: "" }]) {
      daemon.schaAnswer = answer;
      const r = await hastmon(["scha_control", "-O", "RESTART", "-G", "web", "-R", "httpd"], {
        HASTMON_CONTROL: path,
      });
      assertEquals(r.code, 18, JSON.stringify(answer));
      assertStringIncludes(r.err, "unexpected shape");
    }
  });
});

Deno.test("scha_control: a caller killed while it waits leaves the daemon serving", async () => {
  await withFakeDaemon(async (path, daemon) => {
    let release = () => {};
    daemon.schaGate = new Promise<void>((resolve) => release = resolve);
    const child = hastmonCommand(
      ["scha_control", "-O", "RESTART", "-G", "web", "-R", "httpd"],
      { HASTMON_CONTROL: path },
      "null",
    ).spawn();
    while (daemon.schaCalls.length === 0) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    const status = await child.status;
    await child.stderr.cancel();
    assertEquals(status.signal, "SIGKILL");
    release();
    const r = await hastmon(["scha_resource_get", "-O", "RG_STATE", "-G", "web", "-R", "httpd"], {
      HASTMON_CONTROL: path,
    });
    assertEquals([r.code, r.out], [0, "ONLINE\n"], r.err);
  });
});

Deno.test("scha_resource_get: group optional when the member's name is unique; unknown group 12, member 14, ambiguous 3", async () => {
  await withFakeDaemon(async (path) => {
    const env = { HASTMON_CONTROL: path };
    const get = (...args: string[]) => hastmon(["scha_resource_get", ...args], env);
    assertEquals((await get("-O", "status", "-R", "httpd")).out, "OK\nonline\n");
    assertEquals((await get("-O", "RETRY_INTERVAL", "-G", "web", "-R", "httpd")).out, "300\n");
    const noGroup = await get("-O", "STATUS", "-G", "nope", "-R", "httpd");
    assertEquals(noGroup.code, 12);
    assertStringIncludes(noGroup.err, "SCHA_ERR_RG: no resource group nope");
    const noMember = await get("-O", "STATUS", "-G", "web", "-R", "nope");
    assertEquals(noMember.code, 14);
    assertStringIncludes(noMember.err, "SCHA_ERR_RSRC: nope is not a member of web");
    assertEquals((await get("-O", "STATUS", "-R", "nope")).code, 14);
    const twice = await get("-O", "STATUS", "-R", "php");
    assertEquals(twice.code, 3);
    assertStringIncludes(twice.err, "member php is in groups web, db: give -G GROUP");
    assertEquals((await get("-O", "STATUS", "-G", "db", "-R", "php")).code, 0);
  });
});

Deno.test("scha_resource_setstatus: status and message reach the daemon; -s is the status, --socket the socket", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const r = await hastmon([
      "scha_resource_setstatus",
      "-G",
      "web",
      "-R",
      "httpd",
      "-s",
      "degraded",
      "-m",
      "slow answers",
      "--socket",
      path,
    ]);
    assertEquals([r.code, r.out, r.err], [0, "", ""]);
    assertEquals(daemon.setStatusCalls, [
      { group: "web", member: "httpd", status: "degraded", message: "slow answers" },
    ]);
    daemon.schaAnswer = { code: 17, message: "status must be one of OK, …" };
    const bad = await hastmon(["scha_resource_setstatus", "-G", "web", "-R", "httpd", "-s", "x"], {
      HASTMON_CONTROL: path,
    });
    assertEquals(bad.code, 17);
    assertStringIncludes(bad.err, "SCHA_ERR_RSTATUS: ");
  });
});

Deno.test("ctl restart|resource-restart|giveover: sysexits for each SCHA_ERR number; the message on success", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const ok = await hastmon(["ctl", "-s", path, "resource-restart", "web", "httpd"]);
    assertEquals([ok.code, ok.out, ok.err], [0, "RESOURCE_RESTART of web done\n", ""]);
    assertEquals(daemon.schaCalls.at(-1)?.member, "httpd");
    await hastmon(["ctl", "-s", path, "restart", "web"]);
    assertEquals(daemon.schaCalls.at(-1), {
      group: "web",
      optag: "RESTART",
      member: undefined,
      to: undefined,
    });
    const expected: [number, number][] = [
      [3, 64],
      [4, 64],
      [5, 75],
      [9, 75],
      [11, 64],
      [12, 65],
      [14, 65],
      [16, 75],
      [18, 70],
      [13, 70],
    ];
    for (const [code, exit] of expected) {
      daemon.schaAnswer = { code, message: `refusal ${code}` };
      const r = await hastmon(["ctl", "-s", path, "giveover", "web", "--to", "beta"]);
      assertEquals([r.code, r.out], [exit, ""], `SCHA_ERR ${code}`);
      assertStringIncludes(r.err, `refusal ${code}`);
    }
    assertEquals(daemon.schaCalls.at(-1), {
      group: "web",
      optag: "GIVEOVER",
      member: undefined,
      to: "beta",
    });
    daemon.schaAnswer = null;
    const unknown = await hastmon(["ctl", "-s", path, "restart", "nope"]);
    assertEquals(unknown.code, 65);
  });
});

Deno.test("ctl giveover --check: the plan (target, eligible, pingpong until when), exit 0 or 75; --json the answer", async () => {
  await withFakeDaemon(async (path, daemon) => {
    const until = Date.now() + 58 * 60_000 + 30_000;
    const plan = {
      target: "beta",
      nodes: [
        { node: "beta", blocked: null },
        {
          node: "gamma",
          blocked: "pingpong: a giveover moved the group off it; blocked for 58m more",
          untilWallMs: until,
        },
        { node: "w", blocked: "a watchdog of this group" },
      ],
    };
    daemon.schaAnswer = { code: 0, message: "beta would take the group", plan };
    const r = await hastmon(["ctl", "-s", path, "giveover", "web", "--check"]);
    assertEquals(r.code, 0, r.err);
    assertEquals(daemon.schaCalls.at(-1)?.optag, "CHECK_GIVEOVER");
    const hhmm = (ms: number) => {
      const d = new Date(ms);
      return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    };
    const lines = r.out.split("\n");
    assertEquals(lines.slice(0, 3), [
      "beta would take the group",
      "target: beta",
      "  beta   target",
    ]);
    // How long is left depends on when the command ran: 58m30s at most.
    const pingpong = "  gamma  blocked: pingpong: a giveover moved the group off it, until " +
      `${hhmm(until)} (in 58m`;
    assert(lines[3].startsWith(pingpong) && /in 58m[0-2]\ds\)$/.test(lines[3]), lines[3]);
    assertEquals(lines.slice(4), ["  w      blocked: a watchdog of this group", ""]);

    daemon.schaAnswer = {
      code: 16,
      message: "no node may take the group",
      plan: { target: null, nodes: plan.nodes.slice(1) },
    };
    const none = await hastmon(["ctl", "-s", path, "giveover", "web", "--check"]);
    assertEquals(none.code, 75);
    assertStringIncludes(none.out, "target: none (no node may take the group)\n");
    assertStringIncludes(none.err, "SCHA_ERR_CHECKS: no node may take the group");
    // --dry-run is --check by another name: a dry run, the same plan.
    const calls = daemon.schaCalls.length;
    const dry = await hastmon(["ctl", "-s", path, "giveover", "web", "--dry-run"]);
    assertEquals([dry.code, dry.out, dry.err], [none.code, none.out, none.err]);
    assertEquals(daemon.schaCalls.slice(calls).map((c) => c.optag), ["CHECK_GIVEOVER"]);
    // A refused giveover explains itself with the plan too.
    const refused = await hastmon(["ctl", "-s", path, "giveover", "web"]);
    assertEquals(refused.code, 75);
    assertStringIncludes(refused.out, "  gamma  blocked: pingpong");

    const json = await hastmon(["ctl", "-s", path, "giveover", "web", "--check", "--json"]);
    assertEquals(json.code, 75);
    const doc = JSON.parse(json.out);
    assertEquals([doc.code, doc.error, doc.plan.target], [16, "SCHA_ERR_CHECKS", null]);
    assertEquals(doc.plan.nodes[0].until, new Date(until).toISOString());
    assert(!json.out.includes("untilWallMs"));
  });
});
