/**
 * Long-running fuzzing of real daemons, by hand (not in CI): a cluster of
 * three `hastmon daemon` processes (tests/cluster/harness.ts) is fed, for
 * `--seconds`, batches of hostile input on its peer listener and its control
 * sockets, and after every batch each daemon must still run, answer
 * `status`, have logged no error, stack trace or line over 4 KiB (nor 4 MiB
 * in all), stay under 400 MB of memory, and the service timeline must never
 * show two nodes active (a service that moved is reported as a note).
 *
 *     TMPDIR=/work/tmp deno run -A scripts/fuzz_inputs.ts --seconds 600 [--seed N]
 *         [--auth secret|keys|none|all] [--only cat1,cat2] [--semantic]
 *
 * What it sends (category names, for --only):
 * - to a's peer listener, from a friend's address (allowed, no node's name):
 *   `peer-random` bytes, `peer-mutated` valid frames (flips, cuts, splices),
 *   `peer-limits` (declared lengths at and around every cap), `peer-tiny`
 *   (thousands of small frames), `peer-half` (half a frame, then silence),
 *   `peer-trickle` (a hello a byte at a time), `peer-burst` (as many
 *   connections as the listener admits, each saying nothing);
 * - from w's address, speaking as w: `peer-replay` (a captured handshake
 *   played again), `auth-garbage` (a good handshake, then bad frames or
 *   sealed garbage, or a frame of an earlier session), `auth-flood` (a good
 *   handshake, then thousands of frames or a batch at the cap); with
 *   --semantic also `auth-semantic` (valid messages with extreme values:
 *   such a key holder is trusted, so a moved service is only a note);
 * - back to a, which dials it as a resource's remote: `rogue-listener`
 *   (noise, silence, huge lengths, a hello or a whole handshake as b, then
 *   garbage or silence; a handshake as a stranger; a hello as a itself);
 * - to every control socket: `ctl-mutated` requests, `ctl-types` (every field
 *   of every request type given every wrong type, or dropped),
 *   `ctl-json` (bodies that are not a JSON object), `ctl-huge` (requests at
 *   and past the size cap, name lists of every size), `ctl-pipeline`
 *   (thousands of requests in one write), `ctl-idle` (more silent clients
 *   than the daemon takes at once), `ctl-noread` (many connections
 *   that never read their answers), `ctl-follow` (event streams opened and
 *   abandoned while events come), `ctl-unknown` (unknown resources, groups,
 *   members, optags, node names).
 *
 * The categories live in scripts/fuzz/. The run stops at the first daemon that dies. Inputs that broke something
 * are saved (with the seed) under the cluster's temporary directory, which
 * `--keep` (HASTMON_E2E_KEEP) keeps.
 */
import { parseArgs } from "node:util";
import { processAlive, TestCluster } from "../tests/cluster/harness.ts";
import { Rng } from "../tests/fuzz/gen.ts";
import { importSecret, type PeerAuth } from "../src/wire/auth.ts";
import { importPublicKey, importSigningKey } from "../src/wire/node_keys.ts";
import { type Ctx, FRIEND, SECRET } from "./fuzz/io.ts";
import { AUTH_CATEGORIES, PEER_CATEGORIES } from "./fuzz/peer.ts";
import { CONTROL_CATEGORIES } from "./fuzz/control.ts";
import { ROGUE_CATEGORIES, serveRogue } from "./fuzz/rogue.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "300" },
    seed: { type: "string" },
    auth: { type: "string", default: "all" },
    only: { type: "string" },
    semantic: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});

/** What health() has seen so far. */
interface Watch {
  logOffsets: Map<string, number>;
  since: number;
}

const MAX_LOG_LINE = 4096;
const MAX_LOG_GROWTH = 4 * 1024 * 1024;
const MAX_RSS_MB = 400;

function rssMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

const BAD_LOG =
  /\[ERROR\]|uncaught|unhandled|internal error|panicked|RangeError|TypeError|ReferenceError|^\s+at /im;

