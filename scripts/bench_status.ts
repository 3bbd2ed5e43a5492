/**
 * `hastmon ctl status` as a whole process (PRODUCT.md §8: < 150 ms), from the
 * built file (`deno task build`, copied alone into an empty directory, its
 * cache unpacked by a first run as on any installed node) and from source
 * (`deno run -A main.ts`, module cache warm), against a daemon with 3
 * resources. The two are run in turn, A B A B …, so that a drift of the
 * machine's speed touches both alike. A benchmark, not a test.
 *
 *     deno run -A scripts/bench_status.ts [--runs 30] [--write]
 *
 * With --write, replaces its section of docs/BENCHMARKS.md.
 */
import { REPO_ROOT, withCluster } from "../tests/cluster/harness.ts";
import { build, parseArgs as buildArgs } from "./build.ts";
import { writeSection } from "./bench_doc.ts";

const args = Deno.args;
const runs = Number(args[args.indexOf("--runs") + 1]) || 30;
const TARGET_MS = 150;

/** The p-th percentile (nearest rank) of `xs`. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function timed(argv: string[], cwd: string, env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} exited ${r.code}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return ms;
}

const record = await build({ ...buildArgs([]), ifChanged: true });
/** The 1-minute load average: the machine is shared, and says how quiet it was. */
const load = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
const loadBefore = await load();
const root = await Deno.makeTempDir({ prefix: "hastmon-bench-status-" });
const exe = `${root}/bin/hastmon`;
await Deno.mkdir(`${root}/bin`);
await Deno.copyFile(`${buildArgs([]).out}/hastmon`, exe);
await Deno.chmod(exe, 0o755);
const env = { HASTMON_CACHE: `${root}/cache` };
const built: number[] = [];
const source: number[] = [];
let unpackMs = 0;
try {
  await withCluster({ resources: ["r0", "r1", "r2"], debug: 0 }, async (c) => {
    await c.waitForSteady("a");
    const ctl = ["ctl", "-c", c.configPath, "--node", "a", "status"];
    unpackMs = await timed([exe, ...ctl], root, env); // the first run unpacks
    const fromSource = [Deno.execPath(), "run", "-A", `${REPO_ROOT}main.ts`, ...ctl];
    await timed(fromSource, root, {}); // warm the module cache
    for (let i = 0; i < runs; i++) {
      built.push(await timed([exe, ...ctl], root, env));
      source.push(await timed(fromSource, root, {}));
    }
  });
} finally {
  await Deno.remove(root, { recursive: true });
}

const loadAfter = await load();
const row = (label: string, xs: number[]) =>
  `| ${label} | ${percentile(xs, 50).toFixed(0)} ms | ${percentile(xs, 90).toFixed(0)} ms | ${
    Math.min(...xs).toFixed(0)
  } ms | ${Math.max(...xs).toFixed(0)} ms |`;
const ratios = built.map((b, i) => b / source[i]);
const median = percentile(built, 50);
const section = `## ctl status from the built file

\`deno run -A scripts/bench_status.ts --runs ${runs}\` (${new Date().toISOString().slice(0, 10)},
Deno ${Deno.version.deno}): \`hastmon ctl -c … --node a status\` against a daemon with 3
resources, as a whole process, ${runs} runs of each, taking turns. The built file is
${record.kind === "sfx" ? "the self-extracting file" : "the deno compile binary"} of
\`deno task build\` (${(record.bytes / 1e6).toFixed(1)} MB), copied alone into an empty directory;
its first run unpacked it in ${unpackMs.toFixed(0)} ms, the runs below find it unpacked. Load
average (1 min, ${navigator.hardwareConcurrency} cores, a machine shared with other work):
${loadBefore} before, ${loadAfter} after.

| | median | p90 | min | max |
|---|---|---|---|---|
${row("built file (dist/hastmon)", built)}
${row("from source (deno run -A main.ts)", source)}

Built file / source, run by run: median ${
  percentile(ratios, 50).toFixed(2)
}. Target < ${TARGET_MS} ms:
${median < TARGET_MS ? "met" : "**missed**"} by the built file (median ${median.toFixed(0)} ms).
`;
console.log(section);
if (args.includes("--write")) {
  await writeSection("status", section, "## ctl status from the built file");
}
