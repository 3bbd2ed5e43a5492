import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import {
  memberStatus,
  primaryStatus,
  quietLoad,
  secondaryStatus,
} from "../control/test_helpers.ts";
import type { StatusResult } from "../control/protocol.ts";
import { HookHistograms } from "./histogram.ts";
import { renderMetrics } from "./render.ts";
import type { FailoverStatus } from "../core/status.ts";

function status(resources = [primaryStatus(), secondaryStatus()]): StatusResult {
  return {
    node: "alpha",
    version: "0.1.0",
    pid: 42,
    uptimeMs: 90_500,
    load: quietLoad(),
    resources,
  };
}

/** The samples of `text`: `name{labels}` → value. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

Deno.test("metrics: one gauge per role and state, 1 for the current one", () => {
  const s = samples(renderMetrics(status(), []));
  assertEquals(s.get('hastmon_role{node="alpha",resource="web",role="primary"}'), "1");
  assertEquals(s.get('hastmon_role{node="alpha",resource="web",role="secondary"}'), "0");
  assertEquals(s.get('hastmon_role{node="beta",resource="db",role="secondary"}'), "1");
  assertEquals(s.get('hastmon_service_state{node="alpha",resource="web",state="running"}'), "1");
  assertEquals(s.get('hastmon_service_state{node="alpha",resource="web",state="stopped"}'), "0");
});

Deno.test("metrics: epoch, lease, peers, complaints, attempts per resource and node", () => {
  const s = samples(renderMetrics(status(), []));
  const web = '{node="alpha",resource="web"}';
  assertEquals(s.get(`hastmon_epoch${web}`), "7");
  assertEquals(s.get(`hastmon_lease_held${web}`), "1");
  assertEquals(s.get(`hastmon_lease_remaining_seconds${web}`), "2.5");
  assertEquals(s.get(`hastmon_peers${web}`), "2");
  assertEquals(s.get(`hastmon_peers_connected${web}`), "1");
  assertEquals(s.get('hastmon_peer_connected{node="alpha",resource="web",peer="wd"}'), "0");
  assertEquals(s.get('hastmon_complaints{node="beta",resource="db"}'), "2");
  assertEquals(s.get(`hastmon_complaint_threshold${web}`), "3");
  assertEquals(s.get(`hastmon_start_attempts${web}`), "0");
  assertEquals(s.get(`hastmon_start_attempts_limit${web}`), "5");
  assertEquals(s.get('hastmon_lease_remaining_seconds{node="beta",resource="db"}'), "0");
  assertEquals(s.get('hastmon_uptime_seconds{node="alpha"}'), "90.5");
  assertEquals(s.get('hastmon_build_info{node="alpha",version="0.1.0"}'), "1");
});

Deno.test("metrics: a forced primary's lease never runs out: +Inf", () => {
  const forced = primaryStatus();
  forced.forced = true;
  forced.lease = { held: true, remainingMs: null, lengthMs: 3000, quorum: 2 };
  const s = samples(renderMetrics(status([forced]), []));
  assertEquals(s.get('hastmon_lease_remaining_seconds{node="alpha",resource="web"}'), "+Inf");
});

Deno.test("metrics: hook durations as a cumulative histogram per method", () => {
  const h = new HookHistograms();
  h.observe("web", "status", 3);
  h.observe("web", "status", 40);
  h.observe("web", "status", 400_000);
  h.observe("web", "start", 1200);
  const s = samples(renderMetrics(status(), h.snapshot()));
  const st = 'node="alpha",resource="web",method="status"';
  assertEquals(s.get(`hastmon_hook_duration_seconds_bucket{${st},le="0.005"}`), "1");
  assertEquals(s.get(`hastmon_hook_duration_seconds_bucket{${st},le="0.05"}`), "2");
  assertEquals(s.get(`hastmon_hook_duration_seconds_bucket{${st},le="120"}`), "2");
  assertEquals(s.get(`hastmon_hook_duration_seconds_bucket{${st},le="+Inf"}`), "3");
  assertEquals(s.get(`hastmon_hook_duration_seconds_count{${st}}`), "3");
  assertEquals(s.get(`hastmon_hook_duration_seconds_sum{${st}}`), "400.043");
  assertEquals(
    s.get(
      'hastmon_hook_duration_seconds_bucket{node="alpha",resource="web",method="start",le="2.5"}',
    ),
    "1",
  );
});

Deno.test("metrics: failover phases appear when the status view reports a failover", () => {
  const before = renderMetrics(status(), []);
  assert(!before.includes("hastmon_last_failover_phase_seconds{"), "no samples without a failover");
  const st = secondaryStatus();
  const failover: FailoverStatus = {
    kind: "takeover",
    from: "alpha",
    agoMs: 12_000,
    phases: { detectedMs: 0, decidedMs: 1350, oldStoppedMs: null, startedMs: 1420 },
  };
  const s = samples(renderMetrics(status([{ ...st, failover }]), []));
  const f = 'node="beta",resource="db",kind="takeover",from="alpha"';
  assertEquals(s.get(`hastmon_last_failover_phase_seconds{${f},phase="detected"}`), "0");
  assertEquals(s.get(`hastmon_last_failover_phase_seconds{${f},phase="decided"}`), "1.35");
  assertEquals(s.get(`hastmon_last_failover_phase_seconds{${f},phase="started"}`), "1.42");
  assertEquals(s.has(`hastmon_last_failover_phase_seconds{${f},phase="old_stopped"}`), false);
  assertEquals(s.get(`hastmon_last_failover_age_seconds{${f}}`), "12");
});

Deno.test("metrics: every family has HELP and TYPE; label values are escaped", () => {
  const odd = primaryStatus();
  odd.resource = 'we"b\\\n';
  const text = renderMetrics(status([odd]), []);
  const names = new Set(
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) =>
      l.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, "")
    ),
  );
  for (const n of names) {
    assertStringIncludes(text, `# HELP ${n} `);
    assertStringIncludes(text, `# TYPE ${n} `);
  }
  assertStringIncludes(text, 'resource="we\\"b\\\\\\n"');
  assert(text.endsWith("\n"));
});

Deno.test("metrics: the group's RG_STATE and each member's restarts, budget, status and monitoring", () => {
  const st = primaryStatus();
  st.rgState = "ONLINE";
  st.members = [
    memberStatus("db", {
      status: "DEGRADED",
      restarts: { used: 1, max: 2, windowMs: 300_000, resetsInMs: 1 },
      groupRestarts: 1,
    }),
  ];
  const text = renderMetrics(status([st]), []);
  const s = samples(text);
  const db = '{node="alpha",resource="web",member="db"}';
  assertEquals(s.get('hastmon_group_state{node="alpha",resource="web",state="ONLINE"}'), "1");
  assertEquals(s.get(`hastmon_member_restarts${db}`), "1");
  assertEquals(s.get(`hastmon_member_restarts_limit${db}`), "2");
  assertEquals(s.get(`hastmon_group_restarts${db}`), "1");
  assertEquals(
    s.get('hastmon_member_status{node="alpha",resource="web",member="db",status="DEGRADED"}'),
    "1",
  );
  assertEquals(
    s.get('hastmon_member_status{node="alpha",resource="web",member="db",status="OK"}'),
    "0",
  );
  assertEquals(s.get(`hastmon_member_monitored${db}`), "1");
});

Deno.test("metrics: the node's shedding, lateness, and what it dropped or postponed", () => {
  const st = status();
  st.load = quietLoad({
    shedding: true,
    lagMs: 820,
    notificationsDropped: 12,
    probesDeferred: 340,
  });
  const text = renderMetrics(st, []);
  const s = samples(text);
  assertEquals(s.get('hastmon_shedding{node="alpha"}'), "1");
  assertEquals(s.get('hastmon_lag_seconds{node="alpha"}'), "0.82");
  assertEquals(s.get('hastmon_notifications_dropped_total{node="alpha"}'), "12");
  assertEquals(s.get('hastmon_probes_deferred_total{node="alpha"}'), "340");
  assertStringIncludes(text, "# TYPE hastmon_notifications_dropped_total counter");
  assertEquals(s.get('hastmon_log_lines_lost_total{node="alpha"}'), "0", "an older daemon: none");
  st.log = { linesLost: 7, error: "Broken pipe (os error 32)" };
  assertEquals(
    samples(renderMetrics(st, [])).get('hastmon_log_lines_lost_total{node="alpha"}'),
    "7",
  );
});
