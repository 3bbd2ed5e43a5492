/**
 * How peers prove who they are, as the configuration says it:
 *
 * - **ed25519** (any `[on.N] public_key`): every node has its own key pair;
 *   a node's name is proved by a signature that only its private key makes.
 *   Every node needs a `public_key`, this node its `private_key_file`, and
 *   `[key]` is then an error (one mode at a time).
 * - **hmac-sha256** (`[key]`): one shared secret proves membership, not
 *   identity, so each name is also bound to the addresses that node connects
 *   from.
 * - **none**: names bound to addresses, and nothing else.
 *
 * A node's addresses: its `addresses` and the host of its `listen` (unless a
 * wildcard); when neither gives one, the hosts every other node of a resource
 * lists in `remote` and the node itself does not (its peers' view of it).
 * The listener admits only this node's `remote` and `friends` hosts and the
 * nodes' addresses, in every mode.
 */
import type { NodeId } from "../core/types.ts";
import type { PeerAddress } from "./address.ts";
import type { Diagnostics, Pos } from "./diagnostics.ts";
import { NODE_KEY_FILE_BYTES, parsePublicKey } from "../wire/node_keys.ts";
import { type ReadContext, readPrivateFile, type SectionTree } from "./sections.ts";
import type { NodeConfig, PeerAuthMode, PeerIdentityConfig, ResourceConfig } from "./types.ts";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** The hosts a configured host name stands for, as a listener sees them. */
export function hostAliases(host: string): string[] {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return ["localhost", "127.0.0.1", "::1"];
  return [h];
}

function hostsOf(list: readonly PeerAddress[]): Set<string> {
  return new Set(list.flatMap((a) => hostAliases(a.host)));
}

