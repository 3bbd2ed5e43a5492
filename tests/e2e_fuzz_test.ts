/**
 * Fuzzing a real daemon (seeded and bounded; FUZZ_SEED replays a run): its
 * peer listener before authentication, its peer connections after it, and its
 * control socket. Every input goes on its own connection, and our side stays
 * open: the daemon must close a connection that carried bad input by itself,
 * because of the input (neither at our end of stream, nor at a deadline), and
 * no input may hang. Meanwhile not one of the daemons' own connections closes
 * (their logs say so), every daemon keeps answering, and the service never
 * moves.
 */
import { assert, assertEquals } from "./assert.ts";
import { sleep, type TestCluster, withCluster } from "./cluster/harness.ts";
import { CONTROL_SEEDS, fuzzFrame, fuzzSeed, mutateValue, PEER_SEEDS, Rng } from "./fuzz/gen.ts";
import { importSecret } from "../src/wire/auth.ts";
import {
  batchBody,
  type Hello,
  InvalidMessage,
  parseBatch,
  parseHandshake,
} from "../src/wire/codec.ts";
import {
  encodeFrame,
  FrameDecoder,
  FrameError,
  FrameReader,
  writeFrame,
} from "../src/wire/frame.ts";
import { connectorHandshake, HANDSHAKE_MAX_BODY_BYTES } from "../src/wire/handshake.ts";

const SECRET = "e2e-fuzz-shared-secret-0123456789";
const PER_TARGET = 120;
const AT_ONCE = 8;
/**
 * timeout = 1: a caller gets 1 s to say hello (the most there is), an
 * established connection 2 s to send its next frame (idle timeout: two
 * heartbeat intervals plus the timeout). A close because of the input comes
 * well before either. (The lease, 3 intervals, must outlast the timeout.)
 */
const TIMEOUT_S = 1;
const HEARTBEAT_S = 0.5;
const HELLO_DEADLINE_MS = 1000;
/** Longest wait for any close; every deadline of the daemon is shorter. */
const HANG_MS = 5000;

/** How a connection ended. */
interface Ending {
  /** False: the daemon never closed it (we did, after HANG_MS). */
  closedByDaemon: boolean;
  /** Whether we had ended our side first. */
  afterOurEof: boolean;
  /** From just before the connect (or the write) to the close. */
  ms: number;
  /** Frames the daemon sent. */
  frames: number;
}

/**
 * Write `bytes` and read until the daemon closes. Our side stays open unless
 * `eofAfterFrames` is a number: then we end it once the daemon has sent that
 * many frames (its answers to the complete requests of an input that ends
 * mid-frame, which only the end of stream can settle).
 */
async function exchange(
  conn: Deno.Conn,
  bytes: Uint8Array,
  started: number,
  eofAfterFrames: number | null,
): Promise<Ending> {
  let closedByUs = false;
  let afterOurEof = false;
  const timer = setTimeout(() => {
    closedByUs = true;
    conn.close();
  }, HANG_MS);
  const incoming = new FrameDecoder({ maxBodyBytes: 64 * 1024 * 1024 });
  let frames = 0;
  const endOurSide = async () => {
    if (afterOurEof) return;
    afterOurEof = true;
    await conn.closeWrite().catch(() => {});
  };
  try {
    await conn.write(bytes);
  } catch { /* the daemon may have closed already: the read says so */ }
  if (eofAfterFrames === 0) await endOurSide();
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      try {
        incoming.push(buf.subarray(0, n));
        while (incoming.next() !== null) frames++;
      } catch { /* not ours to judge */ }
      if (eofAfterFrames !== null && frames >= eofAfterFrames) await endOurSide();
    }
  } catch { /* reset: the daemon closed */ }
  clearTimeout(timer);
  const ms = performance.now() - started;
  try {
    conn.close();
  } catch { /* closed */ }
  return { closedByDaemon: !closedByUs, afterOurEof, ms, frames };
}

/** The complete frames of `bytes`, whether a frame error follows, and whether a partial frame is left. */
function frames(bytes: Uint8Array, maxBodyBytes: number) {
  const d = new FrameDecoder({ maxBodyBytes });
  const out: Record<string, unknown>[] = [];
  try {
    d.push(bytes);
    for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  } catch (e) {
    if (!(e instanceof FrameError)) throw e;
    return { frames: out, error: true, partial: false };
  }
  return { frames: out, error: false, partial: d.buffered > 0 };
}

/**
 * Whether the peer listener must refuse `bytes` at once: anything but a valid
 * hello first, or a hello followed by anything but nothing or the start of a
 * frame. (A valid hello alone, or a frame cut short, waits for its deadline.)
 */
