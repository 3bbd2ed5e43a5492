import { assert, assertEquals } from "../../tests/assert.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { parseConfig, type ParseOptions } from "./parse.ts";
import { resourceNode, resourceSettings, usableResources } from "./settings.ts";
import type { EffectiveConfig, LoadResult } from "./types.ts";

const FILE = "/etc/hastmon.toml";

function load(text: string, opts: Partial<ParseOptions> = {}): LoadResult {
  return parseConfig(text, FILE, {
    node: "alpha",
    readKeyFile: () => ({ error: "no such file" }),
    ...opts,
  });
}

/** Errors as `line:col: message`, the form every assertion below compares. */
function errors(text: string, opts: Partial<ParseOptions> = {}): string[] {
  return load(text, opts).errors.map((e) => `${e.line}:${e.col}: ${e.message}`);
}

function config(text: string, opts: Partial<ParseOptions> = {}): EffectiveConfig {
  const r = load(text, opts);
  assertEquals(r.errors.map((e) => formatDiagnostic(e)), []);
  return r.config!;
}

/** Two nodes and a watchdog: the smallest file that passes every check. */
const CLUSTER = `
exec = "/usr/local/libexec/svc"

[resource.web.on.alpha]
priority = 1
remote = ["10.0.0.2"]

[resource.web.on.beta]
priority = 2
remote = ["10.0.0.1"]

[resource.web.on.wd]
role_on_start = "watchdog"
remote = ["10.0.0.1", "10.0.0.2"]
`;

Deno.test("a minimal cluster gets every default, in ms, with 'default' provenance", () => {
  const cfg = config(CLUSTER);
  assertEquals(resourceSettings(cfg, "web"), {
    name: "web",
    self: "alpha",
    nodes: [
      { name: "alpha", priority: 1, watchdog: false, leaseMs: 30_000, stopTimeoutMs: 5_000 },
      { name: "beta", priority: 2, watchdog: false, leaseMs: 30_000, stopTimeoutMs: 5_000 },
      { name: "wd", priority: 100, watchdog: true, leaseMs: 30_000, stopTimeoutMs: 5_000 },
    ],
    peers: ["beta", "wd"],
    priority: 1,
    roleOnStart: "init",
    heartbeatIntervalMs: 10_000,
    complaintCount: 3,
    complaintIntervalMs: 60_000,
    timeoutMs: 5_000,
    attempts: 5,
    stopTimeoutMs: 5_000,
    clockSkew: 0.1,
    hookTimeoutMs: 60_000,
    methodTimeoutMs: { stop: 5_000 },
    members: [
      {
        name: "web",
        probeIntervalMs: 10_000,
        startTimeoutMs: 60_000,
        statusTimeoutMs: 60_000,
        failoverMode: "SOFT",
        retryCount: 2,
        retryIntervalMs: 300_000,
        hasMonitorStart: false,
        hasMonitorStop: false,
        hasMonitorCheck: false,
        monitorStartTimeoutMs: 60_000,
        monitorStopTimeoutMs: 60_000,
        monitorCheckTimeoutMs: 60_000,
      },
    ],
    pingpongIntervalMs: 3_600_000,
    hasPanic: false,
    hasFence: false,
  });
  assertEquals(cfg.global.control.path, "/var/run/hastmonctl");
  assertEquals([cfg.global.listen.host, cfg.global.listen.port], ["0.0.0.0", 8458]);
  assertEquals(cfg.global.stateDir, "/var/db/hastmon");
  assertEquals(cfg.global.settings.state_dir.from, { kind: "default", section: "default" });
  const web = resourceNode(cfg, "web");
  assertEquals(web.remote, [{ host: "10.0.0.2", port: 8458, text: "10.0.0.2" }]);
  assertEquals(web.pingpongIntervalMs, 3_600_000);
  assertEquals(web.members.length, 1);
  const m = web.members[0];
  assertEquals([m.name, m.implicit, m.failoverMode, m.retryCount, m.retryIntervalMs], [
    "web",
    true,
    "SOFT",
    2,
    300_000,
  ]);
  assertEquals(m.commands.start?.argv, ["/usr/local/libexec/svc", "start", "web"]);
  assertEquals(m.commands.monitor_check, null);
  assertEquals(m.timeoutMs, {
    start: 60_000,
    stop: 5_000,
    status: 60_000,
    monitor_start: 60_000,
    monitor_stop: 60_000,
    monitor_check: 60_000,
    validate: 60_000,
  });
  assertEquals(cfg.nodes.map((n) => n.node), ["alpha", "beta", "wd"]);
});

