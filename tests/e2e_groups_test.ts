/**
 * End to end, real daemons on loopback (a, b and the watchdog w): a resource
 * group of two members, db and ip, each with its own start, stop, status and
 * monitor methods (a real script that starts a real process per member), the
 * built-in monitor, and scha_control through the real CLI.
 *
 * The member script notes every method in the shared timeline under
 * `r0.<member>`; each test checks that no member ever ran on two nodes at
 * once, and that the group as a whole (any of its members) never did either.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { type CtlResult, sleep, TestCluster } from "./cluster/harness.ts";
import {
  type ActiveInterval,
  activeIntervals,
  assertNeverTwoActive,
  findOverlaps,
  readTimeline,
  type TimelineEvent,
} from "./cluster/timeline.ts";

const MEMBERS = ["db", "ip"];

/** `member.sh METHOD MEMBER`: one process per member and node, methods noted in the timeline. */
const MEMBER_SCRIPT = `#!/bin/sh
D="\${HASTMON_TEST_CLUSTER:?}"
node="\${HASTMON_NODE:?}"
m="$2"
pf="$D/member-$node-$m.pid"
note() { echo "$(date +%s.%N) $node r0.$m $*" >> "$D/timeline"; }
alive() { [ -n "$1" ] && read -r st 2>/dev/null < "/proc/$1/stat" || return 1; st=\${st##*) }; [ "\${st%% *}" != Z ]; }
running() { [ -s "$pf" ] && alive "$(cat "$pf")"; }
case "$1" in
start)
  note begin "epoch=$HASTMON_EPOCH"
  if running; then note up already; exit 0; fi
  rm -f "$pf"
  trap '' TERM
  setsid sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 1000' "$pf" </dev/null >/dev/null 2>&1 &
  while [ ! -s "$pf" ]; do sleep 0.005; done
  note up "$(cat "$pf")"
  ;;
stop)
  if [ -s "$pf" ]; then
    p=$(cat "$pf"); kill -KILL "$p" 2>/dev/null
    while alive "$p"; do sleep 0.005; done
    note end "$p"; rm -f "$pf"
  else
    note end none
  fi
  ;;
status)
  [ -e "$D/fail-status-$node-$m" ] && exit 1
  running || exit 1
  ;;
monitor_start|monitor_stop)
  note "$1"
  ;;
monitor_check)
  if [ -e "$D/veto-$node" ]; then echo "/data is not mounted on $node"; exit 1; fi
  note check-ok
  ;;
esac
exit 0
`;

/** The group's configuration: two members with every method, short windows for a test. */
function groupToml(script: string): string {
  const lines = ["[resource.r0]", "pingpong_interval = 600"];
  for (const m of MEMBERS) {
    const cmd = (method: string) => `${method} = ["${script}", "${method}", "${m}"]`;
    lines.push(
      "",
      `[resource.r0.member.${m}]`,
      ...["start", "stop", "status", "monitor_start", "monitor_stop", "monitor_check"].map(cmd),
      "retry_count = 2",
      "retry_interval = 60",
      "probe_interval = 0.25",
      "start_timeout = 5",
      "status_timeout = 2",
      "monitor_check_timeout = 2",
    );
  }
  return lines.join("\n");
}

/** A three-node cluster running the group; the member script lives beside it. */
async function withGroup(fn: (c: TestCluster) => Promise<void>): Promise<void> {
  const scripts = await Deno.makeTempDir({ prefix: "hastmon-group-" });
  const script = `${scripts}/member.sh`;
  await Deno.writeTextFile(script, MEMBER_SCRIPT, { mode: 0o755 });
  const c = await TestCluster.start({ extraToml: groupToml(script), stopTimeout: 2 });
  try {
    await waitOnline(c, "a");
    await fn(c);
    await assertGroupSafe(c);
  } catch (e) {
    await c.dumpDiagnostics(`test failed: ${(e as Error).message.split("\n")[0]}`);
    throw e;
  } finally {
    await c.stop();
    await Deno.remove(scripts, { recursive: true });
  }
}

/** No member on two nodes at once, and no two nodes with any member of the group at once. */
async function assertGroupSafe(c: TestCluster) {
  const events = await readTimeline(c.timelinePath);
  assertNeverTwoActive(events.filter((e) => e.resource.startsWith("r0.")));
  // The group: on each node, the union of its members' intervals.
  const group: ActiveInterval[] = [];
  const members = activeIntervals(events.filter((e) => e.resource.startsWith("r0.")));
  for (const node of new Set(members.map((i) => i.node))) {
    const mine = members.filter((i) => i.node === node).sort((x, y) => x.from - y.from);
    for (const i of mine) {
      const last = group.at(-1);
      if (last && last.node === node && i.from <= last.to) last.to = Math.max(last.to, i.to);
      else group.push({ node, resource: "r0", from: i.from, to: i.to });
    }
  }
  const overlaps = findOverlaps(group);
  assertEquals(overlaps, [], "two nodes ran members of the group at once");
}

/** Wait until `node` is primary with the group ONLINE (both members running). */
async function waitOnline(c: TestCluster, node: string, timeoutMs = 20_000) {
  await c.waitFor(
    async () => {
      const st = await c.resourceStatus(node);
      return st?.role === "primary" && st.rgState === "ONLINE" &&
        st.members.every((x) => x.state === "running");
    },
    timeoutMs,
    `the group to be ONLINE on ${node}`,
  );
}

