/**
 * Scenarios for the simulator: a cluster layout, a list of timed faults, and
 * the runner that plays one seeded run and judges it.
 */
import type { Defects } from "../core/machine.ts";
import { computeTimeline, leaseMs } from "../core/timing.ts";
import type { ClusterNode, NodeId, ResourceSettings, Role } from "../core/types.ts";
import { Cluster, type HookModel, type NetModel } from "./cluster.ts";
import { Rng } from "./rng.ts";
import type { Violation } from "./checker.ts";

/** Every fault the simulator can inject (PRODUCT.md §3.1 and the node-runtime issue's list). */
export const FAULT_KINDS = [
  "crash",
  "kill-daemon",
  "pause",
  "partition",
  "asymmetric",
  "flap",
  "lossy",
  "both-primary",
  "watchdog-down",
  "hung-status",
  "hung-stop",
  "restart-lost-state",
  "restart-damaged-state",
  "service-dies",
  "slow-return",
  "slow-start",
  "reload",
  "disk-full",
  "kill-between",
  "switchover",
  "operator-primary",
  "sigterm",
  "sigterm-hung-stop",
  "fence-ok",
  "fence-fail",
  "fence-hang",
  "inflated-claims",
  "member-crashloop",
  "member-start-fails",
  "member-stop-hangs",
  "giveover",
  "restart",
  "check-veto",
] as const;
export type FaultKind = typeof FAULT_KINDS[number];

/**
 * Faults after which the service must come back quickly, wherever it runs.
 * (Not `reload`: until every node has reloaded, a primary whose new stop bound
 * exceeds what the others' old file allows it may be unable to hold a lease.)
 */
const RECOVERABLE = new Set<FaultKind>([
  "crash",
  "kill-daemon",
  "pause",
  "restart-lost-state",
  "restart-damaged-state",
  "both-primary",
  "hung-status",
  "service-dies",
  "kill-between",
  "switchover",
  "sigterm",
  "fence-ok",
  "inflated-claims",
  "member-crashloop",
  "giveover",
  "restart",
]);

/** A fault placed at a time, lasting a while (ms of real time). */
export interface Fault {
  kind: FaultKind;
  at: number;
  duration: number;
  /** Target nodes, chosen by the generator. */
  nodes: NodeId[];
  /** For `reload`: the new complaint_count and the factor of stop_timeout (drawn if absent). */
  reload?: { complaintCount: number; stopFactor: number };
}

/** The layout of a simulated cluster. */
export interface Layout {
  /** Node name → role at start and priority. */
  nodes: { name: NodeId; role: Role; priority: number }[];
  resources: string[];
  /** Settings of resource r on node n. */
  settings: Map<string, Map<NodeId, ResourceSettings>>;
}

/** Options of one run. */
export interface RunOptions {
  seed: number;
  layout: Layout;
  faults?: readonly FaultKind[];
  /** Number of faults per run (random in [1, maxFaults]). */
  maxFaults?: number;
  net?: NetModel;
  hooks?: HookModel;
  defects?: Defects;
  /** Fixed fault schedule instead of a random one. */
  schedule?: Fault[];
}

/** What one run found. */
export interface RunResult {
  seed: number;
  violations: Violation[];
  /** Failover times (ms) after a primary crash or kill, when measured. */
  failovers: number[];
  faults: Fault[];
  transcript: string;
}

/** Options of {@link defaultLayout}. */
export interface LayoutOptions {
  nodes?: string[];
  resources?: number;
  heartbeatMs?: number;
  hasPanic?: boolean;
  hasFence?: boolean;
  equalPriorities?: boolean;
  /** Fractions of the heartbeat interval (default 1). */
  timeoutRatio?: number;
  stopTimeoutRatio?: number;
  /** Members per resource (default 1: the resource's own). */
  members?: number;
  /**
   * Per-node settings that differ: the first node (the primary) asks for a
   * longer lease (complaint_count 5) and a longer stop bound (×2) than the
   * others use.
   */
  mixed?: boolean;
}