Deno.test("inheritance: global → on.NODE → resource → resource.on.NODE → member, with provenance", () => {
  const text = `
heartbeat_interval = 2
timeout = 1
attempts = 7
retry_count = 4
clock_skew = 0.05
control = "/run/global.sock"
exec = "/bin/svc"

[on.alpha]
timeout = 1.5
attempts = 8
control = "uds:///run/alpha.sock"
state_dir = "state"

[resource.web]
timeout = 0.5
failover_mode = "HARD"
pingpong_interval = 0

[resource.web.on.alpha]
priority = 1
remote = ["beta:9000"]
timeout = 0.25

[resource.web.on.beta]
priority = 2
remote = ["alpha"]

[resource.web.member.db]
start = "/bin/db-start"
retry_count = 0
status_timeout = 3

[resource.web.member.ip]
failover_mode = "RESTART_ONLY"
`;
  const cfg = config(text);
  const alpha = resourceNode(cfg, "web", "alpha");
  const beta = resourceNode(cfg, "web", "beta");
  const from = (s: { from: { section: string; line?: number } }) =>
    `${s.from.section}:${s.from.line}`;
  // global
  assertEquals(alpha.heartbeatIntervalMs, 2000);
  assertEquals(from(alpha.settings.heartbeat_interval), "global:2");
  assertEquals(alpha.clockSkew, 0.05);
  // on.NODE over global
  assertEquals(alpha.attempts, 8);
  assertEquals(from(alpha.settings.attempts), "on.alpha:12");
  assertEquals(beta.attempts, 7);
  assertEquals(cfg.global.control.path, "/run/alpha.sock");
  assertEquals(from(cfg.global.settings.control), "on.alpha:13");
  assertEquals(cfg.global.stateDir, "/etc/state");
  assertEquals(cfg.nodes.find((n) => n.node === "beta")!.control.path, "/run/global.sock");
  // resource over on.NODE
  assertEquals(beta.timeoutMs, 500);
  assertEquals(from(beta.settings.timeout), "resource.web:17");
  assertEquals(beta.pingpongIntervalMs, 0);
  // resource.on.NODE over resource
  assertEquals(alpha.timeoutMs, 250);
  assertEquals(alpha.settings.timeout.from, {
    kind: "resource.R.on.N",
    section: "resource.web.on.alpha",
    line: 24,
    col: 1,
  });
  assertEquals(alpha.remote, [{ host: "beta", port: 9000, text: "beta:9000" }]);
  // member over everything, in file order
  assertEquals(alpha.members.map((m) => m.name), ["db", "ip"]);
  const [db, ip] = alpha.members;
  assertEquals(db.retryCount, 0);
  assertEquals(db.settings.retry_count.from.kind, "resource.R.member.M");
  assertEquals(ip.retryCount, 4);
  assertEquals(db.failoverMode, "HARD");
  assertEquals(ip.failoverMode, "RESTART_ONLY");
  assertEquals(db.timeoutMs.status, 3000);
  assertEquals(db.timeoutMs.stop, 5000);
  // A member's own command beats an inherited exec; otherwise exec, with METHOD and RESOURCE.
  assertEquals(db.commands.start, {
    argv: ["/bin/db-start"],
    viaExec: false,
    from: { kind: "resource.R.member.M", section: "resource.web.member.db", line: 31, col: 1 },
  });
  assertEquals(db.commands.stop?.argv, ["/bin/svc", "stop", "web"]);
  assertEquals(ip.commands.start?.argv, ["/bin/svc", "start", "web"]);
});

Deno.test("per-method timeouts: <method>_timeout, else hook_timeout; stop_timeout also bounds stop", () => {
  const text = CLUSTER.replace(
    'exec = "/usr/local/libexec/svc"',
    'exec = "/x"\nhook_timeout = 30\nstart_timeout = 90\nstop_timeout = 2.5\nfence_timeout = 7\n' +
      'panic = ["/sbin/shutdown", "-r", "now"]\nfence = "fence.sh"',
  );
  const s = resourceSettings(config(text), "web");
  assertEquals(s.hookTimeoutMs, 30_000);
  assertEquals(s.methodTimeoutMs, { start: 90_000, stop: 2_500, fence: 7_000 });
  assertEquals([s.hasPanic, s.hasFence], [true, true]);
  const n = resourceNode(config(text), "web");
  assertEquals(n.methodTimeoutMs.status, 30_000);
  assertEquals(n.panic, ["/sbin/shutdown", "-r", "now"]);
  assertEquals(n.fence, ["/etc/fence.sh"]);
});

