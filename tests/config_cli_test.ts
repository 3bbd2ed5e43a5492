/**
 * `hastmon config …` as a user runs it: a subprocess of main.ts with NO_COLOR=1.
 * Help texts and the summaries are compared with committed snapshots under
 * tests/data/config/snapshots/; run with UPDATE_SNAPSHOTS=1 to rewrite them
 * (then read the diff before committing).
 */

import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { assertSnapshot as snapshotIn, hastmon } from "./cli.ts";
import { generateNodeKey } from "../src/wire/node_keys.ts";

const SNAPSHOTS = new URL("data/config/snapshots/", import.meta.url);
const DATA = "tests/data/config";
const assertSnapshot = (name: string, actual: string) => snapshotIn(SNAPSHOTS, name, actual);

Deno.test("help of hastmon, hastmon config and each config command", async () => {
  const cases: [string[], string][] = [
    [["--help"], "help-hastmon.txt"],
    [["config", "--help"], "help-config.txt"],
    [["config", "check", "--help"], "help-config-check.txt"],
    [["config", "show", "--help"], "help-config-show.txt"],
    [["config", "convert", "--help"], "help-config-convert.txt"],
  ];
  for (const [args, snapshot] of cases) {
    const r = await hastmon(args);
    assertEquals([r.code, r.err], [0, ""], args.join(" "));
    await assertSnapshot(snapshot, r.out);
  }
});

Deno.test("hastmon help [COMMAND] prints what --help prints, exit 0; a group alone is a usage error", async () => {
  for (const [help, flag] of [[["help"], ["--help"]], [["help", "config"], ["config", "--help"]]]) {
    const [a, b] = [await hastmon(help), await hastmon(flag)];
    assertEquals([a.code, a.err, a.out], [0, "", b.out], help.join(" "));
  }
  const ctl = await hastmon(["help", "ctl"]);
  assertEquals([ctl.code, ctl.err], [0, ""]);
  assertStringIncludes(ctl.out, "Usage: hastmon ctl");
  const alone = await hastmon(["config"]);
  assertEquals(alone.code, 64, alone.err);
});

Deno.test("config check: a valid file prints its summary and timelines, exit 0", async () => {
  const file = `${DATA}/cluster.toml`;
  // The file's programs are another machine's: no preflight here (tested below).
  const r = await hastmon(["config", "check", "-c", file, "--node", "alpha", "--no-preflight"]);
  assertEquals(r.code, 0);
  // The file holds its secret inline: a warning when others may read it (as a checkout leaves it).
  const open = ((await Deno.stat(file)).mode! & 0o004) !== 0;
  assertEquals(
    r.err,
    open
      ? `${file}:9:1: warning: ${file} is readable by others and holds the shared secret inline: ` +
        `move it to a secret_file (chmod 600), or chmod o-r the configuration\n`
      : "",
  );
  await assertSnapshot("check-cluster-alpha.txt", r.out);
});