function badBeforeAuth(bytes: Uint8Array): boolean {
  const f = frames(bytes, HANDSHAKE_MAX_BODY_BYTES);
  if (f.frames.length === 0) return f.error;
  const hello = parseHandshake(f.frames[0]);
  if (hello instanceof InvalidMessage || hello.type !== "hello") return true;
  return f.error || f.frames.length > 1 || (hello as Hello).auth !== "hmac-sha256";
}

async function inBatches(n: number, fn: (i: number) => Promise<void>) {
  for (let i = 0; i < n; i += AT_ONCE) {
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, n - i) }, (_, k) => fn(i + k)));
  }
}

/** "node: line" for every line of the daemons' logs where a peer connection closed. */
async function peerCloses(c: TestCluster): Promise<string[]> {
  const out: string[] = [];
  for (const n of c.nodes) {
    for (const line of (await c.log(n.name)).split("\n")) {
      if (/ peer \S+ \(\S+, (acceptor|connector)\): connection closed/.test(line)) {
        out.push(`${n.name}: ${line}`);
      }
    }
  }
  return out;
}

/** The epoch of r0 on every node. */
async function epochs(c: TestCluster): Promise<string[]> {
  return await Promise.all(
    c.nodes.map(async (n) => `${n.name}: ${(await c.resourceStatus(n.name))?.epoch}`),
  );
}

/**
 * Right now: every daemon runs and answers with every link up, a runs alone,
 * the epochs are `before`, and no peer connection closed since `closesBefore`
 * but those `excused` allows.
 */
async function assertUndisturbed(
  c: TestCluster,
  after: string,
  state: { closes: string[]; epochs: string[] },
  excused: (line: string) => boolean = () => false,
) {
  for (const n of c.nodes) assert(c.daemonPid(n.name) !== null, `${n.name} exited after ${after}`);
  // Every link up. "Connected" means heard within one heartbeat and timeout: on a machine loaded
  // by the rest of the suite one heartbeat can come late without any fault, so a link gets two
  // heartbeats to show up again. A connection the fuzz closed is caught below, whatever this says.
  const linksDown = async () => {
    const st = await Promise.all(c.nodes.map((n) => c.status(n.name)));
    return st.map((s, i) => {
      assert(s !== null, `${c.nodes[i].name} does not answer after ${after}`);
      const down = s.resources.flatMap((r) => r.peers.filter((p) => !p.connected));
      return { node: c.nodes[i].name, down: down.map((p) => p.node) };
    });
  };
  let links = await linksDown();
  for (let i = 0; i < 20 && links.some((l) => l.down.length > 0); i++) {
    await sleep(HEARTBEAT_S * 100);
    links = await linksDown();
  }
  for (const l of links) assertEquals(l.down, [], `${l.node}'s links after ${after}`);
  const fresh = (await peerCloses(c)).filter((l) => !state.closes.includes(l) && !excused(l));
  assertEquals(fresh, [], `the daemons' own connections closed during ${after}`);
  assertEquals(await epochs(c), state.epochs, `epochs after ${after}`);
  assertEquals(c.runningNodes(), ["a"], after);
}