Deno.test("unknown keys get a suggestion, at the key's line:col", () => {
  assertEquals(
    errors(CLUSTER + `heartbeat_intervall = 3\n  tmeout = 1\ncolour = "red"\n`),
    [
      "15:1: unknown key `heartbeat_intervall` in [resource.web.on.wd] (did you mean `heartbeat_interval`?)",
      "16:3: unknown key `tmeout` in [resource.web.on.wd] (did you mean `timeout`?)",
      "17:1: unknown key `colour` in [resource.web.on.wd]",
    ],
  );
  assertEquals(errors(`hartbeat_interval = 1\n[resorce.x]\n`), [
    "1:1: unknown key `hartbeat_interval` at the top level (did you mean `heartbeat_interval`?)",
    "2:2: unknown key `resorce` at the top level (did you mean `resource`?)",
  ]);
  assertEquals(errors(`[key]\nsecret = "0123456789abcdef"\nalgoritm = "hmac-sha256"\n`), [
    "3:1: unknown key `algoritm` in [key] (did you mean `algorithm`?)",
  ]);
});

Deno.test("keys at a level where they make no sense are refused with where they belong", () => {
  const text = `
priority = 3
remote = ["a"]
pingpong_interval = 5
[on.alpha]
remote = ["a"]
[resource.web]
control = "/x"
priority = 1
[resource.web.on.alpha]
listen = "tcp://0.0.0.0:1"
[resource.web.member.m]
stop_timeout = 3
remote = "none"
on.x.a = 1
[on.beta.resource.x]
`;
  assertEquals(errors(text, { node: "alpha" }).filter((e) => !e.includes("has no")), [
    "2:1: `priority` cannot be set at the top level: it belongs in [on.NODE] or [resource.NAME.on.NODE]",
    "3:1: `remote` cannot be set at the top level: it belongs in [resource.NAME.on.NODE]",
    "4:1: `pingpong_interval` cannot be set at the top level: it belongs in [resource.NAME] or [resource.NAME.on.NODE]",
    "6:1: `remote` cannot be set in [on.alpha]: it belongs in [resource.NAME.on.NODE]",
    "8:1: `control` cannot be set in [resource.web]: it belongs in the top level or [on.NODE]",
    "9:1: `priority` cannot be set in [resource.web]: it belongs in [on.NODE] or [resource.web.on.NODE]",
    "11:1: `listen` cannot be set in [resource.web.on.alpha]: it belongs in the top level or [on.NODE]",
    "13:1: `stop_timeout` cannot be set in [resource.web.member.m]: it belongs in the top level or [on.NODE] or [resource.web] or [resource.web.on.NODE]",
    "14:1: `remote` cannot be set in [resource.web.member.m]: it belongs in [resource.web.on.NODE]",
    "15:1: `on` cannot appear in [resource.web.member.m]: node sections are [on.NODE] and [resource.NAME.on.NODE]",
    "16:10: `resource` cannot appear in [on.beta]: write [resource.NAME] at the top level",
  ]);
});

Deno.test("wrong types and out-of-range values point at the value", () => {
  const text = `
timeout = "5"
heartbeat_interval = 0
complaint_count = 0
complaint_interval = -1
attempts = 1.5
clock_skew = 1
role_on_start = "master"
exec = 5
hook_timeout = true
[resource.web]
failover_mode = "soft"
retry_count = -1
pingpong_interval = -2
panic = []
[resource.web.on.alpha]
priority = -1
remote = "10.0.0.2"
friends = ["10.0.0.3", 7, "x:y"]
`;
  assertEquals(errors(text), [
    '2:11: `timeout` must be a number of seconds (e.g. 5 or 0.25), not a string ("5")',
    "3:22: `heartbeat_interval` must be greater than 0 seconds, not 0",
    "4:19: `complaint_count` must be an integer ≥ 1, not 0",
    "5:22: `complaint_interval` must be greater than 0 seconds, not -1",
    "6:12: `attempts` must be an integer ≥ 1, not 1.5",
    "7:14: `clock_skew` must be a number in [0, 1), e.g. 0.1 for 10 %, not 1",
    '8:17: `role_on_start` must be one of init, primary, secondary, watchdog, not a string ("master")',
    "9:8: `exec` must be a path, not 5",
    "10:16: `hook_timeout` must be a number of seconds (e.g. 5 or 0.25), not a boolean (true)",
    '12:17: `failover_mode` must be one of NONE, SOFT, HARD, RESTART_ONLY, LOG_ONLY, not a string ("soft") (did you mean `SOFT`?)',
    "13:15: `retry_count` must be an integer ≥ 0, not -1",
    "14:21: `pingpong_interval` must be 0 seconds or more, not -2",
    '15:9: `panic` must be a program path or a list ["/path/to/program", "arg", ...], not an array',
    "17:12: `priority` must be an integer ≥ 0, not -1",
    '18:10: `remote` must be a list of addresses (write ["10.0.0.2"]) or "none", not a string ("10.0.0.2")',
    "19:24: `friends` items must be address strings, not 7",
    '19:27: bad address "x:y": the port must be a number',
  ]);
});

