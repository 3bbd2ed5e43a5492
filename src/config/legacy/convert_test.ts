/**
 * The converter is checked against an independent reading of the original's
 * semantics: for every sample file and every host it names, the converted TOML,
 * parsed back with our parser, must give each resource the settings that the
 * original would have run with on that host.
 */

import { assert, assertEquals, assertStringIncludes } from "../../../tests/assert.ts";
import { parsePeerAddress } from "../address.ts";
import { parseControlAddress } from "../address.ts";
import { parseConfig } from "../parse.ts";
import { resourceNode } from "../settings.ts";
import { convertLegacy } from "./convert.ts";
import { parseLegacy } from "./parser.ts";
import { legacyClaims, legacyEffective } from "./semantics.ts";

const DATA = new URL("../../../tests/data/config/legacy/", import.meta.url);

/** Sample files and the errors our check must still report on their conversion. */
const SAMPLES: Record<string, string[]> = {
  "two-nodes.conf": [],
  "watchdog-cluster.conf": [],
  "quirks.conf": [],
  "runtime-roles.conf": [],
  "equal-priorities.conf": [
    "resource web: nodes alpha and beta have the same priority 100: give each node that can be " +
    "primary its own priority (lower wins)",
  ],
};

function hostsOf(text: string): string[] {
  const cfg = parseLegacy(text);
  const names = [...cfg.nodes, ...cfg.resources.flatMap((r) => r.nodes)].map((b) => b.name);
  return [...new Set(names)];
}

function hostPort(text: string): string {
  const r = parsePeerAddress(text, { allowPortZero: true });
  if (!r.ok) throw new Error(r.error);
  return `${r.value.host}:${r.value.port}`;
}

for (const [sample, expectedErrors] of Object.entries(SAMPLES)) {
  Deno.test(`convert ${sample}: the converted file runs as the original did on every host`, async () => {
    const text = await Deno.readTextFile(new URL(sample, DATA));
    const { toml, watchdogs } = convertLegacy(text, sample);
    const legacy = parseLegacy(text);
    const hosts = hostsOf(text);
    assert(hosts.length >= 2, "a sample names at least two hosts");
    let compared = 0;
    for (const host of hosts) {
      const want = legacyEffective(legacy, host);
      const got = parseConfig(toml, "converted.toml", {
        node: host,
        readKeyFile: () => ({ error: "no such file" }),
      });
      // A resource without a block for this host: the original refused the file, we refuse
      // that resource; every other error must be one the sample expects.
      const missing = got.errors.filter((e) => e.code === "no_section_for_node");
      assertEquals(
        missing.map((e) => e.resource),
        want.errors.filter((e) => e.endsWith("no on block for this host")).map((e) =>
          e.split(":")[0].replace("resource ", "")
        ),
        `${sample} on ${host}: resources without a block`,
      );
      assertEquals(
        got.errors.filter((e) => !missing.includes(e)).map((e) => e.message),
        expectedErrors,
        `${sample} on ${host}`,
      );
      const cfg = got.config!;
      const control = parseControlAddress(want.control);
      assertEquals(
        cfg.global.control.path,
        control.ok ? control.value.path : "?",
        `control on ${host}`,
      );
      assertEquals(hostPort(cfg.global.listen.text), hostPort(want.listen), `listen on ${host}`);
      for (const r of want.resources) {
        if (
          !legacy.resources.find((x) => x.name === r.name)!.nodes.some((n) =>
            legacyClaims(n.name, host)
          )
        ) {
          continue; // the original refuses a resource without a block for this host; so do we
        }
        const n = resourceNode(cfg, r.name, host);
        const where = `${sample}: resource ${r.name} on ${host}`;
        assertEquals(
          {
            timeout: n.timeoutMs / 1000,
            attempts: n.attempts,
            heartbeatInterval: n.heartbeatIntervalMs / 1000,
            complaintCount: n.complaintCount,
            complaintInterval: n.complaintIntervalMs / 1000,
            roleOnStart: n.roleOnStart,
            priority: n.priority,
            exec: n.exec,
            remote: n.remote === "none" ? ["none"] : (n.remote ?? []).map((a) => a.text),
            friends: n.friends.map((a) => a.text).sort(),
          },
          {
            timeout: r.timeout,
            attempts: r.attempts,
            heartbeatInterval: r.heartbeatInterval,
            complaintCount: r.complaintCount,
            complaintInterval: r.complaintInterval,
            // The one deliberate difference: a watchdog the original was told of at run time.
            roleOnStart: watchdogs[r.name] === host ? "watchdog" : r.roleOnStart,
            priority: r.priority,
            exec: r.exec,
            remote: r.remote.filter((a) => a !== "none" || r.remote.length === 1),
            // The original accepted its global friends plus the resource's own.
            friends: [...new Set([...want.friends, ...r.friends])].sort(),
          },
          where,
        );
        compared++;
      }
      if (want.key?.algorithm && want.key.secret) {
        assertEquals(cfg.key?.secret, new TextEncoder().encode(want.key.secret));
      }
    }
    assert(compared >= hosts.length, `${sample}: compared ${compared} resource views`);
  });
}

