/**
 * Conformance of the scha_* commands with scha-semantics.md §1.3, run
 * against a real `hastmon daemon` through the CLI: for each optag and each
 * refusal of the check pipeline, the exit number a script sees. One node
 * (`remote = "none"`, primary alone), real hook scripts that log every
 * method they run, and short intervals so the whole table takes seconds.
 *
 *   web   members app (SOFT, retry_count 2, with monitor_start/monitor_stop),
 *         logger (LOG_ONLY), ro (RESTART_ONLY, retry_count 1); primary here
 *   idle  one member; role_on_start init, so never online here
 *   calm  one member probed every 3 s: whether an answer waits for ONLINE shows
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon, hastmonCommand, type Run } from "./cli.ts";
import { MAIN, sleep } from "./cluster/harness.ts";
import { DAEMON_DENO_FLAGS } from "../src/daemon/v8_flags.ts";
import { ControlClient } from "../src/control/client.ts";
import type { StatusResult } from "../src/control/protocol.ts";
import { SCHA_ERR } from "../src/core/scha.ts";

/** The member hooks: `svc.sh METHOD`; a method's run is logged (not status: it runs every probe). */
function hookScript(dir: string): string {
  return `#!/bin/sh
D='${dir}'
m="\${HASTMON_MEMBER:?}"
[ "$1" = status ] || echo "$m $1" >> "$D/calls"
case "$1" in
start)
  [ -e "$D/slow-$m" ] && sleep 2
  : > "$D/run-$m" ;;
stop) rm -f "$D/run-$m" ;;
status) [ -e "$D/run-$m" ] || exit 1 ;;
esac
exit 0
`;
}

function config(dir: string): string {
  return `heartbeat_interval = 0.25
timeout = 0.25
stop_timeout = 1
exec = "${dir}/svc.sh"

[on.solo]
listen = "tcp://127.0.0.1:0"
control = "${dir}/ctl.sock"
state_dir = "${dir}/state"

[resource.web.member.app]
monitor_start = ["${dir}/svc.sh", "monitor_start"]
monitor_stop = ["${dir}/svc.sh", "monitor_stop"]
retry_interval = 60

[resource.web.member.logger]
failover_mode = "LOG_ONLY"

[resource.web.member.ro]
failover_mode = "RESTART_ONLY"
retry_count = 1
retry_interval = 60

[resource.web.on.solo]
remote = "none"
role_on_start = "primary"

[resource.idle.on.solo]
remote = "none"
role_on_start = "init"

[resource.calm]
probe_interval = 3

[resource.calm.on.solo]
remote = "none"
role_on_start = "primary"
`;
}

/** A daemon of one node in a temp dir, with what a test needs to talk to it. */
class Solo {
  #child: Deno.ChildProcess | null = null;
  constructor(readonly dir: string) {}

  get socket(): string {
    return `${this.dir}/ctl.sock`;
  }