Deno.test("bad address syntax in every address key", () => {
  const text = `
exec = "/x"
control = "tcp://127.0.0.1:1"
listen = "udp://0.0.0.0"
metrics_listen = "[::1"
friends = ["::1"]
[resource.web.on.alpha]
remote = ["tcp4://[::1]", "good:1", "a b"]
`;
  assertEquals(errors(text), [
    '3:11: bad control address "tcp://127.0.0.1:1": the control socket is a Unix socket (uds://PATH, unix://PATH or a path), not tcp://',
    '4:10: bad address "udp://0.0.0.0": unsupported scheme udp:// (use tcp://, tcp4:// or host:port)',
    '5:18: bad address "[::1": missing ] after an IPv6 address',
    '6:12: bad address "::1": an IPv6 address must be written in brackets, e.g. [::1]:8458',
    '8:11: bad address "tcp4://[::1]": tcp4:// cannot take an IPv6 address',
    '8:37: bad address "a b": bad host name',
  ]);
});

Deno.test("duplicate priorities among nodes that can be primary; watchdogs do not count", () => {
  const text = `
exec = "/x"
[on.gamma]
priority = 1
[resource.web.on.alpha]
priority = 1
remote = ["b"]
[resource.web.on.beta]
remote = ["a"]
[resource.web.on.gamma]
remote = ["a"]
[resource.web.on.wd]
remote = ["a"]
role_on_start = "watchdog"
`;
  // beta and wd both have the default 100, but wd is a watchdog; gamma inherits 1 from [on.gamma].
  assertEquals(errors(text), [
    "4:1: resource web: nodes alpha and gamma have the same priority 1: give each node that can be primary its own priority (lower wins)",
  ]);
  assertEquals(errors(text.replace('role_on_start = "watchdog"', "")), [
    "4:1: resource web: nodes alpha and gamma have the same priority 1: give each node that can be primary its own priority (lower wins)",
    "12:18: resource web: nodes beta and wd have the same priority 100: give each node that can be primary its own priority (lower wins)",
  ]);
});

Deno.test("a node without remote, an empty remote, a watchdog with no remotes", () => {
  const text = `
exec = "/x"
[resource.web.on.alpha]
priority = 1
[resource.web.on.beta]
priority = 2
remote = []
[resource.web.on.wd]
role_on_start = "watchdog"
remote = "none"
[resource.solo.on.alpha]
remote = "none"
`;
  assertEquals(errors(text), [
    '3:18: resource web on node alpha has no `remote`: list the peers\' addresses, or write remote = "none"',
    '7:1: `remote` is empty: list the peers\' addresses, or write "none"',
    '10:1: node wd is a watchdog of resource web (role_on_start = "watchdog") but lists no remotes: it would have nothing to watch',
  ]);
  const warnings = load(text).warnings.map((w) => `${w.line}:${w.col}: ${w.message}`);
  assertEquals(warnings.filter((w) => w.includes("solo")), [
    "11:11: resource solo: no watchdog is configured: there will be no automatic failover",
    "11:11: resource solo: no panic command: safety assumes every stop finishes within stop_timeout",
    "11:11: resource solo: only alpha can be primary: there is no node to fail over to",
  ]);
});

