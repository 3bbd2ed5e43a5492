/** Fuzz categories of the control sockets of every node. */
import { CONTROL_SEEDS, framed, fuzzFrame } from "../../tests/fuzz/gen.ts";
import { sleep } from "../../tests/cluster/harness.ts";
import { encodeFrame, FrameDecoder } from "../../src/wire/frame.ts";
import {
  type Category,
  concat,
  count,
  type Ctx,
  enc,
  exchange,
  HANG_MS,
  header,
  inBatches,
  save,
  type Stream,
} from "./io.ts";

const ALL_CONTROL_SEEDS: Record<string, unknown>[] = [
  ...CONTROL_SEEDS,
  { v: 1, id: 5, type: "role", role: "primary", resources: ["nope", "nope2"], force: false },
  { v: 1, id: 6, type: "role", role: "secondary", resources: ["nope"], to: "b" },
  { v: 1, id: 7, type: "events", follow: false, limit: 3 },
  { v: 1, id: 8, type: "scha", group: "nope", optag: "RESOURCE_RESTART", member: "m1" },
  { v: 1, id: 9, type: "scha", group: "r0", optag: "CHECK_GIVEOVER", to: "zz" },
  { v: 1, id: 10, type: "setstatus", group: "nope", member: "m1", status: "OK", message: "hi" },
  { v: 1, id: 11, type: "setstatus", group: "r0", member: "nope", status: "weird" },
];

const WRONG: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER + 2,
  "",
  "all",
  "x".repeat(300),
  "y".repeat(1000 * 1000),
  ["z".repeat(900 * 1000)],
  "a\u0000b",
  "\u202e",
  "\ud800",
  [],
  [""],
  [1],
  ["r0", null],
  {},
  { length: 1 },
  [[["r0"]]],
];

function controlConn(ctx: Ctx, node: string): Promise<Stream> {
  return Deno.connect({ transport: "unix", path: ctx.c.controlPath(node) });
}

const nodeOf = (ctx: Ctx) => ctx.rng.pick(ctx.c.nodes).name;

/** One request (as bytes) on a fresh connection, then a status; both must be answered. */
async function requestThenStatus(
  ctx: Ctx,
  cat: string,
  node: string,
  bytes: Uint8Array,
  expectId: number | null,
) {
  const s = await controlConn(ctx, node);
  const status = encodeFrame({ v: 1, id: 424242, type: "status" });
  const end = await exchange(s, [bytes, status], { closeAfterFrames: 2, hangMs: 8000 });
  count(ctx, cat);
  const ids = end.bodies.map((b) => b.id);
  const last = end.bodies[1];
  const problem = end.bodies.length < 2
    ? `${end.bodies.length} answers (${end.closedByDaemon ? "closed by the daemon" : "hung"})`
    : expectId !== null && ids[0] !== expectId
    ? `answered id ${JSON.stringify(ids[0])}, not ${expectId}`
    : !(typeof end.bodies[0].ok === "boolean")
    ? `answer without ok: ${JSON.stringify(end.bodies[0]).slice(0, 200)}`
    : last.id !== 424242 || last.ok !== true
    ? `the status after it failed: ${JSON.stringify(last).slice(0, 200)}`
    : null;
  if (problem) {
    ctx.problems.push(`${cat} to ${node}: ${problem}: ${await save(ctx, "request", bytes)}`);
  }
  return end.bodies[0];
}