Deno.test("config check: what the node-key mode and the no-key mode prove, as the summary says", async () => {
  const shared = await Deno.readTextFile(`${DATA}/cluster.toml`);
  const noKey = shared.replace('[key]\nsecret = "correct horse battery staple"\n', "");
  assert(noKey !== shared && !noKey.includes("[key]"));
  const dir = await Deno.makeTempDir({ prefix: "hastmon-modes-" });
  try {
    await Deno.writeTextFile(`${dir}/nokey.toml`, noKey);
    // Node keys: every node's public key, and this node's private key file (0600).
    let nodeKeys = noKey;
    for (const node of ["alpha", "beta", "wd"]) {
      const { file, publicKey } = await generateNodeKey();
      const own = node === "alpha" ? `private_key_file = "alpha.key"\n` : "";
      if (node === "alpha") await Deno.writeFile(`${dir}/alpha.key`, file, { mode: 0o600 });
      nodeKeys = nodeKeys.replace(
        `[on.${node}]\n`,
        `[on.${node}]\npublic_key = "${publicKey}"\n${own}`,
      );
    }
    await Deno.writeTextFile(`${dir}/nodekeys.toml`, nodeKeys);
    for (
      const [file, snapshot] of [["nokey", "check-mode-nokey.txt"], [
        "nodekeys",
        "check-mode-nodekeys.txt",
      ]]
    ) {
      const r = await hastmon([
        "config",
        "check",
        "-c",
        `${dir}/${file}.toml`,
        "--node",
        "alpha",
        "--no-preflight",
      ]);
      assertEquals([r.code, r.err], [0, ""], file);
      await assertSnapshot(snapshot, r.out.replaceAll(dir, "DIR"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The warning for a node whose name cannot be bound to an address. */
function noAddress(node: string): string {
  return `no address is known for node ${node} (its listen is a wildcard and the remote lists ` +
    `do not tell it apart): set addresses = ["HOST"] in [on.${node}], or give it node keys; ` +
    `until then connections that claim to be ${node} are refused`;
}

Deno.test("config check: every error as file:line:col, exit 78", async () => {
  const r = await hastmon([
    "config",
    "check",
    "-c",
    `${DATA}/errors.toml`,
    "--node",
    "alpha",
    "--no-preflight",
  ]);
  assertEquals(r.code, 78);
  assertEquals(r.out, "");
  const f = `${DATA}/errors.toml`;
  assertEquals(r.err.split("\n"), [
    `${f}:2:1: unknown key \`hearbeat_interval\` at the top level (did you mean \`heartbeat_interval\`?)`,
    `${f}:3:11: \`timeout\` must be a number of seconds (e.g. 5 or 0.25), not a string ("5")`,
    `${f}:4:19: \`complaint_count\` must be an integer ≥ 1, not 0`,
    `${f}:5:14: \`clock_skew\` must be a number in [0, 1), e.g. 0.1 for 10 %, not 1.5`,
    `${f}:6:11: bad control address "tcp://127.0.0.1:9000": the control socket is a Unix socket ` +
    `(uds://PATH, unix://PATH or a path), not tcp://`,
    `${f}:10:1: \`secret\` and \`secret_file\` are mutually exclusive: keep one`,
    `${f}:14:1: \`remote\` cannot be set in [resource.web]: it belongs in [resource.web.on.NODE]`,
    `${f}:15:17: \`failover_mode\` must be one of NONE, SOFT, HARD, RESTART_ONLY, LOG_ONLY, ` +
    `not a string ("soft") (did you mean \`SOFT\`?)`,
    `${f}:18:11: bad address "10.0.0.2:99999": the port must be in 1..65535`,
    `${f}:20:18: resource web on node beta has no \`remote\`: list the peers' addresses, or write ` +
    `remote = "none"`,
    `${f}:21:1: resource web: nodes alpha and beta have the same priority 100: give each node that ` +
    `can be primary its own priority (lower wins)`,
    `${f}:25:1: node wd is a watchdog of resource web (role_on_start = "watchdog") but lists no ` +
    `remotes: it would have nothing to watch`,
    `${f}:27:11: resource other has no [resource.other.on.alpha] section for this node (alpha, ` +
    `from --node); its nodes are beta`,
    ...["beta:20", "wd:23"].map((at) => {
      const [node, line] = at.split(":");
      return `${f}:${line}:18: warning: ${noAddress(node)}`;
    }),
    "13 errors",
    "",
  ]);
});

Deno.test("config check: an unsafe timing is refused with its timeline, exit 78", async () => {
  const r = await hastmon([
    "config",
    "check",
    "-c",
    `${DATA}/unsafe.toml`,
    "--node",
    "beta",
    "--no-preflight",
  ]);
  assertEquals(r.code, 78);
  await assertSnapshot("check-unsafe.txt", r.out);
  const f = `${DATA}/unsafe.toml`;
  const why =
    "more than complaint_count (3) complaints can never arrive within complaint_interval " +
    "(60s): the watchdog complains every 30s, so 4 complaints span 90s";
  assertEquals(r.err.split("\n"), [
    `${f}:8:11: resource web: unsafe timing (primary alpha, secondary beta): ${why}`,
    `${f}:8:11: resource web: unsafe timing (primary beta, secondary alpha): ${why}`,
    `${f}:8:11: warning: resource web: no panic command: safety assumes every stop finishes ` +
    `within stop_timeout`,
    `${f}:16:18: warning: ${noAddress("wd")}`,
    "2 errors",
    "",
  ]);
});

Deno.test("config check: node from HASTMON_NODE, file from HASTMON_CONFIG", async () => {
  const r = await hastmon(["config", "check", "--no-preflight"], {
    HASTMON_NODE: "beta",
    HASTMON_CONFIG: `${DATA}/cluster.toml`,
  });
  assertEquals(r.code, 0, r.err);
  assertStringIncludes(r.out, `${DATA}/cluster.toml: valid for node beta (from HASTMON_NODE)\n`);
  assertStringIncludes(r.out, "beta (priority 20, this node)");
  // --node wins over HASTMON_NODE.
  const flag = await hastmon(["config", "check", "--node", "alpha", "--no-preflight"], {
    HASTMON_NODE: "beta",
    HASTMON_CONFIG: `${DATA}/cluster.toml`,
  });
  assertStringIncludes(flag.out, "valid for node alpha (from --node)");
});

Deno.test("config check: preflight names each missing or non-executable program at its key, exit 78", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-preflight-" });
  try {
    await Deno.writeTextFile(`${dir}/svc.sh`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/up.sh`, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
    await Deno.mkdir(`${dir}/down.d`);
    const cfg = `${dir}/h.toml`;
    await Deno.writeTextFile(
      cfg,
      [
        `exec = "svc.sh"`,
        `panic = ["/nonexistent/reboot", "now"]`,
        `[resource.web.on.alpha]`,
        `remote = "none"`,
        `[resource.db.member.vol]`,
        `start = "up.sh"`,
        `stop = "down.d"`,
        `status = "svc.sh"`,
        `[resource.db.on.alpha]`,
        `remote = "none"`,
        `fence = "missing-fence.sh"`,
        "",
      ].join("\n"),
    );
    const r = await hastmon(["config", "check", "-c", cfg, "--node", "alpha"]);
    assertEquals(r.code, 78, r.err);
    assertEquals(r.err.split("\n"), [
      `${cfg}:2:1: \`panic\` (resources web, db): /nonexistent/reboot does not exist on this node`,
      `${cfg}:6:1: \`start\` (resource db): ${dir}/up.sh is not executable (mode 0644): chmod +x it`,
      `${cfg}:7:1: \`stop\` (resource db): ${dir}/down.d is a directory, not a program`,
      `${cfg}:11:1: \`fence\` (resource db): ${dir}/missing-fence.sh does not exist on this node`,
      `${cfg}:3:11: warning: resource web: no watchdog is configured: there will be no automatic failover`,
      `${cfg}:3:11: warning: resource web: only alpha can be primary: there is no node to fail over to`,
      `${cfg}:5:11: warning: resource db: no watchdog is configured: there will be no automatic failover`,
      `${cfg}:5:11: warning: resource db: only alpha can be primary: there is no node to fail over to`,
      "4 errors",
      "",
    ]);
    // Fixed, the same check passes; --no-preflight skips the look at the programs.
    const skipped = await hastmon([
      "config",
      "check",
      "-c",
      cfg,
      "--node",
      "alpha",
      "--no-preflight",
    ]);
    assertEquals(skipped.code, 0, skipped.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config check: a member's validate runs on this node and refuses with what it said, exit 78", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-validate-" });
  try {
    await Deno.writeTextFile(`${dir}/svc.sh`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    // The check sees the environment a hook sees, and says why it fails on its last line.
    await Deno.writeTextFile(
      `${dir}/check.sh`,
      '#!/bin/sh\n[ "$HASTMON_EVENT" = validate ] || exit 9\n' +
        'echo "checking $HASTMON_GROUP/$HASTMON_MEMBER"\n' +
        '[ -e "$(dirname "$0")/mounted" ] || { echo "/data is not mounted" >&2; exit 1; }\n',
      { mode: 0o755 },
    );
    const cfg = `${dir}/h.toml`;
    await Deno.writeTextFile(
      cfg,
      [
        `exec = "svc.sh"`,
        `[resource.db.member.pg]`,
        `validate = "check.sh"`,
        `[resource.db.on.alpha]`,
        `remote = "none"`,
        "",
      ].join("\n"),
    );
    const r = await hastmon(["config", "check", "-c", cfg, "--node", "alpha"]);
    assertEquals(r.code, 78, r.err);
    assertEquals(
      r.err.split("\n")[0],
      `${cfg}:3:1: validate of member pg (resource db) failed: exit 1: /data is not mounted`,
    );
    await Deno.writeTextFile(`${dir}/mounted`, "");
    const ok = await hastmon(["config", "check", "-c", cfg, "--node", "alpha"]);
    assertEquals(ok.code, 0, ok.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config check: without a watchdog the timing table never says ok beside never", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-nowatchdog-" });
  try {
    const cfg = `${dir}/h.toml`;
    await Deno.writeTextFile(
      cfg,
      `heartbeat_interval = 2\nexec = "/bin/true"\n[resource.web.on.a]\nremote = ["10.0.0.2"]\n` +
        `priority = 1\n[resource.web.on.b]\nremote = ["10.0.0.1"]\npriority = 2\n`,
    );
    const r = await hastmon(["config", "check", "-c", cfg, "--node", "a"]);
    assertEquals(r.code, 0, r.err);
    const rows = r.out.split("\n").filter((l) => /^\s+[ab] → [ab] /.test(l));
    assertEquals(rows.length, 2, r.out);
    for (const row of rows) {
      assert(row.includes("never"), row);
      assert(!/\bok$/.test(row), `"ok" beside "never": ${row}`);
      assert(row.endsWith("no automatic failover (no watchdog)"), row);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: a missing file exits 66, bad usage exits 64", async () => {
  const missing = await hastmon(["config", "check", "-c", `${DATA}/nonexistent.toml`]);
  assertEquals([missing.code, missing.out, missing.err], [
    66,
    "",
    `hastmon: cannot read ${DATA}/nonexistent.toml: no such file\n`,
  ]);
  const fromEnv = await hastmon(["config", "show"], { HASTMON_CONFIG: "/nonexistent/h.toml" });
  assertEquals([fromEnv.code, fromEnv.err], [
    66,
    "hastmon: cannot read /nonexistent/h.toml: no such file\n",
  ]);
  const legacy = await hastmon(["config", "convert", `${DATA}/nonexistent.conf`]);
  assertEquals(legacy.code, 66);
  for (
    const args of [
      ["config", "check", "--bogus"],
      ["config", "convert"],
      ["config", "convert", "a", "b"],
      ["config", "show", "-c"],
    ]
  ) {
    const r = await hastmon(args);
    assertEquals(r.code, 64, args.join(" "));
    assertStringIncludes(r.err, "error: ");
  }
});

Deno.test("config show: effective settings with provenance, as text and JSON", async () => {
  const args = ["config", "show", "-c", `${DATA}/cluster.toml`, "--node", "alpha"];
  const text = await hastmon(args);
  assertEquals([text.code, text.err], [0, ""]);
  await assertSnapshot("show-cluster-alpha.txt", text.out);
  const json = await hastmon([...args, "--json"]);
  assertEquals(json.code, 0);
  const doc = JSON.parse(json.out);
  assertEquals(doc.version, 1);
  assertEquals(doc.node, "alpha");
  assertEquals(doc.settings.listen, {
    value: "tcp://10.0.0.1:8458",
    from: { kind: "on.N", section: "on.alpha", line: 13, col: 1 },
  });
  const db = doc.resources[0];
  assertEquals(db.settings.heartbeat_interval.value, 2);
  assertEquals(db.settings.priority.from.section, "on.alpha");
  assertEquals(db.members.map((m: { name: string }) => m.name), ["volume", "postgres"]);
  assertEquals(db.members[1].settings.retry_count.value, 3);
  assertEquals(db.members[1].settings.failover_mode.from.section, "resource.db");
  assert(!json.out.includes("correct horse"), "the secret is never shown");
  // A file with errors still shows what it can, and exits 78.
  const bad = await hastmon(["config", "show", "-c", `${DATA}/errors.toml`, "--node", "alpha"]);
  assertEquals(bad.code, 78);
  assertStringIncludes(bad.out, "resource other: not configured for this node");
});

Deno.test("config convert: TOML on stdout that check accepts; syntax errors exit 78", async () => {
  const r = await hastmon(["config", "convert", `${DATA}/legacy/watchdog-cluster.conf`]);
  assertEquals(r.code, 0);
  assertEquals(r.err, "hastmon: 2 differences are marked with NOTE comments\n");
  await assertSnapshot("convert-watchdog-cluster.toml", r.out);
  const converted = await Deno.makeTempFile({ suffix: ".toml" });
  try {
    await Deno.writeTextFile(converted, r.out);
    for (const node of ["hasta", "hastb", "hastc"]) {
      const check = await hastmon([
        "config",
        "check",
        "-c",
        converted,
        "--node",
        node,
        "--no-preflight",
      ]);
      assertEquals(check.code, 0, check.err);
    }
  } finally {
    await Deno.remove(converted);
  }
  const bad = await hastmon(["config", "convert", `${DATA}/legacy/bad-numeric-secret.conf`]);
  assertEquals([bad.code, bad.out, bad.err], [
    78,
    "",
    `${DATA}/legacy/bad-numeric-secret.conf:3:9: syntax error: unexpected number 12345, expected ` +
    "a value after secret\n",
  ]);
});
