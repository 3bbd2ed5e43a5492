import { assertEquals } from "../../tests/assert.ts";
import { parseConfig, type ParseOptions } from "./parse.ts";
import type { KeyFile } from "./sections.ts";

const FILE = "/etc/hastmon.toml";

function load(text: string, opts: Partial<ParseOptions> = {}) {
  return parseConfig(text, FILE, {
    node: "alpha",
    readKeyFile: () => ({ error: "no such file" }),
    ...opts,
  });
}

function diagnostics(text: string, opts: Partial<ParseOptions> = {}) {
  const r = load(text, opts);
  return {
    errors: r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`),
    warnings: r.warnings.map((e) => `${e.line}:${e.col}: ${e.message}`),
  };
}

const RESOURCES = `
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

function keyFile(bytes: Uint8Array, mode = 0o100600): (p: string) => KeyFile {
  return (p) => p === "/etc/hastmon/node.key" ? { bytes, mode } : { error: "no such file" };
}

const PUB_A = "ed25519:" + btoa(String.fromCharCode(...new Uint8Array(32).fill(1)));
const PUB_B = "ed25519:" + btoa(String.fromCharCode(...new Uint8Array(32).fill(2)));
const PUB_W = "ed25519:" + btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));
/** A node key file whose public half is PUB_A. */
const KEY_A = Uint8Array.from([...new Uint8Array(32).fill(9), ...new Uint8Array(32).fill(1)]);

Deno.test("identity: without keys, names are bound to addresses inferred from the remote lists", () => {
  const r = load(RESOURCES);
  const peers = r.config!.peers;
  assertEquals(peers.mode, "none");
  assertEquals(peers.addresses, { alpha: ["10.0.0.1"], beta: ["10.0.0.2"], wd: [] });
  // wd cannot be told apart: it must say where it is.
  assertEquals(r.warnings.filter((w) => w.message.includes("no address")).map((w) => w.line), [12]);
  const given = load(
    RESOURCES + `[on.wd]\naddresses = ["10.0.0.3"]\n[on.beta]\nlisten = "10.0.0.22:8458"\n`,
  );
  assertEquals(given.warnings.filter((w) => w.message.includes("no address")), []);
  assertEquals(given.config!.peers.addresses, {
    alpha: ["10.0.0.1"],
    beta: ["10.0.0.22"],
    wd: ["10.0.0.3"],
  });
  assertEquals(given.config!.peers.allowedHosts.sort(), ["10.0.0.2", "10.0.0.22", "10.0.0.3"]);
});

Deno.test("identity: per-node keys need a key for every node and this node's private key", () => {
  const withKeys = RESOURCES +
    `[on.alpha]\npublic_key = "${PUB_A}"\nprivate_key_file = "/etc/hastmon/node.key"\n` +
    `[on.beta]\npublic_key = ["${PUB_B}", "${PUB_A.replace("AQ", "Ag")}"]\n` +
    `[on.wd]\npublic_key = "${PUB_W}"\n`;
  const ok = load(withKeys, { readKeyFile: keyFile(KEY_A) });
  assertEquals(ok.errors, []);
  assertEquals(ok.config!.peers.mode, "ed25519");
  assertEquals(ok.config!.peers.publicKeys.alpha, [PUB_A]);
  assertEquals(ok.config!.peers.privateKey, KEY_A);
  assertEquals(diagnostics(withKeys, { readKeyFile: keyFile(KEY_A, 0o100640) }).errors, [
    '17:1: private_key_file "/etc/hastmon/node.key" is open to group or others (mode 640): ' +
    'run chmod 600 "/etc/hastmon/node.key"',
  ]);
  const other = Uint8Array.from([...KEY_A.subarray(0, 32), ...new Uint8Array(32).fill(7)]);
  assertEquals(diagnostics(withKeys, { readKeyFile: keyFile(other) }).errors, [
    '17:1: private_key_file "/etc/hastmon/node.key" does not belong to any public_key of node alpha',
  ]);
  assertEquals(
    diagnostics(withKeys.replace(`[on.wd]\npublic_key = "${PUB_W}"\n`, ""), {
      readKeyFile: keyFile(KEY_A),
    }).errors,
    ["12:18: node wd has no public_key: with per-node keys every node needs one (hastmon keygen --node wd)"],
  );
  assertEquals(
    diagnostics(withKeys + `[key]\nsecret = "0123456789abcdef"\n`, { readKeyFile: keyFile(KEY_A) })
      .errors,
    [
      "22:1: [key] (one shared secret) and public_key (a key pair per node) exclude each other: " +
      "remove [key] once every node has its key pair",
    ],
  );
  assertEquals(diagnostics(RESOURCES + `[on.alpha]\npublic_key = "ed25519:abc"\n`).errors, [
    '16:14: `public_key` must be "ed25519:" and 32 bytes in base64 (as `hastmon keygen` prints), not a string ("ed25519:abc")',
  ]);
});

Deno.test("secrets: a secret_file open to others is refused; a binary one keeps every byte", () => {
  const text = RESOURCES + `[key]\nsecret_file = "/etc/hastmon/node.key"\n`;
  const binary = Uint8Array.from([
    0xff,
    0xfe,
    0x00,
    0x0a,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x0a,
  ]);
  const other = Uint8Array.from([0xff, 0xfd, ...binary.subarray(2)]);
  const a = load(text, { readKeyFile: keyFile(binary) }).config!.key!.secret;
  const b = load(text, { readKeyFile: keyFile(other) }).config!.key!.secret;
  assertEquals(a, binary);
  assertEquals(b, other);
  assertEquals(diagnostics(text, { readKeyFile: keyFile(binary, 0o100644) }).errors, [
    '16:15: secret_file "/etc/hastmon/node.key" is open to group or others (mode 644): ' +
    'run chmod 600 "/etc/hastmon/node.key"',
  ]);
  const inline = RESOURCES + `[key]\nsecret = "0123456789abcdef0123"\n`;
  assertEquals(
    diagnostics(inline, { fileMode: 0o100600 }).warnings.filter((w) => w.includes("inline")),
    [],
  );
  assertEquals(
    diagnostics(inline, { fileMode: 0o100644 }).warnings.filter((w) => w.includes("inline")).length,
    1,
  );
});

Deno.test("hook_env: a table of variables; reserved and malformed names are refused", () => {
  const ok = load(RESOURCES + `[hook_env]\nPATH = "/opt/bin:/usr/bin"\nLANG = "C"\n`);
  assertEquals(ok.errors, []);
  assertEquals(ok.config!.global.settings.hook_env.value, { PATH: "/opt/bin:/usr/bin", LANG: "C" });
  assertEquals(
    diagnostics(RESOURCES + `[hook_env]\nHASTMON_NODE = "x"\n"A-B" = "y"\nC = 1\n`).errors,
    [
      "16:16: `hook_env`: HASTMON_NODE is set by hastmon for every hook and cannot be changed",
      '17:9: `hook_env`: a string ("A-B") is not a variable name (letters, digits, _)',
      "18:5: `hook_env`: C must be a string without NUL bytes, not 1",
    ],
  );
});