/** `hastmon scha_control -O OPTAG -G r0 -R MEMBER` against `node`'s daemon. */
function scha(c: TestCluster, node: string, optag: string, member: string): Promise<CtlResult> {
  return c.hastmon(
    "scha_control",
    "-O",
    optag,
    "-G",
    "r0",
    "-R",
    member,
    "-s",
    c.controlPath(node),
  );
}

/** Member `m`'s timeline kinds on `node` after time `since`. */
function kinds(events: TimelineEvent[], node: string, m: string, since: number): string[] {
  return events.filter((e) => e.node === node && e.resource === `r0.${m}` && e.t > since)
    .map((e) => e.kind);
}

Deno.test("e2e groups: a failing member is restarted retry_count times, then the group is given over; a giveover back is refused by pingpong", async () => {
  await withGroup(async (c) => {
    const t0 = Date.now();
    // db keeps running, but its probe now says stopped.
    await Deno.writeTextFile(`${c.dir}/fail-status-a-db`, "");
    await waitOnline(c, "b", 30_000);
    await c.waitForRole("a", "secondary");
    const events = await readTimeline(c.timelinePath);
    // Two restarts of db alone on a (monitor_stop, stop, start, monitor_start each), then
    // the group stopped for the giveover: ip, then db, each with its monitor stopped first.
    assertEquals(kinds(events, "a", "db", t0), [
      "monitor_stop",
      "end",
      "begin",
      "up",
      "monitor_start",
      "monitor_stop",
      "end",
      "begin",
      "up",
      "monitor_start",
      "monitor_stop",
      "end",
    ]);
    assertEquals(kinds(events, "a", "ip", t0), ["monitor_stop", "end"], "ip was not restarted");
    const cause = (await c.resourceStatus("a"))?.lastTransition?.reason ?? "";
    assertStringIncludes(cause, "giveover to b: member db kept failing after its restarts");

    // Back to a within pingpong_interval: refused with SCHA_ERR_CHECKS (16).
    const back = await scha(c, "b", "GIVEOVER", "db");
    assertEquals(back.code, 16, back.stdout + back.stderr);
    assertStringIncludes(back.stdout + back.stderr, "pingpong");
    const plan = await c.ctl("b", "giveover", "r0", "--check");
    assert(plan.code !== 0, plan.stdout);
    assertStringIncludes(plan.stdout + plan.stderr, "a: ");
    assertStringIncludes(plan.stdout + plan.stderr, "pingpong");
    assertStringIncludes(plan.stdout + plan.stderr, "until");
    // And b's status says so in words, with when it ends.
    const notes = (await c.resourceStatus("b"))?.explanations.join("\n") ?? "";
    assert(/giveover by db to a blocked by pingpong until \d\d:\d\d/.test(notes), notes);
    assertEquals(await c.status("b").then((s) => s?.resources[0].role), "primary");
  });
});

Deno.test("e2e groups: RESOURCE_RESTART of one member, a monitor_check veto, then GIVEOVER blocks until the group runs on the target", async () => {
  await withGroup(async (c) => {
    // RESOURCE_RESTART runs monitor_stop, stop, start, monitor_start of ip on a only.
    let t = Date.now();
    const restart = await scha(c, "a", "RESOURCE_RESTART", "ip");
    assertEquals(restart.code, 0, restart.stdout + restart.stderr);
    let events = await readTimeline(c.timelinePath);
    assertEquals(kinds(events, "a", "ip", t), [
      "monitor_stop",
      "end",
      "begin",
      "up",
      "monitor_start",
    ]);
    assertEquals(kinds(events, "a", "db", t), [], "db was not touched");
    assertEquals(events.filter((e) => e.node !== "a" && e.t > t && e.kind !== "check-ok"), []);
    const count = await c.hastmon(
      "scha_resource_get",
      "-O",
      "NUM_RESOURCE_RESTARTS",
      "-G",
      "r0",
      "-R",
      "ip",
      "-s",
      c.controlPath("a"),
    );
    assertEquals([count.code, count.stdout], [0, "1\n"]);

    // b's monitor_check fails: b vetoes, and it is the only candidate.
    await Deno.writeTextFile(`${c.dir}/veto-b`, "");
    const vetoed = await scha(c, "a", "GIVEOVER", "db");
    assertEquals(vetoed.code, 16, vetoed.stdout + vetoed.stderr);
    const plan = await c.ctl("a", "giveover", "r0", "--check");
    assertStringIncludes(plan.stdout + plan.stderr, "/data is not mounted on b");
    assertEquals((await c.resourceStatus("a"))?.role, "primary", "a kept the group");

    // The veto lifted, GIVEOVER returns 0 only once b runs the group.
    await Deno.remove(`${c.dir}/veto-b`);
    t = Date.now();
    const moved = await scha(c, "a", "GIVEOVER", "db");
    const returned = Date.now();
    assertEquals(moved.code, 0, moved.stdout + moved.stderr);
    events = await readTimeline(c.timelinePath);
    for (const m of MEMBERS) {
      const up = events.find((e) => e.node === "b" && e.resource === `r0.${m}` && e.kind === "up");
      assert(up && up.t > t && up.t <= returned, `${m} was up on b before scha_control returned`);
    }
    const stb = await c.resourceStatus("b");
    assertEquals([stb?.role, stb?.state], ["primary", "running"]);
    await sleep(500);
    await waitOnline(c, "b");
  });
});