export const CONTROL_CATEGORIES: Record<string, Category> = {
  "ctl-mutated": async (ctx) => {
    await inBatches(36, async () => {
      const node = nodeOf(ctx);
      const bytes = fuzzFrame(ctx.rng, ALL_CONTROL_SEEDS);
      const f = new FrameDecoder();
      let frames = 0;
      let bad = false;
      try {
        f.push(bytes);
        while (f.next()) frames++;
      } catch {
        bad = true;
      }
      const s = await controlConn(ctx, node);
      // Complete requests are each answered; a frame that cannot be read closes the connection.
      const end = await exchange(s, [bytes], {
        hangMs: bad ? HANG_MS : 3000,
        closeAfterFrames: bad ? undefined : frames,
      });
      count(ctx, "ctl-mutated");
      if (bad && !end.closedByDaemon) {
        ctx.problems.push(
          `ctl-mutated to ${node}: ${await save(ctx, "bad frame never closed", bytes)}`,
        );
      } else if (end.bodies.length < frames) {
        ctx.problems.push(
          `ctl-mutated to ${node}: ${end.bodies.length} answers to ${frames}: ${await save(
            ctx,
            "requests",
            bytes,
          )}`,
        );
      }
    });
  },
  "ctl-types": async (ctx) => {
    const seed = ctx.rng.pick(ALL_CONTROL_SEEDS);
    const fields = [
      ...Object.keys(seed),
      "resources",
      "role",
      "force",
      "to",
      "follow",
      "limit",
      "group",
      "optag",
      "member",
      "status",
      "message",
    ];
    await inBatches(24, async () => {
      const req: Record<string, unknown> = { ...seed };
      const field = ctx.rng.pick(fields);
      const value = ctx.rng.pick(WRONG);
      if (value === undefined) delete req[field];
      else req[field] = value;
      // Never a real role change: a role request keeps unknown resources only.
      if (
        req.type === "role" &&
        (req.resources === "all" || JSON.stringify(req.resources)?.includes('"r0"'))
      ) {
        req.resources = ["nope"];
      }
      if (req.type === "events" && req.follow === true) req.follow = false;
      const expectId = typeof req.id === "number" && Number.isSafeInteger(req.id) && req.id >= 0
        ? req.id
        : 0;
      await requestThenStatus(ctx, "ctl-types", nodeOf(ctx), encodeFrame(req), expectId);
    });
  },
  "ctl-json": async (ctx) => {
    const texts = [
      "{",
      "[]",
      "null",
      "1",
      '"x"',
      "{}{}",
      '{"v":1,"id":1,"type":"status"',
      "[".repeat(100000) + "]".repeat(100000),
      '{"a":'.repeat(50000) + "1" + "}".repeat(50000),
      "\ufeff{}",
      '{"__proto__":{"polluted":1},"v":1,"id":3,"type":"status"}',
      '{"v":1,"id":1,"type":"status","v":2}',
      "1".repeat(400),
      '{"v":1e999,"id":1,"type":"status"}',
    ];
    await inBatches(texts.length + 4, async (i) => {
      const bytes = i < texts.length ? framed(texts[i]) : concat(header(64), ctx.rng.bytes(64));
      const node = nodeOf(ctx);
      const s = await controlConn(ctx, node);
      const end = await exchange(s, [bytes], { hangMs: HANG_MS, closeAfterFrames: 1 });
      count(ctx, "ctl-json");
      if (end.bodies.length === 0 && !end.closedByDaemon) {
        ctx.problems.push(
          `ctl-json to ${node}: ${await save(ctx, "neither answered nor closed", bytes)}`,
        );
      }
    });
  },
  "ctl-huge": async (ctx) => {
    const node = nodeOf(ctx);
    const cap = 1024 * 1024;
    const base = { v: 1, id: 77, type: "status", pad: "" };
    const overhead = enc.encode(JSON.stringify(base)).length;
    // Exactly at the cap: answered; one byte over, and a huge declared length: closed.
    const atCap = encodeFrame({ ...base, pad: "p".repeat(cap - overhead) });
    await requestThenStatus(ctx, "ctl-huge", node, atCap, 77);
    for (
      const over of [
        concat(header(cap + 1), new Uint8Array(16)),
        header(64 * 1024 * 1024),
        header(2 ** 32 - 1),
      ]
    ) {
      const s = await controlConn(ctx, node);
      const end = await exchange(s, [over]);
      count(ctx, "ctl-huge");
      if (!end.closedByDaemon) {
        ctx.problems.push(`ctl-huge: ${await save(ctx, "never closed", over)}`);
      }
    }
    // Name lists of every size: all the same known name, distinct unknown names, both.
    const n = ctx.rng.pick([1000, 20000, 100000, 150000]);
    const lists = [
      Array(n).fill("r0"),
      Array.from({ length: Math.min(n, 4000) }, (_, i) => `u${i}-${"q".repeat(200)}`),
      Array.from({ length: n }, (_, i) => (i % 2 ? "r0" : `n${i}`)),
    ];
    for (const resources of lists) {
      for (const type of ["status", "role"]) {
        const req = type === "status" ? { v: 1, id: 78, type, resources } : {
          v: 1,
          id: 78,
          type,
          role: "secondary",
          resources: resources.filter((r) => r !== "r0"),
        };
        if (type === "role" && (req.resources as string[]).length === 0) continue;
        const bytes = encodeFrame(req, { maxBodyBytes: 2 * cap });
        if (bytes.length > cap + 8) continue;
        const t0 = performance.now();
        const answer = await requestThenStatus(ctx, "ctl-huge", node, bytes, 78);
        const ms = performance.now() - t0;
        if (ms > 1500) {
          ctx.problems.push(
            `ctl-huge: ${type} of ${resources.length} names (${bytes.length} bytes) took ${
              ms.toFixed(0)
            } ms: ${JSON.stringify(answer)?.slice(0, 200)}`,
          );
        }
      }
    }
  },
  "ctl-pipeline": async (ctx) => {
    const node = nodeOf(ctx);
    const n = 1 + ctx.rng.int(3000);
    const reqs = Array.from({ length: n }, (_, i) => {
      const seed = ctx.rng.pick(ALL_CONTROL_SEEDS);
      return encodeFrame({ ...seed, id: i });
    });
    const s = await controlConn(ctx, node);
    const end = await exchange(s, [concat(...reqs)], { closeAfterFrames: n, hangMs: 20000 });
    count(ctx, "ctl-pipeline", n);
    const ids = end.bodies.map((b) => b.id);
    const inOrder = ids.every((id, i) => id === i);
    if (ids.length !== n || !inOrder) {
      ctx.problems.push(
        `ctl-pipeline to ${node}: ${ids.length} answers to ${n} requests, in order: ${inOrder}`,
      );
    }
  },
  "ctl-idle": async (ctx) => {
    // More silent clients (some half-way through a request) than the daemon takes at once:
    // the socket must still serve `status` meanwhile.
    const node = nodeOf(ctx);
    const streams: Stream[] = [];
    for (let i = 0; i < 70 + ctx.rng.int(30); i++) {
      const s = await controlConn(ctx, node).catch(() => null);
      if (!s) continue;
      streams.push(s);
      if (ctx.rng.int(3) === 0) await s.write(header(64)).catch(() => {});
    }
    count(ctx, "ctl-idle", streams.length);
    const st = await ctx.c.status(node, 3000);
    if (st === null) {
      ctx.problems.push(`ctl-idle: ${node} does not answer with ${streams.length} idle clients`);
    }
    for (const s of streams) {
      try {
        s.close();
      } catch { /* closed */ }
    }
  },
  "ctl-noread": async (ctx) => {
    const node = nodeOf(ctx);
    const k = 10 + ctx.rng.int(70);
    const m = 100 + ctx.rng.int(2000);
    const one = encodeFrame({ v: 1, id: 1, type: "status" });
    const burst = concat(...Array.from({ length: m }, () => one));
    const streams: Stream[] = [];
    for (let i = 0; i < k; i++) {
      try {
        const s = await controlConn(ctx, node);
        streams.push(s);
        (async () => {
          for (let off = 0; off < burst.length;) off += await s.write(burst.subarray(off));
        })().catch(() => {});
      } catch { /* refused */ }
    }
    count(ctx, "ctl-noread", k);
    await sleep(500 + ctx.rng.int(3000));
    // Meanwhile the socket serves others: a client that never reads makes room.
    const during = await ctx.c.status(node, 3000);
    if (during === null) {
      ctx.problems.push(`ctl-noread: ${node} does not answer while ${k}×${m} requests go unread`);
    }
    for (const s of streams) {
      try {
        s.close();
      } catch { /* closed */ }
    }
    // Once they are gone, the socket serves again at once.
    const st = await ctx.c.status(node, 3000);
    if (st === null) {
      ctx.problems.push(`ctl-noread: ${node} does not answer after ${k}×${m} unread requests`);
    }
  },
  "ctl-follow": async (ctx) => {
    const node = nodeOf(ctx);
    const k = 5 + ctx.rng.int(40);
    const streams: { s: Stream; mode: number }[] = [];
    for (let i = 0; i < k; i++) {
      const s = await controlConn(ctx, node).catch(() => null);
      if (!s) continue;
      const mode = ctx.rng.int(4);
      const req = encodeFrame({
        v: 1,
        id: i,
        type: "events",
        follow: true,
        limit: ctx.rng.pick([0, 1, 1000, 2 ** 40]),
      });
      // 0: leave at once; 1: half the request; 2: never read; 3: read, then junk.
      await s.write(mode === 1 ? req.subarray(0, 5) : req).catch(() => {});
      if (mode === 0) s.close();
      else if (mode === 3) {
        s.read(new Uint8Array(65536)).then(() => s.write(ctx.rng.bytes(100))).catch(() => {});
      }
      streams.push({ s, mode });
    }
    count(ctx, "ctl-follow", streams.length);
    // Events for the followers: reloads (one event each) and refused requests.
    for (let i = 0; i < 3; i++) {
      ctx.c.sighup(node);
      await sleep(150);
    }
    await sleep(300 + ctx.rng.int(1500));
    for (const { s } of streams) {
      try {
        s.close();
      } catch { /* closed */ }
    }
  },
  "ctl-unknown": async (ctx) => {
    const weird = [
      "nope",
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
      "r0 ",
      "R0",
      "all",
      "x".repeat(256),
    ];
    await inBatches(18, async () => {
      const name = ctx.rng.pick(weird);
      const req = ctx.rng.pick([
        { v: 1, id: 5, type: "status", resources: [name] },
        {
          v: 1,
          id: 5,
          type: "role",
          role: "secondary",
          resources: [name === "all" ? "nope" : name],
          to: ctx.rng.pick(weird),
        },
        {
          v: 1,
          id: 5,
          type: "role",
          role: "secondary",
          resources: ["nope"],
          to: ctx.rng.pick(["a", "b", "w", "zz", "__proto__"]),
        },
        {
          v: 1,
          id: 5,
          type: "scha",
          group: name,
          optag: ctx.rng.pick(["RESOURCE_RESTART", "GIVEOVER", "x", "CHECK_GIVEOVER"]),
        },
        {
          v: 1,
          id: 5,
          type: "scha",
          group: "r0",
          optag: ctx.rng.pick([
            "CHECK_GIVEOVER",
            "CHECK_RESTART",
            "NOPE",
            "__proto__",
            "constructor",
          ]),
          member: ctx.rng.pick(weird),
          to: ctx.rng.pick(weird),
        },
        {
          v: 1,
          id: 5,
          type: "setstatus",
          group: name,
          member: ctx.rng.pick(weird),
          status: ctx.rng.pick(["OK", "__proto__", "toString", "x"]),
        },
        {
          v: 1,
          id: 5,
          type: "setstatus",
          group: "r0",
          member: ctx.rng.pick(weird),
          status: ctx.rng.pick(["FAULTED", "__proto__", "constructor"]),
        },
        { v: 1, id: 5, type: "events", limit: ctx.rng.pick([0, 1, 2 ** 53 - 1]) },
      ]);
      const answer = await requestThenStatus(ctx, "ctl-unknown", nodeOf(ctx), encodeFrame(req), 5);
      if (answer && req.type === "role" && answer.ok === true) {
        ctx.problems.push(
          `ctl-unknown: a role request for unknown resources succeeded: ${
            JSON.stringify(req).slice(0, 200)
          }`,
        );
      }
    });
  },
};
