import { assert, assertEquals } from "../../tests/assert.ts";
import {
  eventJson,
  formatDuration,
  formatEvent,
  formatResourceText,
  formatRoleText,
  formatStatusText,
  statusJson,
} from "./format.ts";
import type { DaemonEvent, StatusResult } from "./protocol.ts";
import {
  memberStatus,
  primaryStatus,
  quietLoad,
  secondaryStatus,
  watchdogStatus,
} from "./test_helpers.ts";

function result(resources = [primaryStatus(), secondaryStatus(), watchdogStatus()]): StatusResult {
  return {
    node: "alpha",
    version: "0.1.0",
    pid: 4242,
    uptimeMs: 90_500,
    load: quietLoad(),
    resources,
  };
}

// The original hastmonctl layout (resource, two-space fields, four-space
// remotes; role/state per remote on a watchdog), extended.
const EXPECTED_TEXT = `web:
  role: primary
  node: alpha
  remote:
    beta (connected)
    wd (disconnected)
  state: running
  attempts: 0 from 5
  complaints: 0 for last 60 sec (threshold 3)
  epoch: 7
  priority: 10
  lease: held, 2.5s left of 3s
  group: ONLINE
  last transition: secondary -> primary 1m5s ago: takeover: 4 complaints from wd
  notes:
    watchdog wd unreachable: no automatic failover
    wd not heard for 75s
    lease valid for 2.5s

db:
  role: secondary
  node: beta
  remote:
    alpha (disconnected)
    wd (connected)
  state: stopped
  attempts: 0 from 5
  complaints: 2 for last 60 sec (threshold 3)
  epoch: 3 (highest seen 4)
  priority: 20
  lease: none
  takeover: primary silent for 1.2s, needs more than 4.35s
  group: OFFLINE
  last transition: none
  notes:
    alpha not heard for 1.2s
    no primary heard; complaints 2/4 needed within 60s

web:
  role: watchdog
  node: wd
  remote:
    alpha (primary/running)
    beta (unknown/stopped)
  state: unknown
  attempts: 0 from 5
  complaints: 0 for last 15 sec (threshold 3)
  epoch: 7
  priority: 100
  lease: granted to alpha (epoch 7), 2.4s left
  group: OFFLINE
  hook: status, running for 0.35s
  last transition: init -> watchdog 3h5m ago: role_on_start
  notes:
    lease granted to alpha for 2.4s
`;

Deno.test("format: status text of a primary, a secondary and a watchdog", () => {
  assertEquals(formatStatusText(result()), EXPECTED_TEXT);
  assertEquals(formatStatusText(result([])), "");
});

Deno.test("format: lease lines of a primary without a lease, forced, and a lone node", () => {
  const waiting = primaryStatus();
  waiting.lease = { held: false, remainingMs: null, lengthMs: 30_000, quorum: 2 };
  const forced = primaryStatus();
  forced.forced = true;
  forced.peers = [];
  forced.explanations = [];
  const text = formatStatusText(result([waiting, forced])).split("\n");
  assertEquals(text.filter((l) => l.startsWith("  lease:")), [
    "  lease: not held (length 30s)",
    "  lease: none, forced by the operator (no lease protects this node)",
  ]);
  assertEquals(text.filter((l) => l.startsWith("  remote:")).length, 2);
  assertEquals(text.includes("  remote: none"), true);
  assertEquals(
    text.at(-2),
    "  last transition: secondary -> primary 1m5s ago: takeover: 4 complaints from wd",
  );
});

Deno.test("format: control characters from the daemon cannot break the layout", () => {
  const st = primaryStatus();
  st.explanations = ["line one\nfake: field\x1b[31m"];
  const lines = formatStatusText(result([st])).split("\n");
  assertEquals(lines.at(-2), "    line one\\x0afake: field\\x1b[31m");
});

Deno.test("format: durations for people", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [-5, "0s"],
    [350, "0.35s"],
    [1350, "1.35s"],
    [9_999, "10s"],
    [42_900, "42s"],
    [252_000, "4m12s"],
    [3 * 3600_000 + 5 * 60_000 + 59_000, "3h5m"],
    [2 * 86400_000 + 4 * 3600_000, "2d4h"],
    [Infinity, "never"],
  ];
  for (const [ms, text] of cases) assertEquals(formatDuration(ms), text, `${ms}`);
});

Deno.test("format: status JSON is versioned, in seconds, and survives a round trip", () => {
  const secondary = secondaryStatus();
  secondary.takeover = { silenceMs: 1200, waitMs: Infinity };
  const json = statusJson(result([primaryStatus(), secondary]));
  assertEquals(JSON.parse(JSON.stringify(json)), json);
  assertEquals(json.version, 2);
  assertEquals(json.daemon, {
    version: "0.1.0",
    pid: 4242,
    uptimeSeconds: 90.5,
    load: {
      shedding: false,
      sheddingSeconds: null,
      lagSeconds: 0.003,
      hookWaitSeconds: 0,
      lagLimitSeconds: 0.5,
      notificationsDropped: 0,
      probesDeferred: 0,
      probesHeld: 0,
      notifyPerSecond: 20,
    },
    log: { linesLost: 0, error: null, lastLostSecondsAgo: null },
  });
  const [p, s] = json.resources;
  assertEquals(p.lease, { held: true, remainingSeconds: 2.5, lengthSeconds: 3, quorum: 2 });
  assertEquals(p.peers[1].lastHeardSecondsAgo, 75);
  assertEquals(p.lastTransition?.secondsAgo, 65);
  assertEquals(s.complaints, { count: 2, threshold: 3, windowSeconds: 60, from: ["wd"] });
  assertEquals(s.takeover, { silenceSeconds: 1.2, waitSeconds: null });
  assertEquals(s.lastTransition, null);
  assertEquals(Object.keys(p), [
    "name",
    "node",
    "role",
    "state",
    "epoch",
    "maxEpoch",
    "priority",
    "forced",
    "attempts",
    "lease",
    "grant",
    "complaints",
    "takeover",
    "hook",
    "rgState",
    "members",
    "pingpong",
    "request",
    "failover",
    "peers",
    "lastTransition",
    "explanations",
  ]);
});