/** A layout with the classic hastmon cluster: two nodes and a watchdog, fast timings. */
export function defaultLayout(opts: LayoutOptions = {}): Layout {
  const names = opts.nodes ?? ["a", "b", "w"];
  const nodes = names.map((name, i) => ({
    name,
    role: (i === 0 ? "primary" : name.startsWith("w") ? "watchdog" : "secondary") as Role,
    priority: opts.equalPriorities ? 100 : 10 * (i + 1),
  }));
  const resources = Array.from({ length: opts.resources ?? 1 }, (_, i) => `r${i}`);
  const I = opts.heartbeatMs ?? 1000;
  const settings = new Map<string, Map<NodeId, ResourceSettings>>();
  for (const r of resources) {
    const perNode = new Map<NodeId, ResourceSettings>();
    for (const [i, n] of nodes.entries()) {
      const special = opts.mixed && i === 0;
      const memberCount = opts.members ?? 1;
      perNode.set(n.name, {
        name: r,
        self: n.name,
        nodes: [],
        peers: nodes.filter((x) => x.name !== n.name).map((x) => x.name),
        priority: n.priority,
        roleOnStart: n.role,
        heartbeatIntervalMs: I,
        complaintCount: special ? 5 : 3,
        complaintIntervalMs: 10 * I,
        timeoutMs: I * (opts.timeoutRatio ?? 1),
        attempts: 5,
        stopTimeoutMs: I * (opts.stopTimeoutRatio ?? 1) * (special ? 2 : 1),
        clockSkew: 0.1,
        hookTimeoutMs: 2 * I,
        methodTimeoutMs: {},
        // Starts may take long (a database recovering): longer than a lease.
        members: Array.from({ length: memberCount }, (_, k) => ({
          name: memberCount === 1 ? r : `${r}m${k}`,
          probeIntervalMs: I,
          startTimeoutMs: 8 * I,
          statusTimeoutMs: 2 * I,
          failoverMode: "SOFT" as const,
          retryCount: 2,
          retryIntervalMs: 30 * I,
          // Groups of several members have the monitor methods too (their own hooks).
          hasMonitorStart: memberCount > 1,
          hasMonitorStop: memberCount > 1,
          hasMonitorCheck: memberCount > 1,
          monitorStartTimeoutMs: 2 * I,
          monitorStopTimeoutMs: I,
          monitorCheckTimeoutMs: 2 * I,
        })),
        pingpongIntervalMs: 60 * I,
        hasPanic: opts.hasPanic ?? true,
        hasFence: (opts.hasFence ?? false) && n.role !== "watchdog",
      });
    }
    shareNodeEntries(perNode);
    settings.set(r, perNode);
  }
  return { nodes, resources, settings };
}

/** Each node's entry in the shared file, as every node reads it: its own section's numbers. */
function shareNodeEntries(perNode: Map<NodeId, ResourceSettings>) {
  const entries: ClusterNode[] = [...perNode.values()].map((s) => ({
    name: s.self,
    priority: s.priority,
    watchdog: s.roleOnStart === "watchdog",
    leaseMs: leaseMs(s),
    stopTimeoutMs: s.stopTimeoutMs,
  }));
  for (const s of perNode.values()) s.nodes = entries.map((e) => ({ ...e }));
}

/** The same layout with a `fence` command on every node that can take over. */
function withFence(layout: Layout): Layout {
  const settings = new Map<string, Map<NodeId, ResourceSettings>>();
  for (const [r, perNode] of layout.settings) {
    settings.set(
      r,
      new Map(
        [...perNode].map(([n, s]) => [n, { ...s, hasFence: s.roleOnStart !== "watchdog" }]),
      ),
    );
  }
  return { ...layout, settings };
}

/** Default hook durations relative to the heartbeat interval. */
export function defaultHooks(I: number): HookModel {
  return {
    startMs: [0.02 * I, 0.3 * I],
    stopMs: [0.02 * I, 0.3 * I],
    statusMs: [0.01 * I, 0.1 * I],
  };
}

/** Default network: sub-interval delays, no loss. */
export function defaultNet(I: number): NetModel {
  return { minDelayMs: 0.001 * I, maxDelayMs: 0.02 * I, loss: 0 };
}

function intervalOf(layout: Layout): number {
  const first = layout.settings.values().next().value!;
  return first.values().next().value!.heartbeatIntervalMs;
}

/** The worst-case takeover the timing rule promises for the layout's first resource. */
export function promisedTakeoverMs(layout: Layout): number {
  const perNode = layout.settings.get(layout.resources[0])!;
  const p = layout.nodes.find((n) => n.role === "primary");
  const s = layout.nodes.find((n) => n.role === "secondary");
  const w = layout.nodes.find((n) => n.role === "watchdog");
  if (!p || !s) return Infinity;
  const ps = perNode.get(p.name)!, ss = perNode.get(s.name)!;
  return computeTimeline(ps, ss, w ? perNode.get(w.name)!.heartbeatIntervalMs : null, {
    hasPanic: ps.hasPanic,
  }).worstTakeoverMs;
}

