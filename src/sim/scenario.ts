/**
 * Scenarios for the simulator: a cluster layout, a list of timed faults, and
 * the runner that plays one seeded run and judges it.
 */
import type { Defects } from "../core/machine.ts";
import { computeTimeline } from "../core/timing.ts";
import type { NodeId, ResourceSettings, Role } from "../core/types.ts";
import { Cluster, type HookModel, type NetModel } from "./cluster.ts";
import { Rng } from "./rng.ts";
import type { Violation } from "./checker.ts";

/** Every fault the simulator can inject (PRODUCT.md §3.1 and the list). */
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
  "service-dies",
  "slow-return",
  "slow-start",
] as const;
export type FaultKind = typeof FAULT_KINDS[number];

/** Faults after which the service must come back quickly, wherever it runs. */
const RECOVERABLE = new Set<FaultKind>([
  "crash",
  "kill-daemon",
  "pause",
  "restart-lost-state",
  "both-primary",
  "hung-status",
  "service-dies",
]);

/** A fault placed at a time, lasting a while (ms of real time). */
export interface Fault {
  kind: FaultKind;
  at: number;
  duration: number;
  /** Target nodes, chosen by the generator. */
  nodes: NodeId[];
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
  faults?: FaultKind[];
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

/** A layout with the classic hastmon cluster: two nodes and a watchdog, fast timings. */
export function defaultLayout(opts: {
  nodes?: string[];
  resources?: number;
  heartbeatMs?: number;
  hasPanic?: boolean;
  equalPriorities?: boolean;
  /** Fractions of the heartbeat interval (default 1). */
  timeoutRatio?: number;
  stopTimeoutRatio?: number;
} = {}): Layout {
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
    for (const n of nodes) {
      perNode.set(n.name, {
        name: r,
        self: n.name,
        nodes: nodes.map((x) => ({ name: x.name, priority: x.priority })),
        peers: nodes.filter((x) => x.name !== n.name).map((x) => x.name),
        priority: n.priority,
        roleOnStart: n.role,
        heartbeatIntervalMs: I,
        complaintCount: 3,
        complaintIntervalMs: 10 * I,
        timeoutMs: I * (opts.timeoutRatio ?? 1),
        attempts: 5,
        stopTimeoutMs: I * (opts.stopTimeoutRatio ?? 1),
        clockSkew: 0.1,
        hookTimeoutMs: 2 * I,
        // Starts may take long (a database recovering): longer than a lease.
        methodTimeoutMs: { start: 8 * I },
        hasPanic: opts.hasPanic ?? true,
        hasFence: false,
      });
    }
    settings.set(r, perNode);
  }
  return { nodes, resources, settings };
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
    faults.push({ kind, at, duration, nodes });
  }
  return faults.sort((a, b) => a.at - b.at);
}

/** Play one seeded run and judge it. */
export function runScenario(opts: RunOptions): RunResult {
  const { layout } = opts;
  const I = intervalOf(layout);
  const rng = new Rng(opts.seed ^ 0x9e3779b9);
  const kinds = opts.faults ?? FAULT_KINDS;
  const faults = opts.schedule ?? randomSchedule(rng, layout, kinds, opts.maxFaults ?? 2, I);
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
    const role = bothPrimary && n.role === "secondary" ? "primary" : null;
    if (role) {
      cluster.startDaemon(n.name, {
        roleOverride: { role: "primary", epoch: 1, maxEpoch: 1, grantHolder: null },
      });
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

function schedule(c: Cluster, layout: Layout, f: Fault, rng: Rng) {
  const [a, b] = f.nodes;
  const end = f.at + f.duration;
  const names = layout.nodes.map((n) => n.name);
  const I = intervalOf(layout);
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
    case "pause":
      c.at(f.at, () => c.pause(a));
      c.at(end, () => c.resume(a));
      break;
    case "partition":
      // a alone on one side.
      c.at(f.at, () => {
        c.note("net", `PARTITION ${a} | ${names.filter((n) => n !== a).join(",")}`);
        for (const n of names) if (n !== a) (c.block(a, n), c.block(n, a));
      });
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
          for (const n of secondaries) c.command(n, layout.resources[0], { role: "primary" });
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
  }
}
