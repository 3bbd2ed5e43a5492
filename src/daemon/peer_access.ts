/**
 * Who may connect to this daemon, and as whom: the daemon's side of the peer
 * listener's `allowed`, `reserved` and `acceptNode` rules, and the keys the
 * handshake uses, all from the configuration (config/identity.ts).
 *
 * Lookups are live, so a reload (SIGHUP) applies to the next connection: a
 * rotated node key is accepted as soon as the configuration lists it, and a
 * connection whose key the configuration no longer lists is named by
 * {@linkcode PeerAccess.stale} for the daemon to close. Changing the mode
 * itself (none, shared key, node keys) needs a restart.
 */
import type { NodeId } from "../core/types.ts";
import type { EffectiveConfig, PeerAuthMode } from "../config/types.ts";
import { hostAliases } from "../config/identity.ts";
import { importSecret, type NodePublicKey, type PeerAuth } from "../wire/auth.ts";
import { importPublicKey, importSigningKey, parsePublicKey } from "../wire/node_keys.ts";

/** A listener's view of a source address: IPv4-mapped IPv6 is the IPv4 address. */
export function sourceHost(remote: Deno.NetAddr): string {
  return remote.hostname.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
}

/** The access rules of one daemon; build with {@linkcode PeerAccess.create}. */
export class PeerAccess {
  readonly self: NodeId;
  /** The handshake's keys; null without any. */
  readonly auth: PeerAuth | null;
  readonly mode: PeerAuthMode;
  #known = new Set<NodeId>();
  #addresses = new Map<NodeId, Set<string>>();
  #nodeHosts = new Set<string>();
  #allowed = new Set<string>();
  #signing: CryptoKey | null = null;
  #privateKey: Uint8Array | null = null;
  #publicKeys = new Map<NodeId, NodePublicKey[]>();
  #secret: Uint8Array | null;

  private constructor(cfg: EffectiveConfig, auth: PeerAuth | null) {
    this.self = cfg.node;
    this.mode = cfg.peers.mode;
    this.auth = auth;
    this.#secret = cfg.key?.secret ?? null;
  }

  /** Import the configured keys. Throws (a message for the operator) if they cannot be used. */
  static async create(cfg: EffectiveConfig): Promise<PeerAccess> {
    let access: PeerAccess;
    if (cfg.peers.mode === "ed25519") {
      let self: PeerAccess | null = null;
      access = self = new PeerAccess(cfg, {
        mode: "ed25519",
        signingKey: () => self!.#signing!,
        publicKeys: (node) => self!.#publicKeys.get(node) ?? [],
      });
    } else if (cfg.peers.mode === "hmac-sha256" && cfg.key) {
      access = new PeerAccess(cfg, await importSecret(cfg.key.secret));
    } else {
      access = new PeerAccess(cfg, null);
    }
    await access.#apply(cfg);
    return access;
  }

  /**
   * Take a reloaded configuration. Returns warnings for what needs a restart
   * (another mode, another shared secret); the rest applies at once.
   */
  async update(cfg: EffectiveConfig): Promise<string[]> {
    const warnings: string[] = [];
    if (cfg.peers.mode !== this.mode) {
      warnings.push(
        `peer authentication changed from ${this.mode} to ${cfg.peers.mode}: ` +
          `restart the daemon to apply it (the old keys stay in use)`,
      );
      return warnings;
    }
    const secret = cfg.key?.secret ?? null;
    if (!sameBytes(secret, this.#secret)) {
      warnings.push("the shared secret changed: restart the daemon to apply it");
    }
    try {
      await this.#apply(cfg);
    } catch (e) {
      warnings.push(`node keys not reloaded: ${(e as Error).message}`);
    }
    return warnings;
  }

  async #apply(cfg: EffectiveConfig): Promise<void> {
    const p = cfg.peers;
    // Import everything first: a bad key leaves the old ones in place.
    let signing = this.#signing;
    const publicKeys = new Map<NodeId, NodePublicKey[]>();
    if (this.mode === "ed25519") {
      if (p.privateKey === null) throw new Error(`node ${cfg.node} has no usable private key`);
      if (!sameBytes(p.privateKey, this.#privateKey)) {
        signing = await importSigningKey(p.privateKey);
      }
      for (const [node, ids] of Object.entries(p.publicKeys)) {
        const keys: NodePublicKey[] = [];
        for (const id of ids) {
          const raw = parsePublicKey(id);
          if (raw) keys.push({ id, key: await importPublicKey(raw) });
        }
        publicKeys.set(node, keys);
      }
      this.#signing = signing;
      this.#privateKey = p.privateKey;
      this.#publicKeys = publicKeys;
    }
    this.#known = new Set(cfg.resources.flatMap((r) => r.nodes.map((n) => n.node)));
    this.#addresses = new Map(
      Object.entries(p.addresses).map(([n, hosts]) => [n, new Set(hosts.flatMap(hostAliases))]),
    );
    this.#nodeHosts = new Set(
      [...this.#addresses].filter(([n]) => n !== this.self).flatMap(([, h]) => [...h]),
    );
    this.#allowed = new Set(p.allowedHosts.flatMap(hostAliases));
  }

  /** The listener's address rule: configured remote and friends hosts, and node addresses. */
  allowed(remote: Deno.NetAddr): boolean {
    return this.#allowed.has(sourceHost(remote));
  }

  /** Addresses of configured nodes get handshake slots of their own. */
  reserved(remote: Deno.NetAddr): boolean {
    return this.#nodeHosts.has(sourceHost(remote));
  }

  /** Why `node` may not connect from `remote`, or null. */
  acceptNode(node: NodeId, remote: Deno.NetAddr): string | null {
    if (node === this.self || !this.#known.has(node)) {
      return `node ${node} is not a configured peer of ${this.self}`;
    }
    // With node keys the signature proves the name; otherwise the address must.
    if (this.mode === "ed25519") return null;
    const hosts = this.#addresses.get(node) ?? new Set();
    const from = sourceHost(remote);
    if (hosts.has(from)) return null;
    return `node ${node} connects from ${
      hosts.size > 0 ? [...hosts].join(", ") : "no known address"
    }, not ${from}`;
  }

  /** Why a node reached by dialling is not one to talk to, or null. */
  dialled(node: NodeId): string | null {
    return node === this.self || !this.#known.has(node) ? `${node} is not a node of ours` : null;
  }

  /** Why an established connection must go after a reload (its key or node was removed), or null. */
  stale(conn: { node: NodeId; peerKey: string | null }): string | null {
    if (!this.#known.has(conn.node)) return "node removed from the configuration";
    if (this.mode !== "ed25519" || conn.peerKey === null) return null;
    const keys = this.#publicKeys.get(conn.node) ?? [];
    return keys.some((k) => k.id === conn.peerKey)
      ? null
      : "its node key was removed from the configuration";
  }
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
