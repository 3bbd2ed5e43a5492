/**
 * End to end: what a monitoring system sees. Real daemons with
 * `metrics_listen`, scraped over real HTTP; every scrape is parsed by
 * Prometheus' own parser and linter (`promtool check metrics`, from Debian's
 * prometheus package); the role metrics follow a failover (kill -9 of the
 * primary and its service). `ctl check` gives OK, then WARNING, then
 * CRITICAL as the cluster loses its parts, and the JSON log records the
 * takeover once, with its reason.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { type TestCluster, withCluster } from "./cluster/harness.ts";
import { primaryStatus, quietLoad, secondaryStatus } from "../src/control/test_helpers.ts";
import { HookHistograms } from "../src/metrics/histogram.ts";
import { renderMetrics } from "../src/metrics/render.ts";
import type { ResourceStatus } from "../src/core/status.ts";

/** `promtool check metrics` on `text`: its exit status and what it printed. */
async function promtool(text: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Parse and lint with promtool (nothing to say, exit 0), then index the samples by series. */
async function parsed(text: string): Promise<Map<string, number>> {
  const p = await promtool(text);
  assertEquals(p.code, 0, `promtool check metrics:\n${p.out}\n--- input:\n${text}`);
  assertEquals(p.out.trim(), "", "promtool has remarks");
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    const v = line.slice(i + 1);
    out.set(line.slice(0, i), v === "+Inf" ? Infinity : Number(v));
  }
  return out;
}

/** The metrics port `node`'s daemon logged. */
async function metricsPort(c: TestCluster, node: string): Promise<number> {
  const m = /metrics served at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(await c.log(node));
  assert(m, `${node} logged no metrics address`);
  return Number(m[1]);
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assertEquals(res.status, 200);
  assertStringIncludes(res.headers.get("content-type") ?? "", "text/plain; version=0.0.4");
  return await parsed(await res.text());
}

const role = (node: string, r: string) => `hastmon_role{node="${node}",resource="r0",role="${r}"}`;
const series = (name: string, node: string) => `${name}{node="${node}",resource="r0"}`;

