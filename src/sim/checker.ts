/**
 * The invariant checker, fed by the simulator with what really happened (not
 * with what the machines believe):
 * - safety: never two nodes active for one resource (active = from the start
 *   hook's beginning until a stop completed or the node died);
 * - no promotion by takeover without more than complaint_count complaints
 *   from watchdogs, delivered within complaint_interval while no primary was heard;
 * - liveness is judged by the runner, which knows the fault schedule.
 */
import type { Message, NodeId, ResourceSettings, Role } from "../core/types.ts";
import { livenessMs } from "../core/timing.ts";
import type { Cluster } from "./cluster.ts";

/** One broken promise, with the real time it happened. */
export interface Violation {
  t: number;
  kind: "split-brain" | "promotion-without-complaints" | "no-failover" | "slow-failover";
  resource: string;
  message: string;
}

interface DeliveredComplaint {
  from: NodeId;
  at: number;
  whileDisconnected: boolean;
}

export class Checker {
  readonly violations: Violation[] = [];
  /** Real times at which some node became active, per resource (for failover timing). */
  readonly activations: { t: number; resource: string; node: NodeId }[] = [];
  private complaints = new Map<string, DeliveredComplaint[]>();
  private lastClaim = new Map<string, { t: number; role: Role }>();
  private roles = new Map<string, Role>();
  private downAt = new Map<string, number>();
  private outageSince = new Map<string, number | null>();
  private longestOutage = new Map<string, number>();

  constructor(
    private cluster: Cluster,
    private settings: Map<string, Map<NodeId, ResourceSettings>>,
  ) {}

  private fail(kind: Violation["kind"], resource: string, message: string) {
    this.violations.push({ t: this.cluster.now, kind, resource, message });
    this.cluster.note("!!", `VIOLATION ${kind}: ${message}`);
  }

  /** A node became active or inactive for a resource. */
  onActive(resource: string, node: NodeId, active: boolean) {
    if (!active) return;
    this.activations.push({ t: this.cluster.now, resource, node });
    const others = this.cluster.activeNodes(resource).filter((n) => n !== node);
    if (others.length > 0) {
      this.fail(
        "split-brain",
        resource,
        `${node} became active for ${resource} while ${others.join(", ")} still active`,
      );
    }
  }

  /** A message arrived (as the network delivered it). */
  onDeliver(resource: string, from: NodeId, to: NodeId, msg: Message) {
    const key = `${resource}/${to}`;
    const real = this.cluster.now;
    if (msg.type === "heartbeat" || msg.type === "ack") {
      // What `to` last heard `from` claim: the receiver's knowledge, not the omniscient truth.
      this.lastClaim.set(`${key}/${from}`, { t: real, role: msg.role });
    }
    if (msg.type === "release") {
      // A released lease says "no longer primary" as plainly as a heartbeat would.
      this.lastClaim.set(`${key}/${from}`, { t: real, role: "secondary" });
    }
    if (msg.type === "complaint" && this.roles.get(`${resource}/${from}`) === "watchdog") {
      const s = this.settings.get(resource)?.get(to);
      if (!s) return;
      // "Connected" as the receiver could judge it from what reached it, in real time
      // and generous by the skew bound: a peer whose last word was "primary", recently.
      const window = livenessMs(s) / (1 + s.clockSkew);
      let connected = false;
      for (const peer of s.peers) {
        const last = this.lastClaim.get(`${key}/${peer}`);
        if (last === undefined || last.role !== "primary") continue;
        const down = this.downAt.get(`${key}/${peer}`);
        if (real - last.t <= window && !(down !== undefined && down >= last.t)) connected = true;
      }
      const list = this.complaints.get(key) ?? [];
      list.push({ from, at: real, whileDisconnected: !connected });
      this.complaints.set(key, list);
    }
  }

  /** A service process came up or went away somewhere: track outages. */
  onRunning(resource: string, _running: boolean) {
    const up = this.cluster.runningNodes(resource).length > 0;
    const since = this.outageSince.get(resource);
    if (up && since !== undefined && since !== null) {
      const len = this.cluster.now - since;
      this.longestOutage.set(resource, Math.max(this.longestOutage.get(resource) ?? 0, len));
      this.outageSince.set(resource, null);
    } else if (!up && since === null) {
      this.outageSince.set(resource, this.cluster.now);
    } else if (up && since === undefined) {
      this.outageSince.set(resource, null); // first start: outages count from here
    }
  }

  /** The longest time no node ran the service, after it first ran (ongoing outages count). */
  outage(resource: string): number {
    const since = this.outageSince.get(resource);
    const ongoing = since === null || since === undefined ? 0 : this.cluster.now - since;
    return Math.max(this.longestOutage.get(resource) ?? 0, ongoing);
  }

  /** A daemon (re)started on `node`: its machines know nothing of before. */
  onDaemonStart(node: NodeId) {
    for (const map of [this.lastClaim, this.downAt, this.complaints] as Map<string, unknown>[]) {
      for (const key of [...map.keys()]) if (key.split("/")[1] === node) map.delete(key);
    }
  }

  /** The transport told `to` that `peer` is gone (its daemon died). */
  onPeerDown(resource: string, to: NodeId, peer: NodeId) {
    this.downAt.set(`${resource}/${to}/${peer}`, this.cluster.now);
  }

  /** A role change reported by a machine. */
  onTransition(resource: string, node: NodeId, to: Role, reason: string) {
    this.roles.set(`${resource}/${node}`, to);
    if (to !== "primary" || !reason.startsWith("takeover")) return;
    const s = this.settings.get(resource)?.get(node);
    if (!s) return;
    const key = `${resource}/${node}`;
    const since = this.cluster.now - s.complaintIntervalMs * (1 + s.clockSkew);
    const counted = (this.complaints.get(key) ?? []).filter((c) =>
      c.at >= since && c.whileDisconnected
    );
    if (counted.length <= s.complaintCount) {
      this.fail(
        "promotion-without-complaints",
        resource,
        `${node} took over with ${counted.length} complaints received while disconnected ` +
          `(needs more than ${s.complaintCount})`,
      );
    }
  }

  /** Record the role a node starts with (role_on_start or persisted). */
  setRole(resource: string, node: NodeId, role: Role) {
    this.roles.set(`${resource}/${node}`, role);
  }

  /** Record a liveness or timing violation found by the runner. */
  report(kind: Violation["kind"], resource: string, message: string) {
    this.fail(kind, resource, message);
  }
}
