/**
 * The sample fault monitor written for Solaris (docs/examples/solaris_probe.sh)
 * runs unchanged against real daemons: monitor_start starts it with -R/-G as
 * Solaris's MONITOR_START would, the scha_* commands it calls are the
 * wrappers of `hastmon scha-links`, and it sees the exit numbers it was
 * written for. Three nodes (a primary, b secondary, w watchdog), member
 * `app` of group r0 with retry_count 1:
 *
 * - healthy: the probe reports OK;
 * - its health check fails on a: one RESOURCE_RESTART (the probe is stopped
 *   by monitor_stop and a new one started), then GIVEOVER: the group moves
 *   to b and the probe on a is stopped (never sees the answer: normal);
 * - its check fails on b: a restart, then a GIVEOVER back to a is refused
 *   (pingpong; w is a watchdog) with exit 16, which the probe reports as FAULTED.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { REPO_ROOT, type TestCluster, withCluster } from "./cluster/harness.ts";

const PROBE = `${REPO_ROOT}docs/examples/solaris_probe.sh`;

/** monitor_start: the probe in a session of its own, as PMF would; its log per node. */
function monitorStart(dir: string): string {
  return `#!/bin/sh
D='${dir}'
# The probe finds its daemon through HASTMON_CONTROL, which the daemon gives every hook.
PATH="$D/bin:$PATH"
export PATH
setsid /bin/sh '${PROBE}' -R "$HASTMON_MEMBER" -G "$HASTMON_RESOURCE" -T hastmon.sample \\
  -- "$D/health.sh" >> "$D/probe-$HASTMON_NODE.log" 2>&1 < /dev/null &
echo $! > "$D/probe-$HASTMON_NODE.pid"
exit 0
`;
}

/** monitor_stop: the probe and whatever scha_* command it is waiting for. */
function monitorStop(dir: string): string {
  return `#!/bin/sh
pf='${dir}'/probe-$HASTMON_NODE.pid
[ -s "$pf" ] && kill -TERM -"$(cat "$pf")" 2>/dev/null
rm -f "$pf"
exit 0
`;
}

/** The application-level check the probe runs: sick while the node's flag file exists. */
function health(dir: string): string {
  return `#!/bin/sh\n[ ! -e '${dir}'/sick-$HASTMON_NODE ]\n`;
}

async function probeLog(c: TestCluster, node: string): Promise<string> {
  return await Deno.readTextFile(`${c.dir}/probe-${node}.log`).catch(() => "");
}

/** `hastmon scha_resource_get -O tag` on `node`, as the probe runs it. */
async function get(c: TestCluster, node: string, tag: string): Promise<string> {
  const r = await c.hastmon(
    "scha_resource_get",
    "-O",
    tag,
    "-G",
    "r0",
    "-R",
    "app",
    "-s",
    c.controlPath(node),
  );
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("e2e solaris probe: the Solaris sample restarts, gives over, and is refused by pingpong, through the scha_* wrappers", async () => {
  await withCluster(
    {
      // Relative commands are the configuration's directory, the cluster's; the scripts
      // are written there before any daemon starts. The member's probe_interval paces
      // the sample (its THOROUGH_PROBE_INTERVAL).
      extraToml: [
        "[resource.r0.member.app]",
        `monitor_start = "monitor_start.sh"`,
        `monitor_stop = "monitor_stop.sh"`,
        "retry_count = 1",
        "retry_interval = 120",
        "probe_interval = 1",
      ].join("\n"),
      startNodes: [],
    },
    async (c) => {
      const dir = c.dir;
      await Deno.writeTextFile(`${dir}/monitor_start.sh`, monitorStart(dir), { mode: 0o755 });
      await Deno.writeTextFile(`${dir}/monitor_stop.sh`, monitorStop(dir), { mode: 0o755 });
      await Deno.writeTextFile(`${dir}/health.sh`, health(dir), { mode: 0o755 });
      const links = await c.hastmon("scha-links", `${dir}/bin`);
      assertEquals(links.code, 0, links.stderr);
      await Promise.all(c.nodes.map((n) => c.startNode(n.name)));
      await c.waitForSteady("a");

      // Healthy: the probe on a reads its properties and reports OK.
      await c.waitFor(
        async () => (await get(c, "a", "STATUS")) === "OK\nprobe passed\n",
        20_000,
        "the probe on a to report OK",
      );
      assertStringIncludes(
        await probeLog(c, "a"),
        "probe every 1s, 1 restarts per 120s, then giveover",
      );

      // Sick on a: one restart (the probe is stopped, a new one starts), then a giveover.
      await Deno.writeTextFile(`${dir}/sick-a`, "");
      await c.waitForActive("b", 60_000);
      await c.waitForRole("a", "secondary");
      const onA = await probeLog(c, "a");
      const started = onA.match(/\] r0\/app: started/g) ?? [];
      assertEquals(
        started.length,
        2,
        `two probes ran on a (before and after the restart):\n${onA}`,
      );
      assertStringIncludes(onA, "probe failed; RESOURCE_RESTART (restart 1 of 1 in 120s)");
      assertStringIncludes(onA, "probe failed after 1 restarts in 120s; GIVEOVER");
      // Each request stopped the probe that asked: it never printed an answer.
      assert(!/scha_control \S+: exit/.test(onA), onA);
      await Deno.remove(`${dir}/sick-a`);

      // On b: healthy, then sick: a restart, then a giveover back to a is refused.
      await c.waitFor(
        async () => (await get(c, "b", "STATUS")) === "OK\nprobe passed\n",
        20_000,
        "the probe on b to report OK",
      );
      await Deno.writeTextFile(`${dir}/sick-b`, "");
      await c.waitFor(
        async () => (await probeLog(c, "b")).includes("scha_control GIVEOVER: exit 16"),
        60_000,
        "the probe on b to see its GIVEOVER refused",
      );
      const onB = await probeLog(c, "b");
      assertStringIncludes(onB, "probe failed; RESOURCE_RESTART (restart 1 of 1 in 120s)");
      assertStringIncludes(
        onB,
        "scha_control GIVEOVER: exit 16 (SCHA_ERR_CHECKS: no node may take the group; probing on)",
      );
      assert(!onB.includes("unexpected"), onB);
      // Refused: the group stayed on b, and the pingpong mark says why and until when.
      const check = await c.ctl("b", "giveover", "r0", "--check");
      assertEquals(check.code, 75, check.stderr);
      // a is blocked until a local time (its pingpong mark), w too (a watchdog).
      assert(/^ {2}a +blocked: .*until \d\d:\d\d \(in \d/m.test(check.stdout), check.stdout);
      assert(/^ {2}w +blocked: /m.test(check.stdout), check.stdout);
      await Deno.remove(`${dir}/sick-b`);
      await c.waitFor(
        async () => (await get(c, "b", "STATUS")) === "OK\nprobe passed\n",
        30_000,
        "the probe on b to report OK again",
      );
      assertEquals(c.runningNodes(), ["b"]);
      assert(!(await probeLog(c, "a")).includes("unexpected"));
    },
  );
});
