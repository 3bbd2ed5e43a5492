/**
 * A mutation audit of the failover core: small wrong changes to src/core
 * (a comparison flipped, a margin dropped, an argument of Math.max removed, a
 * condition deleted), applied one at a time to a scratch copy of the tree,
 * each followed by the tests that should notice: the core's unit tests, the
 * runtime's, the simulation suite, and a sweep of seeded simulations across
 * layouts (scripts/sim_sweep.ts). A mutant no test fails on "survives".
 *
 *     deno run -A scripts/mutants.ts [--only NAME,NAME] [--keep]
 *
 * Prints one line per mutant and the survivors at the end. Survivors that
 * matter for safety are killed with a test, or docs/SAFETY.md says why they
 * are equivalent. Exits 1 when one survives or cannot be applied any more
 * (its text changed in the source: a mutant that is not applied tests nothing).
 */

interface Mutant {
  name: string;
  file: string;
  from: string;
  to: string;
  /** What the change breaks, in words. */
  why: string;
}

/** The mutants, from the audit of issue 7 and the new mechanisms of the runtime rework. */
export const MUTANTS: Mutant[] = [
  {
    name: "selfVote-always",
    file: "src/core/lease.ts",
    from: "return !g || g.holder.node === m.settings.self || g.until <= m.now;",
    to: "return true;",
    why: "a node counts its own vote while it honours another holder's lease",
  },
  {
    name: "release-while-active",
    file: "src/core/roles.ts",
    from: "if (!r || mayBeActive(m)) return;",
    to: "if (!r) return;",
    why: "the lease is released (to a successor) before the stop completed",
  },
  {
    name: "mayBeActive-no-dirty",
    file: "src/core/state.ts",
    from: 'm.members.some((x) => x.dirty || x.state !== "stopped")',
    to: 'm.members.some((x) => x.state !== "stopped")',
    why: "a started member that stopped by itself counts as inactive before its stop",
  },
  {
    name: "takeover-wait-own-only",
    file: "src/core/takeover.ts",
    from: "lease = Math.max(lease, n.leaseMs);",
    to: "lease = Math.max(lease, lease);",
    why: "the takeover wait ignores the longer lease the file gives the old primary",
  },
  {
    name: "takeover-stop-own-only",
    file: "src/core/takeover.ts",
    from: "stop = Math.max(stop, n.stopTimeoutMs);",
    to: "stop = Math.max(stop, stop);",
    why: "the takeover wait ignores the old primary's longer stop bound",
  },
  {
    name: "grant-hold-minus-two-timeouts",
    file: "src/core/lease.ts",
    from: "holdMs(lease, stop, m.settings.clockSkew, m.settings.timeoutMs);",
    to:
      "holdMs(lease, stop, m.settings.clockSkew, m.settings.timeoutMs) - 2 * m.settings.timeoutMs;",
    why: "granters honour a lease two timeouts less than the timing rule says",
  },
  {
    name: "grant-uncapped-lease",
    file: "src/core/lease.ts",
    from: "const lease = trust ? askLeaseMs : Math.min(askLeaseMs, cfg.leaseMs);",
    to: "const lease = askLeaseMs;",
    why: "a claimant's lease is not capped by the configuration",
  },
  {
    name: "grantEnd-no-stop-excess",
    file: "src/core/lease.ts",
    from: "return g.sentAt + g.leaseMs - Math.max(0, m.settings.stopTimeoutMs - g.stopMs);",
    to: "return g.sentAt + g.leaseMs;",
    why: "a primary whose stop takes longer than the granter covers keeps the full lease",
  },
  {
    name: "ack-credits-granted-not-asked",
    file: "src/core/lease.ts",
    from: ": Math.min(msg.leaseMs, asked?.leaseMs ?? msg.leaseMs);",
    to: ": msg.leaseMs;",
    why: "a grant is credited beyond what the request asked for",
  },
  {
    name: "lease-from-receipt",
    file: "src/core/lease.ts",
    from: "const sentAt = m.defects.renewOnReceipt ? m.now : asked!.at;",
    to: "const sentAt = m.now;",
    why: "the lease counts from the ack's arrival, not from the request's send time",
  },
  {
    name: "self-fence-late",
    file: "src/core/lease.ts",
    from: "if (m.leaseUntil !== null && m.now >= m.leaseUntil) {",
    to: "if (m.leaseUntil !== null && m.now >= m.leaseUntil + m.settings.timeoutMs) {",
    why: "the primary stops one timeout after its lease ran out",
  },
  {
    name: "start-without-lease-left",
    file: "src/core/group.ts",
    from: "m.leaseUntil - m.now >= m.settings.timeoutMs);",
    to: "m.leaseUntil - m.now >= 0);",
    why: "a start may begin with a lease about to run out",
  },
  {
    name: "next-member-without-lease",
    file: "src/core/group.ts",
    from: '      if (!leaseAllowsStart(m)) {\n        log(fx, "warning", "start interrupted',
    to: '      if (false) {\n        log(fx, "warning", "start interrupted',
    why: "the next member starts without checking the lease",
  },
  {
    name: "no-cancel-on-step-down",
    file: "src/core/roles.ts",
    from: "    cancelStart(m, fx);\n    widenStop(m, stopBy);",
    to: "    widenStop(m, stopBy);",
    why: "a start in flight is left running when the primary steps down",
  },
  {
    name: "hold-no-skew",
    file: "src/core/timing.ts",
    from: "return (lease + stopTimeout) * (1 + clockSkew) + timeout;",
    to: "return (lease + stopTimeout) + timeout;",
    why: "the hold is not stretched by the clock-rate bound",
  },
  {
    name: "hold-no-timeout",
    file: "src/core/timing.ts",
    from: "return (lease + stopTimeout) * (1 + clockSkew) + timeout;",
    to: "return (lease + stopTimeout) * (1 + clockSkew);",
    why: "the hold has no margin of one timeout",
  },
  {
    name: "complaints-at-threshold",
    file: "src/core/takeover.ts",
    from: "return recentComplaints(m).length > m.settings.complaintCount &&",
    to: "return recentComplaints(m).length >= m.settings.complaintCount &&",
    why: "a takeover on complaint_count complaints instead of more",
  },
  {
    name: "complaints-while-connected",
    file: "src/core/takeover.ts",
    from: "  if (primaryConnected(m) && !m.defects.countComplaintsWhileConnected) {\n    log(",
    to: "  if (false) {\n    log(",
    why: "complaints banked while the primary is connected count",
  },
  {
    name: "complaints-kept-on-reconnect",
    file: "src/core/machine.ts",
    from:
      "if (m.complaints.length > 0 && !m.defects.countComplaintsWhileConnected) m.complaints = [];",
    to: "",
    why: "complaints survive the primary being heard again",
  },
  {
    name: "no-better-claimant-check",
    file: "src/core/lease.ts",
    from: "  const better = betterWaitingClaimant(m, claim);\n  if (better) {",
    to: "  const better = betterWaitingClaimant(m, claim);\n  if (false && better) {",
    why: "a granter keeps renewing a holder while a better claimant waits",
  },
  {
    name: "grant-while-held",
    file: "src/core/lease.ts",
    from: "if (g && g.holder.node !== claim.node && g.until > m.now) {",
    to: "if (g && g.holder.node !== claim.node && g.until > m.now + 1e9) {",
    why: "grants are not exclusive",
  },
  {
    name: "grant-while-active",
    file: "src/core/lease.ts",
    from:
      'if (m.role !== "watchdog" && mayBeActive(m)) {\n    return { granted: false, reason: `local service is',
    to: "if (false) {\n    return { granted: false, reason: `local service is",
    why: "a node grants a lease while its own service may run",
  },
  {
    name: "beats-priority-flipped",
    file: "src/core/state.ts",
    from: "if (a.priority !== b.priority) return a.priority < b.priority;",
    to: "if (a.priority !== b.priority) return a.priority > b.priority;",
    why: "the higher priority number wins",
  },
  {
    name: "no-freeze-staleness",
    file: "src/core/machine.ts",
    from: "    m.staleUntil = ev.now + m.settings.timeoutMs;\n",
    to: "",
    why: "complaints that waited in a buffer while frozen count",
  },
  // Changes nothing with one secondary (every release names it); killed on two (audit_test.ts).
  {
    name: "handover-to-anyone",
    file: "src/core/lease.ts",
    from: 'msg.successor === m.settings.self && m.role === "secondary" && !m.shuttingDown &&',
    to: 'msg.successor !== null && m.role === "secondary" && !m.shuttingDown &&',
    why: "any secondary promotes on a release naming another node",
  },
  {
    name: "fenced-voids-any-grant",
    file: "src/core/lease.ts",
    from:
      "if (m.grant && m.grant.holder.node === msg.node && m.grant.holder.epoch <= msg.nodeEpoch) {",
    to: "if (m.grant) {",
    why: "a fence report voids whatever lease the granter honours",
  },
  {
    name: "silence-max",
    file: "src/core/takeover.ts",
    from: "silence = Math.min(silence, c.silenceMs + (m.now - c.at));",
    to: "silence = Math.max(silence, c.silenceMs + (m.now - c.at));",
    why: "the longest reported silence, not the shortest, decides",
  },
  {
    name: "takeover-half-wait",
    file: "src/core/takeover.ts",
    from: "if (silence > wait + defer || fenced || m.defects.noLeaseWait) {",
    to: "if (silence > wait / 2 + defer || fenced || m.defects.noLeaseWait) {",
    why: "a secondary waits half the hold",
  },
  {
    name: "stale-probe-counts",
    file: "src/core/group.ts",
    from: "if (stale || m.busy || m.op) return;",
    to: "if (m.busy || m.op) return;",
    why: "a probe that began before a start or stop decides the state after it",
  },
  {
    name: "stop-each-member-full-timeout",
    file: "src/core/group.ts",
    from: 'runMemberHook(m, fx, "stop", x, Math.max(1, op.deadline - m.now));',
    to: 'runMemberHook(m, fx, "stop", x, m.settings.stopTimeoutMs);',
    why: "each member's stop gets a whole stop_timeout: the group's stop overruns it",
  },
  {
    name: "quorum-minority",
    file: "src/core/state.ts",
    from: "return Math.floor(m.settings.nodes.length / 2) + 1;",
    to: "return Math.floor(m.settings.nodes.length / 2);",
    why: "a lease needs less than a majority",
  },
  // Changes nothing with 2-3 nodes (the quorum needs one peer); killed on five (audit_test.ts).
  {
    name: "lease-from-best-grant",
    file: "src/core/lease.ts",
    from: "until = ends.length >= need ? ends[need - 1] : null;",
    to: "until = ends.length >= need ? ends[0] : null;",
    why: "the lease ends with the latest grant instead of the quorum's",
  },
  {
    name: "watchdog-may-hold-lease",
    file: "src/core/lease.ts",
    from:
      "if (cfg.watchdog) return { granted: false, reason: `${claim.node} is configured as a watchdog` };",
    to: "",
    why: "a configured watchdog can be granted a lease",
  },
  {
    name: "guard-armed-later",
    file: "src/core/group.ts",
    from: "const until = unbounded ? null : m.leaseUntil;",
    to:
      "const until = unbounded ? null : m.leaseUntil === null ? null : m.leaseUntil + m.settings.complaintCount * m.settings.heartbeatIntervalMs;",
    why: "the guard is armed a lease later than the lease ends",
  },
  {
    name: "restored-grant-own-hold",
    file: "src/core/machine.ts",
    from: "const h = Math.max(hold(m), state.grantHoldMs ?? 0);",
    to: "const h = hold(m);",
    why: "a restarted granter honours a persisted grant only for its own hold",
  },
  {
    name: "quarantine-none",
    file: "src/core/machine.ts",
    from: "    m.quarantineUntil = now + longestHold(m);\n",
    to: "",
    why: "an unusable state file does not hold grants and starts back",
  },
  {
    name: "quarantine-not-persisted",
    file: "src/core/state.ts",
    from: "...(quarantined(m) ? { quarantineMs: m.quarantineUntil - m.now } : {}),",
    to: "...({}),",
    why: "a state written during a quarantine ends it at the next restart",
  },
  {
    name: "quarantine-not-restored",
    file: "src/core/machine.ts",
    from: "if (state?.quarantineMs) {",
    to: "if (state?.quarantineMs && false) {",
    why: "a restart within a quarantine grants at once",
  },
];