  static async start(): Promise<Solo> {
    const s = new Solo(await Deno.makeTempDir({ prefix: "hastmon-scha-" }));
    await Deno.writeTextFile(`${s.dir}/svc.sh`, hookScript(s.dir), { mode: 0o755 });
    await Deno.writeTextFile(`${s.dir}/hastmon.toml`, config(s.dir));
    s.#child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `log=$1; shift; exec "$@" 2>>"$log"`,
        "sh",
        `${s.dir}/daemon.log`,
        Deno.execPath(),
        "run",
        "-A",
        ...DAEMON_DENO_FLAGS,
        MAIN,
        "daemon",
        "-F",
        "-c",
        `${s.dir}/hastmon.toml`,
        "--node",
        "solo",
        "-P",
        `${s.dir}/pid`,
      ],
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return s;
  }

  /** The daemon's status, or null while it does not answer. */
  async status(): Promise<StatusResult | null> {
    let c: ControlClient | null = null;
    try {
      c = await ControlClient.connect(this.socket, { timeoutMs: 2000 });
      const r = await c.request({ type: "status" });
      return r.ok ? r.result as StatusResult : null;
    } catch {
      return null;
    } finally {
      await c?.close();
    }
  }

  async rgState(group: string): Promise<string | null> {
    return (await this.status())?.resources.find((r) => r.resource === group)?.rgState ?? null;
  }

  async waitFor(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) {
        throw new Error(`timed out waiting for ${what}\n${await this.log()}`);
      }
      await sleep(50);
    }
  }

  /** `hastmon ARGS` with this daemon's socket in $HASTMON_CONTROL, as a hook has it. */
  run(...args: string[]): Promise<Run> {
    return hastmon(args, { HASTMON_CONTROL: this.socket });
  }

  /** The methods the hooks ran since the last call, as `member method`. */
  async calls(): Promise<string[]> {
    const text = await Deno.readTextFile(`${this.dir}/calls`).catch(() => "");
    await Deno.writeTextFile(`${this.dir}/calls`, "");
    return text.split("\n").filter((l) => l !== "");
  }

  async log(): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/daemon.log`).catch(() => "");
  }

  /** SIGTERM (the daemon stops its groups), wait, clean up. */
  async stop(): Promise<void> {
    if (this.#child) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* gone */ }
      await this.#child.status;
      this.#child = null;
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Run `fn` against a fresh daemon whose groups web and calm are ONLINE. */
async function withSolo(fn: (s: Solo) => Promise<void>): Promise<void> {
  const s = await Solo.start();
  try {
    await s.waitFor(
      "web and calm to be ONLINE",
      async () => await s.rgState("web") === "ONLINE" && await s.rgState("calm") === "ONLINE",
    );
    await s.calls();
    await fn(s);
  } catch (e) {
    console.error(`---- daemon log\n${await s.log()}`);
    throw e;
  } finally {
    await s.stop();
  }
}

/** `scha_control -O optag -G group -R member`: the exit number, checked, and what was said. */
async function control(s: Solo, optag: string, group: string, member: string, code: number) {
  const r = await s.run("scha_control", "-O", optag, "-G", group, "-R", member);
  assertEquals(r.code, code, `scha_control -O ${optag} -G ${group} -R ${member}: ${r.err}`);
  assertEquals(r.out, "");
  if (code === 0) assertEquals(r.err, "");
  else assertStringIncludes(r.err, "SCHA_ERR_");
  return r;
}

async function get(s: Solo, tag: string, group: string, member: string): Promise<string> {
  const r = await s.run("scha_resource_get", "-O", tag, "-G", group, "-R", member);
  assertEquals(r.code, 0, `scha_resource_get -O ${tag}: ${r.err}`);
  return r.out;
}

Deno.test("scha conformance: every refusal of §1.3 with its number, each optag's success, against a real daemon", async () => {
  await withSolo(async (s) => {
    const E = SCHA_ERR;
    // Step 0: the optag, the arguments.
    await control(s, "NO_SUCH_TAG", "web", "app", E.TAG);
    await control(s, "IGNORE_FAILED_START", "web", "app", E.TAG);
    await control(s, "change_state_online", "web", "app", E.TAG);
    const noR = await s.run("scha_control", "-O", "RESTART", "-G", "web");
    assertEquals(noR.code, E.INVAL);
    // Step 1: the group and the member.
    await control(s, "RESTART", "nope", "app", E.RG);
    await control(s, "RESTART", "web", "nope", E.RSRC);
    // Step 3: not online on this node.
    await control(s, "RESTART", "idle", "idle", E.STATE);
    await control(s, "CHECK_RESTART", "idle", "idle", E.STATE);
    // Step 4: failover_mode gates.
    await control(s, "RESTART", "web", "logger", E.CHECKS);
    await control(s, "RESOURCE_RESTART", "web", "logger", E.CHECKS);
    await control(s, "GIVEOVER", "web", "ro", E.CHECKS);
    await control(s, "CHECK_GIVEOVER", "web", "ro", E.CHECKS);
    await control(s, "RESTART", "web", "ro", E.CHECKS);
    await control(s, "CHECK_RESTART", "web", "ro", E.CHECKS);
    // Step 7: no eligible node (this one is alone); CHECK_GIVEOVER runs the same checks.
    await control(s, "check_giveover", "web", "app", E.CHECKS);
    await control(s, "GIVEOVER", "web", "app", E.CHECKS);
    // Step 8: CHECK_RESTART passes every check and changes nothing.
    await control(s, "CHECK_RESTART", "web", "app", E.NOERR);
    assertEquals(await s.calls(), []);

    // RESOURCE_IS_RESTARTED counts without restarting (the GIVEOVER above reset the count).
    assertEquals(await get(s, "NUM_RESOURCE_RESTARTS", "web", "app"), "0\n");
    await control(s, "RESOURCE_IS_RESTARTED", "web", "app", E.NOERR);
    assertEquals(await get(s, "NUM_RESOURCE_RESTARTS", "web", "app"), "1\n");
    assertEquals(await s.calls(), []);

    // RESOURCE_RESTART: this member only, monitor_stop, stop, start, monitor_start; counted.
    await control(s, "resource_restart", "web", "app", E.NOERR);
    assertEquals(await s.calls(), [
      "app monitor_stop",
      "app stop",
      "app start",
      "app monitor_start",
    ]);
    assertEquals(await get(s, "NUM_RESOURCE_RESTARTS", "web", "app"), "2\n");
    // Whether the answer waits for ONLINE is the next test's; here, the rows go on from ONLINE.
    await s.waitFor("web to be ONLINE", async () => await s.rgState("web") === "ONLINE");

    // RESTART: every member stops in reverse order, starts in order; answered once ONLINE.
    assertEquals(await get(s, "NUM_RG_RESTARTS", "web", "app"), "0\n");
    await control(s, "RESTART", "web", "app", E.NOERR);
    await s.waitFor("web to be ONLINE", async () => await s.rgState("web") === "ONLINE");
    assertEquals(await s.calls(), [
      "ro stop",
      "logger stop",
      "app monitor_stop",
      "app stop",
      "app start",
      "app monitor_start",
      "logger start",
      "ro start",
    ]);
    assertEquals(await get(s, "NUM_RG_RESTARTS", "web", "app"), "1\n");

    // RESTART_ONLY: retry_count (1) restarts within retry_interval, then SCHA_ERR_CHECKS.
    await control(s, "RESOURCE_RESTART", "web", "ro", E.NOERR);
    await s.waitFor("web to be ONLINE", async () => await s.rgState("web") === "ONLINE");
    await control(s, "RESOURCE_RESTART", "web", "ro", E.CHECKS);
    assertEquals(await get(s, "NUM_RESOURCE_RESTARTS", "web", "ro"), "1\n");

    // The settings, as Solaris prints them.
    assertEquals(await get(s, "RETRY_COUNT", "web", "app"), "2\n");
    assertEquals(await get(s, "RETRY_INTERVAL", "web", "app"), "60\n");
    assertEquals(await get(s, "FAILOVER_MODE", "web", "ro"), "RESTART_ONLY\n");
    assertEquals(await get(s, "THOROUGH_PROBE_INTERVAL", "web", "app"), "1\n");

    // scha_resource_setstatus, read back; a bad status is SCHA_ERR_RSTATUS.
    const set = await s.run(
      "scha_resource_setstatus",
      "-G",
      "web",
      "-R",
      "app",
      "-s",
      "DEGRADED",
      "-m",
      "answers in 2.5 s",
    );
    assertEquals([set.code, set.err], [0, ""]);
    assertEquals(await get(s, "STATUS", "web", "app"), "DEGRADED\nanswers in 2.5 s\n");
    const bad = await s.run("scha_resource_setstatus", "-G", "web", "-R", "app", "-s", "ONLINE");
    assertEquals(bad.code, E.RSTATUS, bad.err);
    const noMember = await s.run("scha_resource_setstatus", "-G", "web", "-R", "x", "-s", "OK");
    assertEquals(noMember.code, E.RSRC, noMember.err);
    const noTag = await s.run("scha_resource_get", "-O", "EXTENSION", "-G", "web", "-R", "app");
    assertEquals(noTag.code, E.TAG, noTag.err);
  });
});

Deno.test("scha conformance: RESTART and RESOURCE_RESTART return once the group (member) is ONLINE again, so the next request is accepted", async () => {
  // Solaris: "the command does not return until the group has gone offline and come
  // back online". A script reads the state, or asks again, right after the 0. (Since
  // main 029470b the daemon answers when the start ends, and the states say STARTING or
  // PENDING_ONLINE until the next probe, up to probe_interval later: this test fails.)
  await withSolo(async (s) => {
    await control(s, "RESOURCE_RESTART", "calm", "calm", SCHA_ERR.NOERR);
    assertEquals(await get(s, "RESOURCE_STATE", "calm", "calm"), "ONLINE\n");
    assertEquals(await get(s, "RG_STATE", "calm", "calm"), "ONLINE\n");
    await control(s, "CHECK_RESTART", "calm", "calm", SCHA_ERR.NOERR);
    await control(s, "RESTART", "calm", "calm", SCHA_ERR.NOERR);
    assertEquals(await get(s, "RG_STATE", "calm", "calm"), "ONLINE\n");
    await control(s, "CHECK_RESTART", "calm", "calm", SCHA_ERR.NOERR);
  });
});

Deno.test("scha conformance: SCHA_ERR_RECONF while a restart is under way; the restarting caller killed, the daemon goes on and so does the restart", async () => {
  await withSolo(async (s) => {
    await Deno.writeTextFile(`${s.dir}/slow-app`, "");
    const caller = hastmonCommand(
      ["scha_control", "-O", "RESTART", "-G", "web", "-R", "app"],
      { HASTMON_CONTROL: s.socket },
      "null",
    ).spawn();
    try {
      await s.waitFor("web to be restarting", async () => {
        const st = await s.rgState("web");
        return st === "PENDING_OFFLINE" || st === "PENDING_ONLINE";
      });
      const busy = await control(s, "CHECK_RESTART", "web", "app", SCHA_ERR.RECONF);
      assertStringIncludes(busy.err, "SCHA_ERR_RECONF: ");
      await control(s, "RESOURCE_RESTART", "web", "ro", SCHA_ERR.RECONF);
    } finally {
      // A monitor stopped while it waits: nothing for the daemon to do.
      caller.kill("SIGKILL");
      await caller.status;
      await caller.stderr.cancel();
    }
    await Deno.remove(`${s.dir}/slow-app`);
    await s.waitFor("web to be ONLINE again", async () => await s.rgState("web") === "ONLINE");
    assertEquals(await get(s, "NUM_RG_RESTARTS", "web", "app"), "1\n");
    // The daemon still serves, and a new request is accepted.
    await control(s, "RESTART", "web", "app", SCHA_ERR.NOERR);
    assertEquals(await get(s, "NUM_RG_RESTARTS", "web", "app"), "2\n");
    assert(!/\[ERROR\].*control/.test(await s.log()), await s.log());
  });
});

Deno.test("scha conformance: the ctl forms against the real daemon, and no daemon at all", async () => {
  let socket = "";
  await withSolo(async (s) => {
    socket = s.socket;
    const ctl = (...args: string[]) => hastmon(["ctl", "-s", s.socket, ...args]);
    const online = () =>
      s.waitFor("web to be ONLINE", async () => await s.rgState("web") === "ONLINE");
    // The daemon's sentence on stdout (its wording is the daemon's), nothing on stderr.
    const restart = await ctl("restart", "web");
    assertEquals([restart.code, restart.err], [0, ""]);
    assert(restart.out.endsWith("\n") && restart.out.trim().split("\n").length === 1, restart.out);
    await online();
    const member = await ctl("resource-restart", "web", "app");
    assertEquals(member.code, 0, member.err);
    await online();
    const check = await ctl("giveover", "web", "--check");
    assertEquals([check.code, check.out], [75, "target: none (no node may take the group)\n"]);
    assertStringIncludes(check.err, "SCHA_ERR_CHECKS: ");
    const json = JSON.parse((await ctl("giveover", "web", "--json")).out);
    assertEquals([json.code, json.error], [16, "SCHA_ERR_CHECKS"]);
    assertEquals((await ctl("restart", "idle")).code, 75);
    assertEquals((await ctl("restart", "nope")).code, 65);
    assertEquals((await ctl("resource-restart", "web", "nope")).code, 65);
    assertEquals((await ctl("giveover", "web", "--to", "elsewhere")).code, 64);
  });
  // The daemon is gone: SCHA_ERR_INTERNAL, naming where it was looked for.
  const r = await hastmon(["scha_control", "-O", "RESTART", "-G", "web", "-R", "app"], {
    HASTMON_CONTROL: socket,
  });
  assertEquals(r.code, SCHA_ERR.INTERNAL);
  assertStringIncludes(r.err, `no daemon is listening on ${socket}`);
});
