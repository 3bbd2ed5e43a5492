/** `hastmon simulate` as a user runs it: summary, exit codes, a user's configuration. */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon } from "./cli.ts";

Deno.test("simulate: a batch prints runs, violations and failover percentiles, exit 0", async () => {
  const r = await hastmon([
    "simulate",
    "--runs",
    "200",
    "--seed",
    "3",
    "--faults",
    "crash,partition",
  ]);
  assertEquals(r.code, 0, r.err);
  assertStringIncludes(r.out, "runs: 200\n");
  assertStringIncludes(r.out, "violations: 0\n");
  assert(
    /failover after primary death \(\d+ runs\): p50 [\d.]+s {2}p90 [\d.]+s {2}p99/.test(r.out),
    r.out,
  );
});

Deno.test("simulate: the same seed gives the same report; --json is versioned", async () => {
  const args = ["simulate", "--runs", "50", "--seed", "11", "--json"];
  const [a, b] = await Promise.all([hastmon(args), hastmon(args)]);
  const ja = JSON.parse(a.out), jb = JSON.parse(b.out);
  assertEquals(ja.version, 1);
  assertEquals(ja.runs, 50);
  delete ja.elapsed_seconds;
  delete jb.elapsed_seconds;
  assertEquals(ja, jb);
});

Deno.test("simulate: a user's configuration, every node of it", async () => {
  const r = await hastmon(["simulate", "-c", "tests/data/config/cluster.toml", "--runs", "30"]);
  assertEquals(r.code, 0, r.err);
  assertStringIncludes(r.out, "violations: 0");
  // db names no primary: the best-priority node is simulated as primary, and it says so.
  assertStringIncludes(r.err, "note: db: no node starts as primary; simulating alpha as primary");
  // The file has no fence: no fence is simulated (a hung one held a start for its hook_timeout).
  assertStringIncludes(r.err, "note: no node has a fence command: fence faults are left out");
});

Deno.test("simulate: bad usage exits 64 with a clear line; a missing file 66", async () => {
  const bad = await hastmon(["simulate", "--faults", "meteor"]);
  assertEquals(bad.code, 64);
  assertStringIncludes(bad.err, `unknown fault "meteor"`);
  const runs = await hastmon(["simulate", "--runs", "0"]);
  assertEquals(runs.code, 64);
  const missing = await hastmon(["simulate", "-c", "/nonexistent/hastmon.toml"]);
  assertEquals(missing.code, 66, missing.err);
});