/** Draw a random fault schedule for a seed. */
export function randomSchedule(
  rng: Rng,
  layout: Layout,
  kinds: readonly FaultKind[],
  max: number,
  I: number,
): Fault[] {
  const count = rng.int(1, Math.max(1, max));
  const names = layout.nodes.map((n) => n.name);
  const primary = layout.nodes.find((n) => n.role === "primary")?.name ?? names[0];
  const watchdogs = layout.nodes.filter((n) => n.role === "watchdog").map((n) => n.name);
  const faults: Fault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(kinds);
    // "Both nodes started as primary" happens at start.
    const at = kind === "both-primary" ? 0 : rng.range(8 * I, 30 * I);
    const duration = rng.range(1 * I, 20 * I);
    // Faults aim at the primary more often: that is where safety is at stake.
    const target = rng.chance(0.6) ? primary : rng.pick(names);
    let nodes: NodeId[] = [target];
    if (kind === "partition" || kind === "asymmetric" || kind === "flap" || kind === "lossy") {
      const other = rng.pick(names.filter((n) => n !== target));
      nodes = [target, other];
    }
    if (kind === "watchdog-down" && watchdogs.length > 0) nodes = [rng.pick(watchdogs)];
    if (kind === "operator-primary" || kind === "inflated-claims" || kind.startsWith("fence")) {
      nodes = [primary];
    }
    faults.push({ kind, at, duration, nodes });
  }
  return faults.sort((a, b) => a.at - b.at);
}

/** Play one seeded run and judge it. */
export function runScenario(opts: RunOptions): RunResult {
  const rng = new Rng(opts.seed ^ 0x9e3779b9);
  const kinds = opts.faults ?? FAULT_KINDS;
  const I = intervalOf(opts.layout);
  const faults = opts.schedule ??
    randomSchedule(rng, opts.layout, kinds, opts.maxFaults ?? 2, I);
  const layout = faults.some((f) => f.kind.startsWith("fence"))
    ? withFence(opts.layout)
    : opts.layout;
  const cluster = new Cluster({
    seed: opts.seed,
    settings: layout.settings,
    net: opts.net ?? defaultNet(I),
    hooks: opts.hooks ?? defaultHooks(I),
    clockSkew: 0.1,
    defects: opts.defects,
  });
  const bothPrimary = faults.some((f) => f.kind === "both-primary" && f.at === 0);
  for (const n of layout.nodes) {
    if (bothPrimary && n.role === "secondary") {
      // As if its state file said primary at epoch 1 (the same file format as the daemon's).
      const texts = new Map(layout.resources.map((r) => [
        r,
        JSON.stringify({
          version: 1,
          resource: r,
          role: "primary",
          epoch: 1,
          maxEpoch: 1,
          grantHolder: null,
          grantHoldMs: null,
        }) + "\n",
      ]));
      cluster.startDaemon(n.name, { stateTexts: texts });
    } else cluster.startDaemon(n.name);
  }
  for (const f of faults) schedule(cluster, layout, f, rng);
  const lastHeal = Math.max(0, ...faults.map((f) => f.at + f.duration));
  const promised = promisedTakeoverMs(layout);
  const end = Math.max(lastHeal, 30 * I) + 3 * promised + 20 * I;
  const failovers: number[] = [];
  // Measure failover when the only fault is the primary dying.
  const single = faults.length === 1 &&
    (faults[0].kind === "crash" || faults[0].kind === "kill-daemon") &&
    faults[0].nodes[0] === layout.nodes.find((n) => n.role === "primary")?.name;
  cluster.runUntil(end);
  if (single) {
    const f = faults[0];
    const r = layout.resources[0];
    const next = cluster.checker.activations.find((a) =>
      a.t > f.at && a.resource === r && a.node !== f.nodes[0]
    );
    if (next) {
      const took = next.t - f.at;
      failovers.push(took);
      if (took > promised) {
        cluster.checker.report(
          "slow-failover",
          r,
          `failover took ${took.toFixed(0)} ms, promised ${promised.toFixed(0)} ms`,
        );
      }
    } else if (f.duration > promised + 2 * I) {
      cluster.checker.report("no-failover", r, `no node took over after the primary died`);
    }
  }
  // Faults of these kinds on one node must not cause a long outage (on two at once they
  // may: a lost quorum is an outage by design).
  const targets = new Set(faults.flatMap((f) => f.nodes));
  if (targets.size === 1 && faults.every((f) => RECOVERABLE.has(f.kind))) {
    const s0 = layout.settings.get(layout.resources[0])!.values().next().value!;
    const bound = promised + (s0.attempts + 2) * I + 2 * s0.hookTimeoutMs;
    for (const r of layout.resources) {
      const out = cluster.checker.outage(r);
      if (out > bound) {
        cluster.checker.report(
          "no-failover",
          r,
          `the service ran nowhere for ${(out / 1000).toFixed(3)}s (bound ${
            (bound / 1000).toFixed(3)
          }s)`,
        );
      }
    }
  }
  // Two nodes told to be primary at once: exactly one must start, at once (never both yield).
  if (bothPrimary) {
    const first = cluster.checker.activations[0];
    if (!first || first.t > 3 * I) {
      cluster.checker.report(
        "no-failover",
        layout.resources[0],
        `both nodes were primary at start and nobody started within ${3 * I} ms`,
      );
    }
  }
  // After every fault healed, some node must run each resource.
  for (const r of layout.resources) {
    if (cluster.activeNodes(r).length !== 1) {
      cluster.checker.report(
        "no-failover",
        r,
        `${cluster.activeNodes(r).length} nodes active at the end, long after the faults healed`,
      );
    }
  }
  return {
    seed: opts.seed,
    violations: cluster.checker.violations,
    failovers,
    faults,
    transcript: cluster.transcriptText(60),
  };
}