Deno.test("members need start, stop and status (or exec) on nodes that can be primary", () => {
  const text = `
[resource.web.on.alpha]
priority = 1
remote = "none"
[resource.web.on.wd]
role_on_start = "watchdog"
remote = ["a"]
[resource.db.on.alpha]
remote = "none"
start = "/s"
[resource.app.member.m1]
start = "/s"
stop = "/t"
[resource.app.member.m2]
exec = "/e"
[resource.app.on.alpha]
remote = "none"
`;
  assertEquals(errors(text), [
    "2:18: resource web has no `exec` for node alpha: set `exec`, or `start`, `stop` and `status`",
    "8:17: resource db has no `stop` command for node alpha: set `stop` or `exec`",
    "8:17: resource db has no `status` command for node alpha: set `status` or `exec`",
    "11:22: member m1 of resource app has no `status` command (node alpha): set `status` or `exec`",
  ]);
});

Deno.test("[key]: secret or a readable secret_file, never both, hmac-sha256 (SHA256 in the original's words)", () => {
  const files: Record<string, string> = { "/etc/hastmon/key": "0123456789abcdef0123\n" };
  const readKeyFile = (p: string) =>
    files[p] === undefined
      ? { error: "no such file" }
      : { bytes: new TextEncoder().encode(files[p]), mode: 0o100600 };
  const ok = config(CLUSTER + `[key]\nsecret_file = "hastmon/key"\n`, { readKeyFile });
  assertEquals(ok.key, {
    algorithm: "hmac-sha256",
    secret: new TextEncoder().encode("0123456789abcdef0123"),
    secretFile: "/etc/hastmon/key",
    pos: { line: 15, col: 1 },
  });
  const bad = (key: string) => errors(CLUSTER + `[key]\n${key}\n`, { readKeyFile });
  assertEquals(bad(`secret = "0123456789abcdef"\nsecret_file = "/etc/hastmon/key"`), [
    "17:1: `secret` and `secret_file` are mutually exclusive: keep one",
  ]);
  assertEquals(bad(`secret_file = "/nonexistent"`), [
    '16:15: cannot read secret_file "/nonexistent": no such file',
  ]);
  // The original's spelling is taken for what it means here.
  for (const spelling of ["SHA256", "sha256", "HMAC-SHA256"]) {
    const k = config(CLUSTER + `[key]\nalgorithm = "${spelling}"\nsecret = "0123456789abcdef"\n`);
    assertEquals(k.key?.algorithm, "hmac-sha256", spelling);
  }
  assertEquals(bad(`algorithm = "MD5"\nsecret = "0123456789abcdef"`), [
    '16:13: unknown key algorithm "MD5": write "hmac-sha256" (the original\'s "SHA256" means the same)',
  ]);
  assertEquals(bad(`algorithm = 256\nsecret = "0123456789abcdef"`), [
    '16:13: `algorithm` must be a string such as "hmac-sha256", not 256',
  ]);
  assertEquals(bad(`algorithm = "hmac-sha256"`), ["15:1: [key] needs `secret` or `secret_file`"]);
  assertEquals(bad(`secret = ""`), [
    '16:10: `secret` must be a non-empty string, not a string ("")',
  ]);
  const short = load(CLUSTER + `[key]\nsecret = "abc"\n`);
  assertEquals(short.errors, []);
  assertEquals(
    short.warnings.filter((w) => w.message.includes("secret")).map((w) =>
      `${w.line}:${w.col}: ${w.message}`
    ),
    [
      "15:1: the key's secret is short (3 bytes): use at least 16 random bytes " +
      "(head -c 32 /dev/urandom > FILE; chmod 600 FILE)",
    ],
  );
});