Deno.test("e2e fuzz: the peer listener, authenticated peer frames and the control socket", async () => {
  await withCluster(
    { secret: SECRET, timeout: TIMEOUT_S, heartbeatInterval: HEARTBEAT_S },
    async (c) => {
      await c.waitForSteady("a");
      const from = Date.now();
      const seed = fuzzSeed();
      const rng = new Rng(seed);
      const problems: string[] = [];
      const state = { closes: await peerCloses(c), epochs: await epochs(c) };

      // 1. Before authentication: anything at a's peer listener.
      const peerInputs = Array.from({ length: PER_TARGET }, () => fuzzFrame(rng, PEER_SEEDS));
      let refusedAtOnce = 0;
      await inBatches(PER_TARGET, async (i) => {
        const started = performance.now();
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.listenPort("a") });
        const end = await exchange(conn, peerInputs[i], started, null);
        if (!end.closedByDaemon) problems.push(`peer input ${i}: never closed`);
        else if (badBeforeAuth(peerInputs[i])) {
          // Past the hello deadline, a daemon that ignored the input would have closed anyway.
          if (end.ms >= HELLO_DEADLINE_MS * 0.9) {
            problems.push(`peer input ${i}: bad, but closed only after ${end.ms.toFixed(0)} ms`);
          } else refusedAtOnce++;
        }
      });
      assertEquals(problems.splice(0), [], `FUZZ_SEED=${seed}: peer input`);
      assert(refusedAtOnce >= PER_TARGET / 2, `only ${refusedAtOnce} inputs were plainly bad`);
      await assertUndisturbed(c, "fuzzed peer input", state);

      // 2. After authentication (as the watchdog w): a valid frame, then a bad one. a keeps
      // the newest connection per name, so the real w is cut off from a meanwhile: its
      // links with a may close (and come back); nobody else's may.
      c.relay.blockBoth("a", "w");
      const secret = await importSecret(SECRET);
      const sessions = 30;
      const sessionInputs = Array.from({ length: sessions }, () => fuzzFrame(rng, PEER_SEEDS));
      const badSessions = new Map<number, number>();
      for (let i = 0; i < sessions; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.listenPort("a") });
        const reader = new FrameReader(conn);
        const session = await connectorHandshake(conn, reader, {
          self: "w",
          auth: secret,
          timeoutMs: 3000,
          expectNode: "a",
        });
        await writeFrame(conn, { ...await session.sealer!.seal(batchBody([])) }, 1000);
        // Sealed with the right key but carrying garbage, or garbage in place of a sealed frame.
        const inner = mutateValue(rng, rng.pick(PEER_SEEDS));
        const body = typeof inner === "object" && inner !== null && !Array.isArray(inner)
          ? inner as Record<string, unknown>
          : { type: "batch", messages: [inner] };
        const sealed = i % 2 === 0;
        const garbage = sealed
          ? encodeFrame({ ...await session.sealer!.seal(body) })
          : sessionInputs[i];
        // A batch whose messages are dropped one by one keeps the connection (by design), and
        // a frame cut short waits for its end: those we end ourselves.
        const f = frames(garbage, 1024 * 1024);
        const bad = sealed
          ? parseBatch(body) instanceof InvalidMessage
          : f.error || f.frames.length > 0;
        const port = (conn.localAddr as Deno.NetAddr).port;
        await reader.settle();
        const end = await exchange(conn, garbage, performance.now(), bad ? null : 0);
        if (!end.closedByDaemon) problems.push(`session ${i}: never closed`);
        if (bad) badSessions.set(port, i);
      }
      // Why a closed each bad session, from its log: the input, not the idle deadline.
      await new Promise((r) => setTimeout(r, 300));
      const aLog = await c.log("a");
      for (const [port, i] of badSessions) {
        const m = aLog.match(
          new RegExp(`peer w \\(127\\.0\\.0\\.1:${port}, acceptor\\): connection closed: (.*)`),
        );
        if (!m) problems.push(`session ${i}: a did not log why it closed it`);
        else if (/^(idle|closed by peer)/.test(m[1])) {
          problems.push(
            `session ${i}: closed: ${m[1]}`,
          );
        }
      }
      assertEquals(problems.splice(0), [], `FUZZ_SEED=${seed}: authenticated sessions`);
      assert(
        badSessions.size >= sessions / 3,
        `only ${badSessions.size} sessions sent plainly bad input`,
      );
      c.relay.heal();
      await c.waitFor(
        async () => (await c.resourceStatus("a"))?.peers.every((p) => p.connected) ?? false,
        5000,
        "a and w to reconnect",
      );
      const fakeW = (line: string) => line.startsWith("a: ") && / peer w \(/.test(line);
      const realW = (line: string) =>
        (line.startsWith("a: ") && / peer w \(/.test(line)) ||
        (line.startsWith("w: ") && / peer a \(/.test(line));
      await assertUndisturbed(c, "fuzzed authenticated frames", state, (l) => fakeW(l) || realW(l));
      state.closes = await peerCloses(c);

      // 3. The control socket of every node: each complete request is answered; a frame
      // that cannot be read closes the connection at once (the idle deadline is 30 s).
      const controlInputs = Array.from({ length: PER_TARGET }, () => fuzzFrame(rng, CONTROL_SEEDS));
      await inBatches(PER_TARGET, async (i) => {
        const node = c.nodes[i % c.nodes.length].name;
        const f = frames(controlInputs[i], 1024 * 1024);
        const started = performance.now();
        const conn = await Deno.connect({ transport: "unix", path: c.controlPath(node) });
        const end = await exchange(
          conn,
          controlInputs[i],
          started,
          f.error ? null : f.frames.length,
        );
        if (!end.closedByDaemon) problems.push(`control input ${i} to ${node}: never closed`);
        else if (f.error && end.afterOurEof) problems.push(`control input ${i}: closed at our EOF`);
        else if (end.frames < f.frames.length) {
          problems.push(`control input ${i}: ${end.frames} answers to ${f.frames.length} requests`);
        }
      });
      assertEquals(problems, [], `FUZZ_SEED=${seed}: control input`);
      await assertUndisturbed(c, "fuzzed control input", state);
      const begins = (await c.timeline()).filter((e) => e.kind === "begin" && e.t >= from);
      assertEquals(begins.length, 0, "the service moved during fuzzing");
    },
  );
});
