/**
 * The invariant checker, fed by the simulator with what really happened (not
 * with what the machines believe):
 * - safety: never two nodes active for one resource (active = from a start
 *   hook's beginning until a stop of it completed or the node died);
 * - margins: a node begins a start no earlier than the timing rule allows
 *   after the end of another node's lease (that node's stop bound on its own
 *   clock, plus half a timeout of margin), unless that node released its
 *   lease, granted one (it grants only when nothing of it may run) or was
 *   fenced since. This fails a shortened wait even in a run where no overlap
 *   happens to follow;
 * - no promotion by takeover without more than complaint_count complaints
 *   from configured watchdogs, delivered within complaint_interval while no
 *   primary was heard;
 * - liveness is judged by the runner, which knows the fault schedule.
 *
 * A violation that follows a broken assumption of the promise (a stop that
 * hung with no `panic` configured) is marked as such, in words.
 */
import type { Cause, Message, NodeId, ResourceSettings, Role } from "../core/types.ts";
import { livenessMs } from "../core/timing.ts";
import type { Cluster } from "./cluster.ts";

/** One broken promise, with the real time it happened. */
export interface Violation {
  t: number;
  kind:
    | "split-brain"
    | "margin"
    | "promotion-without-complaints"
    | "no-failover"
    | "slow-failover";
  resource: string;
  message: string;
  /** Set when an assumption of the promise was broken first: the violation is explained by it. */
  assumption?: string;
}

interface DeliveredComplaint {
  from: NodeId;
  at: number;
  whileDisconnected: boolean;
}

/** The latest lease a node held (by its own count of a quorum's grants), in real time. */
interface HeldLease {
  /** When the node credited it. */
  creditedAt: number;
  /** When it ends, and by when the node must have stopped (its own stop bound after it). */
  end: number;
  stoppedBy: number;
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
  /** The latest lease each node held, per resource/node. */
  private leases = new Map<string, HeldLease>();
  /** When a node's release last reached a peer, or it was fenced, per resource/node (real time). */
  private freedAt = new Map<string, number>();
  private brokenAssumption = new Map<string, string>();

  constructor(
    private cluster: Cluster,
    private settings: Map<string, Map<NodeId, ResourceSettings>>,
  ) {}

  /** A node's settings of a resource as they are now (a reload changes them). */
  private settingsOf(resource: string, node: NodeId): ResourceSettings | undefined {
    return this.cluster.nodes.get(node)?.settings.get(resource) ??
      this.settings.get(resource)?.get(node);
  }

  private fail(kind: Violation["kind"], resource: string, message: string) {
    const assumption = this.brokenAssumption.get(resource);
    this.violations.push({
      t: this.cluster.now,
      kind,
      resource,
      message,
      ...(assumption ? { assumption } : {}),
    });
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
    this.checkMargins(resource, node);
  }

  /**
   * Is the start of `node` early for another node's lease? That node may run
   * until its lease ends and then for its stop bound; the timing rule gives
   * half a timeout more. A lease its holder released since (the release
   * reached a peer) or lost to a fence no longer counts.
   */
  private checkMargins(resource: string, node: NodeId) {
    for (const other of this.cluster.nodes.keys()) {
      if (other === node) continue;
      const lease = this.leases.get(`${resource}/${other}`);
      if (!lease) continue;
      if ((this.freedAt.get(`${resource}/${other}`) ?? -Infinity) >= lease.creditedAt) continue;
      const s = this.settingsOf(resource, node);
      const earliest = lease.stoppedBy + (s?.timeoutMs ?? 0) / 2;
      if (this.cluster.now < earliest) {
        this.fail(
          "margin",
          resource,
          `${node} began a start ${(earliest - this.cluster.now).toFixed(0)} ms too early: ` +
            `${other} held a lease until ${(lease.end / 1000).toFixed(3)}s and may run until ` +
            `${(lease.stoppedBy / 1000).toFixed(3)}s`,
        );
      }
    }
  }

  /**
   * A node holds a lease until real time `end` (as its machine counts it) and
   * must have stopped `stopMs` of its own clock later.
   */
  onLease(resource: string, node: NodeId, end: number, stopByReal: number) {
    const key = `${resource}/${node}`;
    const prev = this.leases.get(key);
    if (prev && prev.end >= end) return;
    this.leases.set(key, { creditedAt: this.cluster.now, end, stoppedBy: stopByReal });
  }

  /** A message arrived (as the network delivered it). */
  onDeliver(resource: string, from: NodeId, to: NodeId, msg: Message) {
    const key = `${resource}/${to}`;
    const real = this.cluster.now;
    if (msg.type === "ack" && msg.granted) {
      // A node grants only when nothing of it may be active: as good as a release.
      this.freedAt.set(`${resource}/${from}`, real);
    }
    if (msg.type === "heartbeat" || msg.type === "ack") {
      // What `to` last heard `from` claim: the receiver's knowledge, not the omniscient truth.
      this.lastClaim.set(`${key}/${from}`, { t: real, role: msg.role });
    }
    if (msg.type === "release") {
      // A released lease says "no longer primary" as plainly as a heartbeat would.
      this.lastClaim.set(`${key}/${from}`, { t: real, role: "secondary" });
      // Delivered, it frees the others to start at once (sent but lost, it frees nobody).
      this.freedAt.set(`${resource}/${from}`, real);
    }
    const watchdog = this.settings.get(resource)?.get(from)?.roleOnStart === "watchdog";
    if (msg.type === "complaint" && watchdog) {
      const s = this.settingsOf(resource, to);
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
  onRunning(resource: string) {
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

  /** A fence took `node` down: its leases are void from now. */
  onFenced(node: NodeId) {
    for (const r of this.settings.keys()) this.freedAt.set(`${r}/${node}`, this.cluster.now);
  }

  /** A stop hung; without a panic command the promise no longer holds for the resource. */
  onStopHung(resource: string, node: NodeId, hasPanic: boolean) {
    if (!hasPanic && !this.brokenAssumption.has(resource)) {
      this.brokenAssumption.set(
        resource,
        `a stop on ${node} did not finish within stop_timeout and no panic command is configured`,
      );
    }
  }

  /** A role change reported by a machine. */
  onTransition(resource: string, node: NodeId, to: Role, cause: Cause) {
    this.roles.set(`${resource}/${node}`, to);
    if (to !== "primary" || cause.kind !== "takeover") return;
    const s = this.settingsOf(resource, node);
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

  /** Record a liveness or timing violation found by the runner. */
  report(kind: Violation["kind"], resource: string, message: string) {
    this.fail(kind, resource, message);
  }
}
