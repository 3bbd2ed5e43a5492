/** `hastmon simulate`: the failover core against a virtual clock, a simulated network and faults. */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import { nonNegativeInt, positiveInt } from "./options.ts";
import { type CliIO, type Register, setExitCode } from "./main.ts";
import { configPath, formatDiagnostic, loadConfig, resourceSettings } from "../config/mod.ts";
import { ConfigFileError } from "../config/load.ts";
import type { NodeId, ResourceSettings, Role } from "../core/types.ts";
import { defaultLayout, FAULT_KINDS, type FaultKind, type Layout } from "../sim/scenario.ts";
import { formatBatch, percentile, runBatch } from "../sim/run.ts";

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected seconds > 0");
  return n;
}

function faultList(v: string): FaultKind[] {
  const kinds = v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(`unknown fault "${k}" (one of: ${FAULT_KINDS.join(", ")})`);
    }
  }
  if (kinds.length === 0) throw new InvalidArgumentError("expected at least one fault");
  return kinds as FaultKind[];
}

function nodeList(v: string): string[] {
  const names = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length < 2 || new Set(names).size !== names.length) {
    throw new InvalidArgumentError("expected at least two distinct node names");
  }
  return names;
}

/**
 * Every node's settings of every usable resource of a configuration file. A
 * resource nobody starts as primary gets its best-priority node as primary
 * (as an operator would set it) so that there is something to fail over.
 */
async function layoutFromConfig(path: string, io: CliIO): Promise<Layout> {
  let result;
  try {
    result = await loadConfig(path, { node: "__simulate__" });
  } catch (e) {
    if (e instanceof ConfigFileError) throw new CliError(e.message, EX.NOINPUT);
    throw e;
  }
  const cfg = result.config;
  const fileErrors = result.errors.filter((e) =>
    !/no \[resource\..*\.on\.__simulate__/.test(e.message)
  );
  const usable = cfg?.resources.filter((r) =>
    r.errors.every((e) => e.message.includes("__simulate__"))
  );
  if (!cfg || !usable || usable.length === 0) {
    for (const e of fileErrors) io.err(formatDiagnostic(e) + "\n");
    throw new CliError(`${path}: no resource can be simulated`, EX.CONFIG);
  }
  const settings = new Map<string, Map<NodeId, ResourceSettings>>();
  let nodes: Layout["nodes"] = [];
  for (const res of usable) {
    const perNode = new Map<NodeId, ResourceSettings>();
    for (const n of res.nodes) perNode.set(n.node, resourceSettings(cfg, res.name, n.node));
    if (![...perNode.values()].some((s) => s.roleOnStart === "primary")) {
      const candidates = [...perNode.values()].filter((s) => s.roleOnStart !== "watchdog")
        .sort((a, b) => a.priority - b.priority || (a.self < b.self ? -1 : 1));
      candidates.forEach((s, i) => {
        s.roleOnStart = (i === 0 ? "primary" : "secondary") as Role;
      });
      if (candidates[0]) {
        io.err(
          `note: ${res.name}: no node starts as primary; simulating ${
            candidates[0].self
          } as primary\n`,
        );
      }
    }
    settings.set(res.name, perNode);
    if (nodes.length === 0) {
      nodes = [...perNode.values()].map((s) => ({
        name: s.self,
        role: s.roleOnStart,
        priority: s.priority,
      }));
    }
  }
  return { nodes, resources: [...settings.keys()], settings };
}

/** Register `hastmon simulate`. */
export const registerSimulate: Register = (program: Command, io: CliIO) => {
  program.command("simulate")
    .description(
      "run the failover core under injected faults on a virtual clock and network, and check " +
        "that no two nodes are ever active at once and that failover comes in time",
    )
    .option("--runs <n>", "number of seeded runs", positiveInt, 1000)
    .option("--seed <s>", "first seed (run i uses seed s+i)", nonNegativeInt, 1)
    .option("--nodes <a,b,w>", "node names; a name starting with w is a watchdog", nodeList)
    .option("--resources <n>", "resources per node", positiveInt, 1)
    .option(
      "--members <n>",
      "members per resource (a group; with several, each has monitor methods)",
      positiveInt,
      1,
    )
    .option("--interval <seconds>", "heartbeat_interval of the built-in cluster", seconds, 1)
    .option(
      "--faults <list>",
      `faults to draw from (default all): ${FAULT_KINDS.join(",")}`,
      faultList,
    )
    .option("--max-faults <n>", "at most this many faults per run", positiveInt, 2)
    .option("-c, --config <file>", "simulate the nodes and resources of this configuration")
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      `
Exit status: 0 when no run broke a promise, 1 when some did (each is printed with
its seed and the last events; rerun one with --runs 1 --seed SEED).

Examples:
  hastmon simulate --runs 10000
  hastmon simulate --runs 10000 --members 3        resource groups of three members
  hastmon simulate --faults partition,pause --max-faults 1 --interval 0.25
  hastmon simulate -c /usr/local/etc/hastmon.toml --runs 2000`,
    )
    .action(async (opts) => {
      const layout = opts.config
        ? await layoutFromConfig(configPath(opts.config), io)
        : defaultLayout({
          nodes: opts.nodes,
          resources: opts.resources,
          members: opts.members,
          heartbeatMs: opts.interval * 1000,
        });
      // A user's file is simulated with what it has: fence faults only where it has a fence
      // (the built-in cluster is given one for them).
      const hasFence = [...layout.settings.values()].some((perNode) =>
        [...perNode.values()].some((s) => s.hasFence)
      );
      let faults = opts.faults;
      if (opts.config && !hasFence && faults === undefined) {
        faults = FAULT_KINDS.filter((k) => !k.startsWith("fence"));
        io.err(`note: no node has a fence command: fence faults are left out\n`);
      }
      const started = performance.now();
      const batch = runBatch({
        runs: opts.runs,
        seed: opts.seed,
        layout,
        faults,
        maxFaults: opts.maxFaults,
      }, () => performance.now());
      const elapsed = (performance.now() - started) / 1000;
      if (opts.json) {
        io.out(
          JSON.stringify({
            version: 1,
            runs: batch.runs,
            violations: batch.violationCount,
            violations_after_broken_assumption: batch.assumptionCount,
            failing_seeds: batch.failures.map((f) => f.seed),
            failover_seconds: batch.failovers.length === 0 ? null : {
              count: batch.failovers.length,
              p50: percentile(batch.failovers, 50) / 1000,
              p90: percentile(batch.failovers, 90) / 1000,
              p99: percentile(batch.failovers, 99) / 1000,
              max: Math.max(...batch.failovers) / 1000,
            },
            elapsed_seconds: Number(elapsed.toFixed(3)),
          }) + "\n",
        );
      } else {
        io.out(formatBatch(batch) + "\n");
        io.out(`elapsed: ${elapsed.toFixed(1)}s\n`);
      }
      if (batch.violationCount > 0) setExitCode(1);
    });
};
