/**
 * Who may connect: the listener's address rule is the same in every mode (no
 * key, shared key, node keys): `remote` and `friends` hosts and the nodes'
 * addresses get in, any other address is refused before a byte is read. What
 * binds a node's name differs: its address without node keys, its key with.
 */
import { assertEquals } from "../../tests/assert.ts";
import { parseConfig } from "../config/parse.ts";
import type { EffectiveConfig } from "../config/types.ts";
import { generateNodeKey } from "../wire/node_keys.ts";
import { PeerAccess } from "./peer_access.ts";

const RESOURCES = `
exec = "/usr/local/libexec/svc"

[resource.web.on.alpha]
priority = 1
remote = ["10.0.0.2"]
friends = ["10.0.0.9"]

[resource.web.on.beta]
priority = 2
remote = ["10.0.0.1"]

[resource.web.on.wd]
role_on_start = "watchdog"
remote = ["10.0.0.1", "10.0.0.2"]
`;

const from = (hostname: string): Deno.NetAddr => ({ transport: "tcp", hostname, port: 40000 });

async function configs(): Promise<Record<string, EffectiveConfig>> {
  const keys = { alpha: await generateNodeKey(), beta: await generateNodeKey() };
  const wd = await generateNodeKey();
  // wd's listen is a wildcard and the remote lists cannot tell it apart: it says where it is.
  const parse = (extra: string, wdKey = "") => {
    const wd = `[on.wd]\naddresses = ["10.0.0.3"]\n${wdKey}`;
    const r = parseConfig(RESOURCES + wd + extra, "/etc/hastmon.toml", {
      node: "alpha",
      readKeyFile: (p) =>
        p === "/etc/hastmon/alpha.key"
          ? { bytes: keys.alpha.file, mode: 0o100600 }
          : { error: "no such file" },
    });
    assertEquals(r.errors, []);
    return r.config!;
  };
  return {
    none: parse(""),
    "hmac-sha256": parse(`[key]\nsecret = "0123456789abcdef0123"\n`),
    ed25519: parse(
      `[on.alpha]\npublic_key = "${keys.alpha.publicKey}"\n` +
        `private_key_file = "/etc/hastmon/alpha.key"\n` +
        `[on.beta]\npublic_key = "${keys.beta.publicKey}"\n`,
      `public_key = "${wd.publicKey}"\n`,
    ),
  };
}

Deno.test("peer access: in every mode, remote, friends and node addresses get in, and nothing else", async () => {
  for (const [mode, cfg] of Object.entries(await configs())) {
    assertEquals(cfg.peers.mode, mode);
    const access = await PeerAccess.create(cfg);
    const allowed = (h: string) => access.allowed(from(h));
    assertEquals(
      ["10.0.0.2", "10.0.0.9", "10.0.0.3", "::ffff:10.0.0.9"].map(allowed),
      [true, true, true, true],
      `${mode}: remote, friend, a node's address, the friend as IPv4-mapped IPv6`,
    );
    assertEquals(
      ["10.0.0.77", "::ffff:10.0.0.77", "10.0.0.1", "127.0.0.1"].map(allowed),
      [false, false, false, false],
      `${mode}: strangers (10.0.0.1 is alpha itself, not a peer)`,
    );
    // A friend is an address allowed to connect, not a node: it gets no slot of a node's own.
    assertEquals([access.reserved(from("10.0.0.2")), access.reserved(from("10.0.0.9"))], [
      true,
      false,
    ]);
  }
});

Deno.test("peer access: a name is bound to its address without node keys, to its key with them", async () => {
  const all = await configs();
  for (const mode of ["none", "hmac-sha256"]) {
    const access = await PeerAccess.create(all[mode]);
    assertEquals(access.acceptNode("beta", from("10.0.0.2")), null, mode);
    assertEquals(
      access.acceptNode("beta", from("10.0.0.9")),
      "node beta connects from 10.0.0.2, not 10.0.0.9",
      `${mode}: a friend's address cannot speak as beta`,
    );
  }
  const keyed = await PeerAccess.create(all.ed25519);
  assertEquals(keyed.acceptNode("beta", from("10.0.0.9")), null, "the handshake proves the name");
  for (const access of await Promise.all(Object.values(all).map((c) => PeerAccess.create(c)))) {
    assertEquals(
      access.acceptNode("stranger", from("10.0.0.2")),
      "node stranger is not a configured peer of alpha",
    );
    assertEquals(
      access.acceptNode("alpha", from("10.0.0.2")),
      "node alpha is not a configured peer of alpha",
    );
  }
});