Deno.test("convert quirks.conf: every behaviour difference is marked with a NOTE", async () => {
  const { toml, notes } = convertLegacy(
    await Deno.readTextFile(new URL("quirks.conf", DATA)),
    "quirks.conf",
  );
  for (
    const part of [
      'the original silently skipped the characters `"` `;` (first at line 2, column 9)',
      "the original parsed a global attempts (line 4) and never used it",
      "# attempts = 9",
      "so this global exec (line 3)\n#   never applied",
      '# exec = "/usr/local/etc/hastmon/global.sh"',
      "this list\n#   includes those at lines 12, 17",
      "resource db had its own key (line 18)",
      "the original ignored heartbeat_interval in a top-level on block (line 10)",
      "the original applied every `on node1` block here (lines 8, 54); merged",
      "overridden in the original by the resource's later heartbeat_interval at line 36",
      "# heartbeat_interval = 2",
      "the original also applied this block on host node1.<domain> (prefix match)",
      'remote = ["tcp4://192.168.1.2:8458", "tcp://192.168.1.3"]',
      'remote = "none"',
      "counted from 1\n# (the original's own error messages counted lines from 0)",
      "attempts 5 (its man page said 3)",
    ]
  ) {
    assertStringIncludes(toml, part);
  }
  assertEquals(notes, 16);
});

Deno.test("convert: which node is each resource's watchdog, taken or not, is said in a NOTE", async () => {
  const { toml, watchdogs } = convertLegacy(
    await Deno.readTextFile(new URL("runtime-roles.conf", DATA)),
    "runtime-roles.conf",
  );
  // web: watch lists every other node, and is taken.
  assertEquals(watchdogs, { web: "watch" });
  const web = toml.slice(toml.indexOf("[resource.web.on.watch]"), toml.indexOf("[resource.db]"));
  assertStringIncludes(web, "watch lists every other node of\n#   resource web in remote");
  assertStringIncludes(web, 'role_on_start = "watchdog"');
  // db: two candidates, none taken, and the NOTE says so.
  const db = toml.slice(toml.indexOf("[resource.db]"), toml.indexOf("[resource.pair]"));
  assertStringIncludes(
    db,
    "cannot\n#   be told from this file: alpha and watch each list every other node",
  );
  assertEquals(db.split("\n").includes('role_on_start = "watchdog"'), false);
  // pair: two nodes, no watchdog possible.
  assertStringIncludes(toml, "no node of resource pair starts as watchdog");
  // A file that names its watchdogs gets no such NOTE.
  const named = convertLegacy(
    await Deno.readTextFile(new URL("watchdog-cluster.conf", DATA)),
    "watchdog-cluster.conf",
  );
  assertEquals(named.watchdogs, {});
  assertEquals(named.toml.includes("run time"), false);
});

Deno.test("convert: a key with an algorithm becomes [key]; zero values and priorities are noted", () => {
  const { toml } = convertLegacy(
    "heartbeat_interval 0\nkey { algorithm SHA1 secret s3cretS3cretS3cret }\n" +
      "resource r { exec /x on a { remote b } on b { remote a } }\n",
    "h.conf",
  );
  assertStringIncludes(toml, '[key]\nalgorithm = "hmac-sha256"\nsecret = "s3cretS3cretS3cret"');
  assertStringIncludes(toml, "with SHA1 (no challenge)");
  assertStringIncludes(toml, "heartbeat_interval 0 (line 1) was accepted by the original");
  assertStringIncludes(toml, "a and b both have priority 100");
});