Deno.test("a resource without a section for this node is an error for that resource only", () => {
  const text = CLUSTER + `
[resource.other.on.beta]
priority = 1
remote = "none"
`;
  const r = load(text, { node: "alpha", nodeSource: "hostname" });
  assertEquals(r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`), [
    "16:11: resource other has no [resource.other.on.alpha] section for this node (alpha, from the hostname); its nodes are beta",
  ]);
  assertEquals([r.errors[0].resource, r.errors[0].code], ["other", "no_section_for_node"]);
  assertEquals(usableResources(r).map((x) => x.name), ["web"]);
  assertEquals(r.config!.resources[1].self, null);
  // An error outside any resource makes nothing usable.
  assertEquals(usableResources(load("bogus = 1\n" + text)).map((x) => x.name), []);
});

Deno.test("names: reserved `all`, characters, and a table where a value belongs", () => {
  assertEquals(errors(`[resource.all.on.alpha]\nremote = "none"\nexec = "/x"\n`), [
    '1:11: "all" cannot name a resource: `hastmon ctl role ROLE all` means every resource',
  ]);
  assertEquals(errors(`[on."a b"]\n[resource.web]\non = 3\n`), [
    "1:5: bad node name \"a b\": use up to 255 letters, digits, '.', '-' and '_', starting with a letter or digit",
    "3:6: `resource.web.on` must be a table ([resource.web.on.NODE]), not 3",
  ]);
  assertEquals(errors(`[resource.web]\nexec = "/x"\n`), [
    "1:11: resource web has no nodes: add [resource.web.on.NODE] sections",
  ]);
});

Deno.test("syntax errors keep smol-toml's line and column", () => {
  const r = load(`a = 1\n[b]\nc = "x\n`);
  assertEquals(r.config, null);
  assertEquals(r.errors.map((e) => formatDiagnostic(e)), [
    "/etc/hastmon.toml:3:7: invalid TOML: control characters are not allowed in strings",
  ]);
  assertEquals(errors(`a = 1\na = 2\n`), [
    "2:1: invalid TOML: `a` is set twice at the top level (first at line 1): keep one",
  ]);
});

Deno.test("a section or key written twice is named, with where it first appeared", () => {
  assertEquals(errors(`[on.alpha]\nlisten = "x"\n[on.beta]\n\n[ on.alpha ]\npriority = 3\n`), [
    "5:2: invalid TOML: [on.alpha] is written twice (first at line 1): put its keys in one section",
  ]);
  assertEquals(errors(`[on.a]\ntimeout = 1\npriority = 2\ntimeout = 3\n`), [
    "4:1: invalid TOML: `timeout` is set twice in [on.a] (first at line 2): keep one",
  ]);
  assertEquals(
    errors(`[resource.web.on.a]\nremote = ["x"]\n[resource.web]\non.a.remote = ["y"]\n`),
    [
      "4:1: invalid TOML: `on.a.remote` is already defined, by a section or a dotted key of the " +
      "same name",
    ],
  );
});

Deno.test("timing rule: the defaults pass, with the timeline computed per pair", () => {
  const cfg = config(CLUSTER);
  const web = cfg.resources[0];
  assertEquals(
    web.timelines.map((t) => [t.primary, t.secondary, t.watchdog?.node]),
    [["alpha", "beta", "wd"], ["beta", "alpha", "wd"]],
  );
  const t = web.timelines[0].timeline;
  assertEquals(t.leaseMs, 30_000);
  assertEquals(t.errors, []);
  assert(
    t.takeoverWaitMs > t.selfFenceDeadlineMs,
    "a secondary waits longer than the primary's self-fence",
  );
});

Deno.test("timing rule: complaint_count 3 × heartbeat_interval 30 ≥ complaint_interval 60 is refused", () => {
  const text = CLUSTER.replace(
    'exec = "/usr/local/libexec/svc"',
    'exec = "/x"\ncomplaint_count = 3\nheartbeat_interval = 30\ncomplaint_interval = 60',
  );
  const r = load(text);
  const msg =
    "more than complaint_count (3) complaints can never arrive within complaint_interval " +
    "(60s): the watchdog complains every 30s, so 4 complaints span 90s";
  assertEquals(r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`), [
    `7:11: resource web: unsafe timing (primary alpha, secondary beta): ${msg}`,
    `7:11: resource web: unsafe timing (primary beta, secondary alpha): ${msg}`,
  ]);
  assertEquals(r.config!.resources[0].timelines[0].timeline.leaseMs, 90_000);
  // A lease not longer than the timeout is refused too.
  const lease = load(
    CLUSTER.replace('exec = "', 'complaint_count = 1\nheartbeat_interval = 5\nexec = "'),
  );
  assert(
    lease.errors.some((e) => e.message.includes("is not longer than timeout (5s)")),
    "lease ≤ timeout",
  );
  // An invalid timing key does not also produce timing errors.
  assertEquals(errors(text.replace("complaint_interval = 60", "complaint_interval = 0")), [
    "5:22: `complaint_interval` must be greater than 0 seconds, not 0",
  ]);
});

Deno.test("a file without resources is valid but says so", () => {
  const r = load(`[on.alpha]\npriority = 1\n`);
  assertEquals(r.errors, []);
  assertEquals(r.warnings.map((w) => `${w.line}:${w.col}: ${w.message}`), [
    "1:1: the file configures no resources",
  ]);
});