Deno.test("e2e metrics: scraped over HTTP, parsed by promtool, roles follow a failover; ctl check; JSON log", async () => {
  await withCluster({
    extraToml: `metrics_listen = "127.0.0.1:0"`,
    daemonArgs: ["--log-format", "json"],
  }, async (c) => {
    await c.waitForSteady("a");
    const ports = Object.fromEntries(
      await Promise.all(c.nodes.map(async (n) => [n.name, await metricsPort(c, n.name)])),
    );
    const a = await scrape(ports.a);
    assertEquals(a.get(role("a", "primary")), 1);
    assertEquals(a.get(role("a", "secondary")), 0);
    assertEquals(a.get(series("hastmon_lease_held", "a")), 1);
    assert(a.get(series("hastmon_lease_remaining_seconds", "a"))! > 0);
    assertEquals(a.get(series("hastmon_peers_connected", "a")), 2);
    const probes = a.get(
      'hastmon_hook_duration_seconds_count{node="a",resource="r0",method="status"}',
    );
    assert(probes !== undefined && probes > 0, "a's status probes are in its hook histogram");
    const b0 = await scrape(ports.b);
    assertEquals(b0.get(role("b", "secondary")), 1);
    const epochBefore = b0.get(series("hastmon_epoch", "b"))!;
    assertEquals((await scrape(ports.w)).get(role("w", "watchdog")), 1);
    // A path other than /metrics.
    assertEquals(
      await fetch(`http://127.0.0.1:${ports.a}/nope`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }),
      404,
    );

    const okA = await c.ctl("a", "check");
    assertEquals(okA.code, 0, okA.stdout + okA.stderr);
    assert(okA.stdout.startsWith("HASTMON OK - r0: primary here (running)"), okA.stdout);

    await c.kill9WithService("a");
    await c.waitForActive("b", 15_000);
    await c.waitFor(
      async () => (await c.resourceStatus("b"))?.state === "running",
      10_000,
      "b to see its service running",
    );
    const b = await scrape(ports.b);
    assertEquals(b.get(role("b", "primary")), 1);
    assertEquals(b.get(role("b", "secondary")), 0);
    assert(b.get(series("hastmon_epoch", "b"))! > epochBefore, "the takeover raised the epoch");
    assertEquals(b.get('hastmon_peer_connected{node="b",resource="r0",peer="a"}'), 0);
    const starts = b.get(
      'hastmon_hook_duration_seconds_count{node="b",resource="r0",method="start"}',
    );
    assert(starts !== undefined && starts >= 1, "b's start is in its hook histogram");
    // The failover's phases, as b measured them, one sample each.
    const st = await c.resourceStatus("b");
    assert(st?.failover, "b reports the failover it made");
    assertEquals([st.failover.kind, st.failover.from], ["takeover", "a"]);
    const labels: Record<string, string> = {
      detectedMs: "detected",
      decidedMs: "decided",
      oldStoppedMs: "old_stopped",
      startedMs: "started",
    };
    const phases = [...b.keys()].filter((k) =>
      k.startsWith("hastmon_last_failover_phase_seconds{")
    );
    const reported = Object.entries(st.failover.phases).filter(([, ms]) => ms !== null);
    assertEquals(phases.length, reported.length, phases.join("\n"));
    assert(reported.length >= 3, "detected, decided and started at least");
    for (const [field, ms] of reported) {
      const key = 'hastmon_last_failover_phase_seconds{node="b",resource="r0",kind="takeover",' +
        `from="a",phase="${labels[field]}"}`;
      assert(Math.abs(b.get(key)! - ms! / 1000) < 0.001, `${key} = ${b.get(key)}, status ${ms} ms`);
    }

    // b runs it, the watchdog is there, but a is gone: nowhere to fail over.
    const warnB = await c.ctl("b", "check");
    assertEquals(warnB.code, 1, warnB.stdout + warnB.stderr);
    assertStringIncludes(warnB.stdout, "HASTMON WARNING - r0: no secondary connected");
    // The watchdog sees the new primary running, once b's heartbeat (every 0.25 s) has told it:
    // b's own view comes first. (Asked at once, it failed once in a loaded full run.)
    let lastW = { code: -1, stdout: "" };
    await c.waitFor(
      async () => (lastW = await c.ctl("w", "check")).code === 0,
      2000,
      "the watchdog to see b's service running",
    ).catch((e) => {
      throw new Error(`${(e as Error).message}: last check ${lastW.code}: ${lastW.stdout}`);
    });
    // a's daemon is gone: nothing answers on its socket.
    const critA = await c.ctl("a", "check");
    assertEquals(critA.code, 2, critA.stdout + critA.stderr);
    assertStringIncludes(critA.stdout, "HASTMON CRITICAL - no daemon is listening on");

    // The JSON log: every line one object; the takeover logged once, with its reason.
    const records = (await c.log("b")).trim().split("\n").map((l) => JSON.parse(l));
    const takeovers = records.filter((r) =>
      r.event === "role_change" && r.from === "secondary" && r.to === "primary"
    );
    assertEquals(takeovers.length, 1, JSON.stringify(takeovers));
    assertEquals([takeovers[0].node, takeovers[0].resource], ["b", "r0"]);
    assert(takeovers[0].reason.length > 0 && takeovers[0].time, JSON.stringify(takeovers[0]));
    assertEquals(
      records.filter((r) => r.event === "log" && /role secondary -> primary/.test(r.message))
        .length,
      0,
      "the core's text line for the change is not written again",
    );
  });
});

Deno.test("metrics: promtool accepts every family, hook histograms and failover phases included", async () => {
  const h = new HookHistograms();
  h.observe("web", "status", 12);
  h.observe("web", "start", 3000);
  const st: ResourceStatus = {
    ...secondaryStatus(),
    failover: {
      kind: "takeover",
      from: "alpha",
      agoMs: 4000,
      phases: { detectedMs: 0, decidedMs: 1350, oldStoppedMs: 1300, startedMs: 1420 },
    },
  };
  const text = renderMetrics(
    {
      node: "beta",
      version: "0.1.0",
      pid: 1,
      uptimeMs: 5000,
      load: quietLoad(),
      resources: [primaryStatus(), st],
    },
    h.snapshot(),
  );
  const s = await parsed(text);
  assertEquals(
    s.get(
      'hastmon_last_failover_phase_seconds{node="beta",resource="db",kind="takeover",from="alpha",phase="old_stopped"}',
    ),
    1.3,
  );
});