Deno.test("format: role changes, one line each", () => {
  assertEquals(
    formatRoleText({
      changed: [
        { resource: "web", from: "secondary", to: "primary" },
        { resource: "db", from: "primary", to: "primary" },
      ],
    }),
    "web: secondary -> primary\ndb: primary (unchanged)\n",
  );
});

Deno.test("format: one line per event, text and JSON", () => {
  const transition: DaemonEvent = {
    seq: 12,
    time: "2026-11-25T10:00:00.123Z",
    node: "beta",
    resource: "web",
    kind: "transition",
    level: "info",
    message: "web: secondary -> primary",
    from: "secondary",
    to: "primary",
    epoch: 8,
    reason: "takeover after 4 complaints",
  };
  const log: DaemonEvent = {
    seq: 13,
    time: "2026-11-25T10:00:01.000Z",
    node: "beta",
    resource: null,
    kind: "log",
    level: "warning",
    message: "peer alpha: connection closed:\nreset",
  };
  assertEquals(
    formatEvent(transition),
    "2026-11-25T10:00:00.123Z beta web info transition: secondary -> primary, epoch 8: " +
      "takeover after 4 complaints",
  );
  assertEquals(
    formatEvent(log),
    "2026-11-25T10:00:01.000Z beta - warning log: peer alpha: connection closed:\\x0areset",
  );
  assertEquals(JSON.parse(eventJson(log)), { version: 2, ...log });
  assertEquals(eventJson(log).includes("\n"), false);
});

Deno.test("format: members of a group and the phases of the last failover", () => {
  const st = {
    ...primaryStatus(),
    rgState: "PENDING_ONLINE",
    members: [
      memberStatus("db"),
      memberStatus("ip", { state: "starting", resourceState: "STARTING" }),
    ],
    failover: {
      kind: "takeover" as const,
      from: "alpha",
      agoMs: 12_000,
      phases: { detectedMs: 0 as const, decidedMs: 350, oldStoppedMs: 380, startedMs: null },
    },
    hook: { method: "start", member: "ip", runningMs: 200 },
  };
  const text = formatResourceText(st);
  assertEquals(
    text.split("\n").filter((l) => /^ {2}(group|members|failover|hook):/.test(l)),
    [
      "  group: PENDING_ONLINE",
      "  members: db ONLINE, ip STARTING",
      "  failover: takeover from alpha 12s ago: detected, decided +0.35s, old primary out +0.38s, started not yet",
      "  hook: start of ip, running for 0.2s",
    ],
  );
});

Deno.test("format: a node that sheds load says so after its resources, in text and JSON", () => {
  const quiet = result([primaryStatus()]);
  assert(!formatStatusText(quiet).includes("shedding"), "nothing said while nothing was shed");
  const shedding = {
    ...quiet,
    load: quietLoad({
      shedding: true,
      sheddingForMs: 35_000,
      lagMs: 820,
      hookWaitMs: 2500,
      notificationsDropped: 12,
      probesDeferred: 340,
      probesHeld: 7,
    }),
  };
  const text = formatStatusText(shedding);
  assert(text.startsWith(formatResourceText(primaryStatus())), "the resources come first");
  assert(
    text.endsWith(
      "node alpha: shedding load for 35s: ran up to 0.82s late, hooks waited up to 2.5s to start " +
        "(limit 0.5s); notification hooks " +
        "are dropped, routine probes come up to one interval late (7 waiting now); 12 " +
        "notification hook(s) dropped (budget 20 a second), 340 probe(s) postponed since start\n",
    ),
    text,
  );
  const json = statusJson(shedding).daemon.load;
  assertEquals(json.shedding, true);
  assertEquals(json.sheddingSeconds, 35);
  assertEquals(json.lagSeconds, 0.82);
  assertEquals([json.notificationsDropped, json.probesDeferred, json.probesHeld], [12, 340, 7]);
  // After the overload: what was shed stays counted, and said.
  const after = { ...quiet, load: quietLoad({ notificationsDropped: 12 }) };
  assert(formatStatusText(after).includes("node alpha: not shedding load now; 12 notification"));
});

Deno.test("format: a watchdog marks the last word of a peer it no longer hears", () => {
  const st = watchdogStatus();
  st.peers[0] = { ...st.peers[0], connected: false, lastHeardAgoMs: 17_000 };
  const remotes = formatResourceText(st).split("\n").filter((l) => l.startsWith("    ")).slice(
    0,
    2,
  );
  assertEquals(remotes, [
    "    alpha (primary/running, disconnected)",
    "    beta (unknown/stopped)",
  ]);
});

Deno.test("format: a log that lost lines says how many, why and how long ago, in text and JSON", () => {
  const r = result();
  assertEquals(formatStatusText(r).includes("log line(s)"), false, "nothing while none was lost");
  r.log = { linesLost: 12, error: "Broken pipe (os error 32)", lastLostAgoMs: 125_000 };
  const text = formatStatusText(r);
  assert(
    text.includes(
      "12 log line(s) could not be written since start, the last 2m5s ago (Broken pipe (os error 32))",
    ),
    text,
  );
  assertEquals(statusJson(r).daemon.log, {
    linesLost: 12,
    error: "Broken pipe (os error 32)",
    lastLostSecondsAgo: 125,
  });
});