/** A member of the first resource, at random. */
function pickMember(layout: Layout, rng: Rng): string {
  const perNode = layout.settings.get(layout.resources[0])!;
  return rng.pick(perNode.values().next().value!.members.map((x) => x.name));
}

/** The node whose daemon says it is primary for `resource` now, if any. */
function currentPrimary(c: Cluster, resource: string): NodeId | null {
  for (const n of c.nodes.values()) {
    if (n.runtime?.machine(resource)?.role === "primary") return n.name;
  }
  return null;
}

function schedule(c: Cluster, layout: Layout, f: Fault, rng: Rng) {
  const [a, b] = f.nodes;
  const end = f.at + f.duration;
  const names = layout.nodes.map((n) => n.name);
  const I = intervalOf(layout);
  const r0 = layout.resources[0];
  const isolate = (x: NodeId) => {
    c.note("net", `PARTITION ${x} | ${names.filter((n) => n !== x).join(",")}`);
    for (const n of names) if (n !== x) (c.block(x, n), c.block(n, x));
  };
  switch (f.kind) {
    case "crash":
      c.at(f.at, () => c.crash(a));
      c.at(end, () => c.startDaemon(a));
      break;
    case "kill-daemon":
      c.at(f.at, () => c.killDaemon(a));
      c.at(end, () => c.startDaemon(a));
      break;
    case "restart-lost-state":
      c.at(f.at, () => c.crash(a));
      c.at(end, () => c.startDaemon(a, { loseState: true }));
      break;
    case "restart-damaged-state":
      // Power lost and the state journal found damaged: every state reads back as the
      // journal's "lost" record, so the node starts quarantined.
      c.at(f.at, () => c.crash(a));
      c.at(end, () => c.startDaemon(a, { damageState: true }));
      break;
    case "pause":
      c.at(f.at, () => c.pause(a));
      c.at(end, () => c.resume(a));
      break;
    case "partition":
      // a alone on one side.
      c.at(f.at, () => isolate(a));
      c.at(end, () => (c.note("net", "heal"), c.heal()));
      break;
    case "asymmetric":
      c.at(f.at, () => (c.note("net", `BLOCK ${a} -> ${b}`), c.block(a, b)));
      c.at(end, () => (c.note("net", "heal"), c.heal()));
      break;
    case "flap": {
      let t = f.at;
      let down = true;
      while (t < end) {
        const d = down;
        c.at(t, () => (d ? (c.block(a, b), c.block(b, a)) : (c.unblock(a, b), c.unblock(b, a))));
        t += rng.range(0.2 * I, 3 * I);
        down = !down;
      }
      c.at(f.at, () => c.note("net", `FLAP ${a} <-> ${b}`));
      c.at(end, () => (c.note("net", "heal"), c.heal()));
      break;
    }
    case "lossy":
      c.at(f.at, () => {
        c.note("net", `LOSSY ${a} <-> ${b}`);
        c.degrade(a, b, 0.5, I);
        c.degrade(b, a, 0.5, I);
      });
      c.at(end, () => (c.note("net", "heal"), c.heal()));
      break;
    case "both-primary": {
      const secondaries = layout.nodes.filter((n) => n.role !== "watchdog").map((n) => n.name);
      if (f.at > 0) {
        c.at(f.at, () => {
          for (const n of secondaries) c.command(n, r0, { role: "primary" });
        });
      }
      break;
    }
    case "watchdog-down":
      c.at(f.at, () => c.crash(a));
      c.at(end, () => c.startDaemon(a));
      break;
    case "service-dies":
      c.at(f.at, () => c.serviceDies(a));
      break;
    case "slow-start":
      // Start hooks take several leases; the service dies so that one is needed.
      c.at(f.at, () => (c.note(a, "start hook slow"), c.setHang(a, "start", true)));
      c.at(f.at + I, () => c.serviceDies(a));
      c.at(end, () => c.setHang(a, "start", false));
      break;
    case "slow-return":
      // Replies to the node get slower and slower (a queue building up), with no gap
      // long enough to lose the lease by itself.
      c.at(f.at, () => c.note("net", `SLOWER and slower links into ${a}`));
      for (let k = 1; f.at + k * I < end; k++) {
        const extra = Math.min(5, 0.5 * k) * I;
        c.at(f.at + k * I, () => {
          for (const n of names) if (n !== a) c.degrade(n, a, 0, extra);
        });
      }
      c.at(end, () => c.heal());
      break;
    case "hung-status":
      c.at(f.at, () => (c.note(a, "status hook hangs"), c.setHang(a, "status", true)));
      c.at(end, () => c.setHang(a, "status", false));
      break;
    case "hung-stop":
      c.at(f.at, () => (c.note(a, "stop hook hangs"), c.setHang(a, "stop", true)));
      c.at(end, () => {
        c.setHang(a, "stop", false);
        // A node that panicked comes back.
        if (!c.nodes.get(a)!.powered) c.startDaemon(a);
      });
      break;
    case "reload": {
      // A new file changes node a's section (its lease grows or shrinks, its stop bound
      // doubles or halves); a is sent SIGHUP in the middle of a lease, the others only at
      // the end of the fault: until then they hold a's old numbers.
      const count = f.reload?.complaintCount ?? rng.int(2, 6);
      const stop = f.reload?.stopFactor ?? (rng.chance(0.5) ? 2 : 0.5);
      const entry = { leaseMs: 0, stopTimeoutMs: 0 };
      c.at(f.at, () =>
        c.reload(a, (s) => {
          const t = { ...s, complaintCount: count, stopTimeoutMs: s.stopTimeoutMs * stop };
          entry.leaseMs = leaseMs(t);
          entry.stopTimeoutMs = t.stopTimeoutMs;
          t.nodes = s.nodes.map((n) => n.name === a ? { ...n, ...entry } : n);
          return t;
        }));
      c.at(end, () => {
        for (const n of names) {
          if (n === a) continue;
          c.reload(n, (s) => ({
            ...s,
            nodes: s.nodes.map((x) => x.name === a ? { ...x, ...entry } : x),
          }));
        }
      });
      break;
    }
    case "disk-full":
      c.at(f.at, () => (c.note(a, "disk full"), c.nodes.get(a)!.faults.diskFull = true));
      c.at(end, () => (c.note(a, "disk has room again"), c.nodes.get(a)!.faults.diskFull = false));
      break;
    case "kill-between": {
      const acts = rng.int(1, 12);
      c.at(f.at, () => {
        c.note(a, `daemon will be killed at its ${acts}th act`);
        c.nodes.get(a)!.faults.killAfterActs = acts;
      });
      c.at(end, () => {
        const node = c.nodes.get(a)!;
        node.faults.killAfterActs = null;
        if (!node.daemonUp && node.powered) c.startDaemon(a);
      });
      break;
    }
    case "switchover":
      c.at(f.at, () => {
        const p = currentPrimary(c, r0);
        if (p) c.command(p, r0, { role: "secondary" });
      });
      break;
    case "operator-primary": {
      // The operator makes the secondary primary while the primary cannot reach the watchdog.
      const w = layout.nodes.find((n) => n.role === "watchdog")?.name;
      const s = layout.nodes.find((n) => n.role === "secondary")?.name;
      if (!w || !s) break;
      c.at(f.at, () => {
        c.note("net", `CUT ${a} <-> ${w}`);
        c.block(a, w);
        c.block(w, a);
      });
      c.at(f.at + I, () => c.command(s, r0, { role: "primary" }));
      c.at(end, () => (c.note("net", "heal"), c.heal()));
      break;
    }
    case "sigterm":
      c.at(f.at, () => c.terminate(a));
      c.at(end, () => {
        const node = c.nodes.get(a)!;
        if (!node.daemonUp && node.powered) c.startDaemon(a);
      });
      break;
    case "sigterm-hung-stop":
      c.at(f.at, () => (c.note(a, "stop hook hangs"), c.setHang(a, "stop", true)));
      c.at(f.at + I / 2, () => c.terminate(a));
      c.at(end, () => {
        c.setHang(a, "stop", false);
        const node = c.nodes.get(a)!;
        if (!node.daemonUp) c.startDaemon(a);
      });
      break;
    case "fence-ok":
    case "fence-fail":
    case "fence-hang": {
      const mode = f.kind === "fence-ok" ? "ok" : f.kind === "fence-fail" ? "fail" : "hang";
      for (const n of c.nodes.values()) n.faults.fence = mode;
      // The primary is cut off: the secondary fences it (or tries) before taking over.
      c.at(f.at, () => isolate(a));
      c.at(end, () => {
        c.note("net", "heal");
        c.heal();
        const node = c.nodes.get(a)!;
        if (!node.powered) c.startDaemon(a);
      });
      break;
    }
    case "member-crashloop": {
      // One member keeps dying after each start: the monitor restarts it, then gives over.
      const m = pickMember(layout, rng);
      c.at(f.at, () => {
        c.note(a, `member ${m} crash-loops`);
        c.nodes.get(a)!.faults.crashloop = m;
        c.memberDies(a, r0, m);
      });
      c.at(end, () => c.nodes.get(a)!.faults.crashloop = null);
      break;
    }
    case "member-start-fails": {
      const m = pickMember(layout, rng);
      c.at(f.at, () => {
        c.note(a, `member ${m}: start fails`);
        c.nodes.get(a)!.faults.startFails = m;
        c.memberDies(a, r0, m);
      });
      c.at(end, () => c.nodes.get(a)!.faults.startFails = null);
      break;
    }
    case "member-stop-hangs": {
      // One member's stop hangs, and a restart of it is asked for where it runs.
      const m = pickMember(layout, rng);
      c.at(
        f.at,
        () => (c.note(a, `member ${m}: stop hangs`), c.nodes.get(a)!.faults.stopHangs = m),
      );
      c.at(f.at + I / 2, () => c.request(a, r0, { optag: "RESOURCE_RESTART", member: m }));
      c.at(end, () => {
        c.nodes.get(a)!.faults.stopHangs = null;
        if (!c.nodes.get(a)!.powered) c.startDaemon(a);
      });
      break;
    }
    case "giveover":
      c.at(f.at, () => {
        const p = currentPrimary(c, r0);
        if (p) c.request(p, r0, { optag: "GIVEOVER", member: pickMember(layout, rng) });
      });
      break;
    case "restart":
      c.at(f.at, () => {
        const p = currentPrimary(c, r0);
        const optag = rng.chance(0.5) ? "RESTART" : "RESOURCE_RESTART";
        if (p) c.request(p, r0, { optag, member: pickMember(layout, rng) });
      });
      break;
    case "check-veto":
      // A candidate vetoes every giveover check while a giveover is asked for.
      c.at(
        f.at,
        () => (c.note(a, "monitor_check vetoes"), c.nodes.get(a)!.faults.vetoCheck = true),
      );
      c.at(f.at + I, () => {
        const p = currentPrimary(c, r0);
        if (p) c.request(p, r0, { optag: "GIVEOVER", member: pickMember(layout, rng) });
      });
      c.at(end, () => c.nodes.get(a)!.faults.vetoCheck = false);
      break;
    case "inflated-claims":
      // The primary claims a lease and stop bound 50 times longer than the file gives it,
      // then dies: the others must not wait for its claim.
      c.at(
        f.at,
        () => (c.note(a, "claims 50x its lease"), c.nodes.get(a)!.faults.inflateClaims = 50),
      );
      c.at(f.at + 3 * I, () => c.crash(a));
      // Down long enough that a failover that waits for the claim shows as an outage.
      c.at(f.at + 3 * I + Math.max(f.duration, 30 * I), () => {
        c.nodes.get(a)!.faults.inflateClaims = 1;
        c.startDaemon(a);
      });
      break;
  }
}