async function health(ctx: Ctx, watch: Watch, after: string): Promise<boolean> {
  const c = ctx.c;
  let dead = false;
  for (const n of c.nodes) {
    const pid = c.daemonPid(n.name);
    if (pid === null || !processAlive(pid)) {
      ctx.problems.push(`FATAL: ${n.name}'s daemon died after ${after}`);
      dead = true;
      continue;
    }
    const st = await c.status(n.name, 3000);
    if (st === null) ctx.problems.push(`${n.name} did not answer status within 3 s after ${after}`);
  }
  for (const n of c.nodes) {
    const bytes = await Deno.readFile(`${c.dir}/${n.name}.log`).catch(() => new Uint8Array());
    const from = watch.logOffsets.get(n.name) ?? 0;
    watch.logOffsets.set(n.name, bytes.length);
    const text = new TextDecoder().decode(bytes.subarray(from));
    const lines = text.split("\n");
    const bad = lines.filter((l) => BAD_LOG.test(l)).map((l) => l.slice(0, 400));
    if (bad.length > 0) {
      ctx.problems.push(`${n.name}'s log after ${after}:\n    ${bad.slice(0, 8).join("\n    ")}`);
    }
    // What a client or peer sends must not reach the log in bulk.
    const long = lines.filter((l) => l.length > MAX_LOG_LINE);
    if (long.length > 0) {
      ctx.problems.push(
        `${n.name}'s log after ${after}: ${long.length} line(s) over ${MAX_LOG_LINE} chars: ${
          long[0].slice(0, 200)
        }…`,
      );
    }
    if (text.length > MAX_LOG_GROWTH) {
      ctx.problems.push(`${n.name}'s log grew by ${text.length} bytes during ${after}`);
    }
    const pid = c.daemonPid(n.name);
    const rss = pid === null ? 0 : rssMb(pid);
    if (rss > MAX_RSS_MB) ctx.problems.push(`${n.name}'s daemon uses ${rss} MB after ${after}`);
  }
  try {
    await c.assertNeverTwoActive();
  } catch (e) {
    ctx.problems.push(`FATAL: two active after ${after}: ${(e as Error).message.slice(0, 500)}`);
    dead = true;
  }
  const begins = (await c.timeline()).filter((e) => e.kind === "begin" && e.t >= watch.since);
  if (begins.length > 0) {
    ctx.problems.push(
      `(moved) the service began on ${begins.map((b) => b.node).join(", ")} after ${after}`,
    );
    watch.since = Date.now();
  }
  return !dead;
}

/** Node `self`'s handshake keys, talking to a. */
async function authAs(c: TestCluster, mode: Ctx["auth"], self: string): Promise<PeerAuth | null> {
  if (mode === "none") return null;
  if (mode === "secret") return await importSecret(SECRET);
  const signing = await importSigningKey(await Deno.readFile(c.nodeKeyFile(self)));
  const aKey = (await Deno.readFile(c.nodeKeyFile("a"))).subarray(32);
  const keys = [{ id: "a", key: await importPublicKey(aKey) }];
  return { mode: "ed25519", signingKey: () => signing, publicKeys: (n) => (n === "a" ? keys : []) };
}

async function run(mode: Ctx["auth"], seconds: number, seed: number) {
  const friends = `friends = ["${FRIEND}"]`;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // A resource of a alone whose remote is the rogue: a dials it like any peer.
  const rogueResource = [
    "[resource.zz.on.a]",
    `remote = ["127.0.0.1:${listener.addr.port}"]`,
    `role_on_start = "secondary"`,
  ].join("\n");
  const c = await TestCluster.start({
    extraToml: rogueResource,
    secret: mode === "secret" ? SECRET : undefined,
    nodeKeys: mode === "keys",
    distinctHosts: true,
    timeout: 1,
    heartbeatInterval: 0.5,
    nodeSections: { a: friends, b: friends, w: friends },
  });
  const ctx: Ctx = {
    c,
    rng: new Rng(seed),
    auth: mode,
    wAuth: await authAs(c, mode, "w"),
    bAuth: await authAs(c, mode, "b"),
    rogue: { listener, handled: 0, hung: [] },
    semantic: args.semantic,
    problems: [],
    counts: new Map(),
    saved: 0,
  };
  const serving = serveRogue(ctx).catch(() => {});
  const all = {
    ...PEER_CATEGORIES,
    ...AUTH_CATEGORIES,
    ...CONTROL_CATEGORIES,
    ...ROGUE_CATEGORIES,
  };
  const only = args.only?.split(",");
  const names = Object.keys(all).filter((n) => !only || only.includes(n));
  const reported: string[] = [];
  let batches = 0;
  try {
    await c.waitForSteady("a");
    const watch: Watch = { logOffsets: new Map(), since: Date.now() };
    await health(ctx, watch, "start");
    ctx.problems.splice(0);
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const cat = ctx.rng.pick(names);
      try {
        await all[cat](ctx);
      } catch (e) {
        ctx.problems.push(`${cat}: the driver failed: ${(e as Error).stack}`);
      }
      batches++;
      const alive = await health(ctx, watch, `${cat} (batch ${batches})`);
      for (const p of ctx.problems.splice(0)) {
        console.log(`[${mode}] ${p}`);
        reported.push(p);
      }
      if (!alive) break;
    }
  } finally {
    const counts = [...ctx.counts].map(([k, v]) => `${k}=${v}`).join(" ");
    const total = [...ctx.counts.values()].reduce((a, b) => a + b, 0);
    console.log(`[${mode}] seed ${seed}: ${batches} batches, ${total} inputs: ${counts}`);
    const real = reported.filter((p) => !p.startsWith("(note)") && !p.startsWith("(moved)"));
    console.log(`[${mode}] ${real.length} problem(s), ${reported.length - real.length} note(s)`);
    if (args.keep || real.length > 0) Deno.env.set("HASTMON_E2E_KEEP", "1");
    await c.stop();
    listener.close();
    await serving;
    if (args.keep || real.length > 0) console.log(`[${mode}] kept ${c.dir}`);
  }
}

const seconds = Number(args.seconds);
const seed = args.seed !== undefined ? Number(args.seed) : Date.now() >>> 0;
const modes = args.auth === "all"
  ? ["secret", "keys", "none"] as const
  : [args.auth as Ctx["auth"]];
for (const [i, mode] of modes.entries()) await run(mode, seconds / modes.length, seed + i);
