/**
 * How hooks are spawned, measured in one process: the daemon's hook runner
 * (`runHook`) with the native spawner (posix_spawn off the event loop,
 * src/daemon/native_spawn.ts) and with its fallback (`Deno.Command` through
 * util-linux `setsid`), alternating, several rounds each.
 *
 * Each round runs N status-like hooks (a shell script that tests a file and
 * exits) at RATE a second, as a primary with a thousand resources probing
 * every 10 s does (100 a second), with a timer every 5 ms beside them, as the
 * daemon's heartbeats and lease renewals are. Reported per way of spawning:
 *
 * - how late that timer ran (the event loop held): worst and 99th percentile;
 * - CPU of this process per hook (utime + stime), and of the hook processes
 *   (their reaped children's time), ms;
 * - the time from the first spawn to the last hook's end.
 *
 *   deno run -A scripts/bench_spawn.ts [--hooks 1000] [--rate 100] [--rounds 3]
 */
import { commandSpawn, nativeSpawn, runHook, type Spawn } from "../src/daemon/hooks.ts";
import { nativeSpawner } from "../src/daemon/native_spawn.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const HOOKS = arg("hooks", 1000);
const RATE = arg("rate", 100);
const ROUNDS = arg("rounds", 3);
const TICK_MS = 5;

/** utime + stime of this process, and of its reaped children, ms. */
function cpuMs(): { self: number; children: number } {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  // After the ") ": utime is field 11, stime 12, cutime 13, cstime 14 (0-based), in 1/100 s.
  return {
    self: (Number(f[11]) + Number(f[12])) * 10,
    children: (Number(f[13]) + Number(f[14])) * 10,
  };
}

interface Round {
  worstLateMs: number;
  p99LateMs: number;
  selfMsPerHook: number;
  hooksMsPerHook: number;
  seconds: number;
}

async function round(spawn: Spawn, script: string): Promise<Round> {
  const late: number[] = [];
  let due = performance.now() + TICK_MS;
  const tick = setInterval(() => {
    const now = performance.now();
    late.push(Math.max(0, now - due));
    due = now + TICK_MS;
  }, TICK_MS);
  const c0 = cpuMs();
  const t0 = performance.now();
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < HOOKS; i++) {
    runs.push(runHook({
      command: [script, "status", `r${i}`],
      env: { PATH: "/usr/bin:/bin" },
      timeoutMs: 10_000,
      graceMs: 1000,
    }, spawn));
    // Paced as probes spread over their interval are.
    const next = t0 + (i + 1) * 1000 / RATE;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await Promise.all(runs);
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuMs();
  clearInterval(tick);
  late.sort((a, b) => a - b);
  return {
    worstLateMs: late.at(-1) ?? 0,
    p99LateMs: late[Math.floor(late.length * 0.99)] ?? 0,
    selfMsPerHook: (c1.self - c0.self) / HOOKS,
    hooksMsPerHook: (c1.children - c0.children) / HOOKS,
    seconds,
  };
}

if (nativeSpawner() === null) throw new Error("the native spawner does not load here");
const dir = await Deno.makeTempDir({ prefix: "hastmon-bench-spawn-" });
const script = `${dir}/probe.sh`;
await Deno.writeTextFile(script, "#!/bin/sh\n[ -e /proc/1/stat ] || exit 1\nexit 0\n", {
  mode: 0o755,
});
const ways: [string, Spawn][] = [["native", nativeSpawn], ["Deno.Command", commandSpawn]];
const results = new Map<string, Round[]>(ways.map(([name]) => [name, []]));
try {
  await round(nativeSpawn, script); // warm-up: the JIT, the blocking pool's threads
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, spawn] of ways) {
      const result = await round(spawn, script);
      results.get(name)!.push(result);
      console.error(`${name} round ${r + 1}: ${JSON.stringify(result)}`);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const range = (xs: number[], f: (n: number) => string) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return f(lo) === f(hi) ? f(lo) : `${f(lo)}–${f(hi)}`;
};
console.log(
  `${HOOKS} hooks at ${RATE} a second, ${ROUNDS} rounds each, alternating (Deno ${Deno.version.deno})\n`,
);
console.log(
  "| spawn | timer late, worst ms | timer late, p99 ms | CPU of the daemon per hook, ms | CPU of the hook per hook, ms | from first spawn to last end, s |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, rs] of results) {
  console.log(
    `| ${name} | ${range(rs.map((r) => r.worstLateMs), f1)} | ${
      range(rs.map((r) => r.p99LateMs), f1)
    } | ${range(rs.map((r) => r.selfMsPerHook), f2)} | ${
      range(rs.map((r) => r.hooksMsPerHook), f2)
    } | ${range(rs.map((r) => r.seconds), f1)} |`,
  );
}