/** Work out the peers' identity rules; report what is wrong with them. */
export function peerIdentity(
  tree: SectionTree,
  nodes: readonly NodeConfig[],
  self: NodeConfig,
  resources: readonly ResourceConfig[],
  selfName: NodeId,
  ctx: ReadContext,
  diag: Diagnostics,
): PeerIdentityConfig {
  const posOf = (node: NodeId, key?: string): Pos => {
    const on = tree.on.get(node);
    const entry = key ? on?.entries.get(key) : undefined;
    if (entry) return entry.pos;
    if (on) return on.pos;
    for (const r of resources) {
      const n = r.nodes.find((x) => x.node === node);
      if (n) return n.pos;
    }
    return { line: 1, col: 1 };
  };
  const publicKeys: Record<NodeId, string[]> = {};
  for (const n of nodes) {
    const keys = n.settings.public_key?.value as string[] | null | undefined;
    if (keys) publicKeys[n.node] = [...keys];
  }
  const mode: PeerAuthMode = Object.keys(publicKeys).length > 0
    ? "ed25519"
    : tree.key
    ? "hmac-sha256"
    : "none";
  let privateKeyFile: string | null = null;
  let privateKey: Uint8Array | null = null;
  if (mode === "ed25519") {
    if (tree.key) {
      diag.error(
        tree.key.pos,
        "[key] (one shared secret) and public_key (a key pair per node) exclude each other: " +
          "remove [key] once every node has its key pair",
      );
    }
    for (const n of nodes) {
      if (!publicKeys[n.node]) {
        diag.error(
          posOf(n.node),
          `node ${n.node} has no public_key: with per-node keys every node needs one ` +
            `(hastmon keygen --node ${n.node})`,
        );
      }
    }
    const setting = self.settings.private_key_file;
    privateKeyFile = (setting?.value as string | null) ?? null;
    const at = setting?.from.line !== undefined
      ? { line: setting.from.line, col: setting.from.col ?? 1 }
      : posOf(selfName, "public_key");
    if (privateKeyFile === null) {
      if (publicKeys[selfName]) {
        diag.error(
          at,
          `node ${selfName} needs private_key_file: the key pair whose public half is its public_key`,
        );
      }
    } else {
      const file = readPrivateFile(ctx, privateKeyFile, "private_key_file");
      if ("error" in file) diag.error(at, file.error);
      else if (file.bytes.length !== NODE_KEY_FILE_BYTES) {
        diag.error(
          at,
          `private_key_file "${privateKeyFile}" is not a hastmon node key ` +
            `(${file.bytes.length} bytes, expected ${NODE_KEY_FILE_BYTES}: use hastmon keygen)`,
        );
      } else if (
        publicKeys[selfName] &&
        !publicKeys[selfName].some((k) => sameBytes(parsePublicKey(k), file.bytes.subarray(32)))
      ) {
        diag.error(
          at,
          `private_key_file "${privateKeyFile}" does not belong to any public_key of node ${selfName}`,
        );
      } else privateKey = file.bytes;
    }
  }

  const addresses: Record<NodeId, string[]> = {};
  for (const n of nodes) {
    const hosts = new Set<string>();
    for (const a of (n.settings.addresses?.value as PeerAddress[] | undefined) ?? []) {
      for (const h of hostAliases(a.host)) hosts.add(h);
    }
    if (!WILDCARDS.has(n.listen.host)) { for (const h of hostAliases(n.listen.host)) hosts.add(h); }
    if (hosts.size === 0) { for (const h of inferredHosts(n.node, resources)) hosts.add(h); }
    addresses[n.node] = [...hosts];
  }

  const allowed = new Set<string>();
  for (const r of resources) {
    const me = r.self;
    if (!me) continue;
    for (const h of hostsOf([...(Array.isArray(me.remote) ? me.remote : []), ...me.friends])) {
      allowed.add(h);
    }
  }
  const peersOfMine = new Set<NodeId>();
  for (const r of resources) {
    if (!r.self) continue;
    for (const n of r.nodes) if (n.node !== selfName) peersOfMine.add(n.node);
  }
  for (const [node, hosts] of Object.entries(addresses)) {
    if (node === selfName) continue;
    for (const h of hosts) allowed.add(h);
    if (mode !== "ed25519" && hosts.length === 0 && peersOfMine.has(node)) {
      diag.warn(
        posOf(node),
        `no address is known for node ${node} (its listen is a wildcard and the remote lists ` +
          `do not tell it apart): set addresses = ["HOST"] in [on.${node}], or give it node keys; ` +
          `until then connections that claim to be ${node} are refused`,
      );
    }
  }
  return { mode, publicKeys, privateKeyFile, privateKey, addresses, allowedHosts: [...allowed] };
}

/** Hosts every other node of a resource lists in `remote` and `node` itself does not. */
function inferredHosts(node: NodeId, resources: readonly ResourceConfig[]): Set<string> {
  const out = new Set<string>();
  for (const r of resources) {
    const mine = r.nodes.find((n) => n.node === node);
    if (!mine) continue;
    const others = r.nodes.filter((n) => n.node !== node && Array.isArray(n.remote));
    if (others.length === 0) continue;
    let common = hostsOf(others[0].remote as PeerAddress[]);
    for (const o of others.slice(1)) {
      const hosts = hostsOf(o.remote as PeerAddress[]);
      common = new Set([...common].filter((h) => hosts.has(h)));
    }
    const own = hostsOf(Array.isArray(mine.remote) ? mine.remote : []);
    for (const h of common) if (!own.has(h)) out.add(h);
  }
  return out;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What the mode proves, in one sentence for `config check`. */
export function describePeerMode(mode: PeerAuthMode): string {
  switch (mode) {
    case "ed25519":
      return "per-node keys (ed25519): a peer proves its own name with its own key; " +
        "holding one node's key does not let anyone speak as another node";
    case "hmac-sha256":
      return "shared key (hmac-sha256): proves that a peer holds the shared secret, not which " +
        "node it is; names are also bound to each node's addresses";
    case "none":
      return "no key: names are bound to each node's addresses, and nothing is proved; " +
        "anyone who can send from a node's address can speak as that node";
  }
}