interface Options {
  only: string[] | null;
  keep: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { only: null, keep: false };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--only") o.only = (args[++i] ?? "").split(",");
    else if (args[i] === "--keep") o.keep = true;
    else {
      console.error(`usage: deno run -A scripts/mutants.ts [--only NAME,NAME] [--keep]`);
      Deno.exit(64);
    }
  }
  return o;
}

const ROOT = new URL("../", import.meta.url).pathname;

async function run(cmd: string[], cwd: string, timeoutMs: number): Promise<boolean> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  return status.success;
}

/** The checks every mutant faces; true when all pass (the mutant survives). */
async function checks(dir: string): Promise<string | null> {
  const deno = Deno.execPath();
  const suites: [string, string[]][] = [
    ["core and runtime unit tests", [deno, "test", "-A", "--no-check", "src/core", "src/runtime"]],
    ["simulation suite", [deno, "test", "-A", "--no-check", "tests/sim_test.ts"]],
    ["simulation sweep", [deno, "run", "-A", "--no-check", "scripts/sim_sweep.ts"]],
  ];
  for (const [name, cmd] of suites) {
    if (!await run(cmd, dir, 600_000)) return name;
  }
  return null;
}

async function main() {
  const o = parseArgs(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "hastmon-mutants-" });
  // A scratch copy of the sources and tests (and the dependency cache's setting).
  for (const entry of ["src", "tests", "scripts", "deno.json", "deno.lock", "main.ts"]) {
    await new Deno.Command("cp", { args: ["-r", `${ROOT}${entry}`, `${dir}/`] }).output();
  }
  await new Deno.Command("cp", { args: ["-r", `${ROOT}node_modules`, `${dir}/`] }).output();
  const baseline = await checks(dir);
  if (baseline) {
    console.error(`the unmutated tree fails its ${baseline}: fix that first`);
    Deno.exit(1);
  }
  const survivors: Mutant[] = [];
  // A mutant whose text is gone tests nothing: it fails the run, it is not "killed".
  const stale: Mutant[] = [];
  const selected = MUTANTS.filter((m) => !o.only || o.only.includes(m.name));
  for (const m of selected) {
    const path = `${dir}/${m.file}`;
    const original = await Deno.readTextFile(path);
    const at = original.indexOf(m.from);
    if (at < 0 || original.indexOf(m.from, at + 1) >= 0) {
      console.log(`?? ${m.name}: the text to change is not found exactly once in ${m.file}`);
      stale.push(m);
      continue;
    }
    await Deno.writeTextFile(
      path,
      original.slice(0, at) + m.to + original.slice(at + m.from.length),
    );
    const t0 = performance.now();
    const killedBy = await checks(dir);
    await Deno.writeTextFile(path, original);
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    if (killedBy) console.log(`killed   ${m.name} (by the ${killedBy}, ${s} s): ${m.why}`);
    else {
      survivors.push(m);
      console.log(`SURVIVED ${m.name} (${s} s): ${m.why}`);
    }
  }
  const applied = selected.length - stale.length;
  console.log(
    `\n${applied - survivors.length} of ${applied} mutants killed; ` +
      `survivors: ${survivors.map((m) => m.name).join(", ") || "none"}` +
      (stale.length > 0
        ? `; not applied (update their text): ${stale.map((m) => m.name).join(", ")}`
        : ""),
  );
  if (!o.keep) await Deno.remove(dir, { recursive: true });
  else console.log(`scratch tree kept in ${dir}`);
  if (survivors.length > 0 || stale.length > 0) Deno.exit(1);
}

if (import.meta.main) await main();
