import { assert, assertEquals } from "../../tests/assert.ts";
import { FileSink, formatLogLine, Logger, MemorySink, QueuedSink } from "./log.ts";

const at = new Date("2026-11-25T10:00:00.123Z");

Deno.test("log lines carry time, level and optional resource", () => {
  assertEquals(
    formatLogLine(at, "info", "role changed", "web"),
    "2026-11-25T10:00:00.123Z [INFO] [web] role changed",
  );
  assertEquals(
    formatLogLine(at, "warning", "no peers"),
    "2026-11-25T10:00:00.123Z [WARNING] no peers",
  );
});

Deno.test("a record stays on one line whatever it contains", () => {
  assertEquals(
    formatLogLine(at, "error", "a\nforged [INFO] line\r\t\x07", "we\nb"),
    "2026-11-25T10:00:00.123Z [ERROR] [we\\nb] a\\nforged [INFO] line\\r\\t\\x07",
  );
});

Deno.test("each -d shows one more depth of debug records", () => {
  const sink = new MemorySink();
  const log = new Logger(sink, { now: () => at });
  const all = () => {
    log.error("e");
    log.warning("w", "r");
    log.info("i");
    log.debug("d1");
    log.debug("d2", "r", 2);
  };
  all();
  assertEquals(sink.lines.map((l) => l.slice(25)), ["[ERROR] e", "[WARNING] [r] w", "[INFO] i"]);
  sink.lines.length = 0;
  log.verbosity = 1;
  all();
  assertEquals(sink.lines.map((l) => l.slice(25)), [
    "[ERROR] e",
    "[WARNING] [r] w",
    "[INFO] i",
    "[DEBUG] d1",
  ]);
  sink.lines.length = 0;
  log.verbosity = 2;
  all();
  assertEquals(sink.lines.at(-1), "2026-11-25T10:00:00.123Z [DEBUG] [r] d2");
});

Deno.test("a sink that throws (EPIPE, ENOSPC) never stops the caller: lines counted lost, told once it writes again", () => {
  const lines: string[] = [];
  let broken = false;
  const sink = {
    write(line: string) {
      if (broken) throw new Error("Broken pipe (os error 32)");
      lines.push(line);
    },
    close() {},
  };
  let clock = 1000;
  const log = new Logger(sink, { now: () => at, clock: () => clock });
  log.info("one");
  assertEquals(log.loss, { linesLost: 0, error: null, lastLostAgoMs: null });
  broken = true;
  log.info("two", "web");
  log.error("three");
  clock += 2500;
  assertEquals(log.loss, {
    linesLost: 2,
    error: "Broken pipe (os error 32)",
    lastLostAgoMs: 2500,
  });
  broken = false;
  log.info("four");
  assertEquals(lines, [
    "2026-11-25T10:00:00.123Z [INFO] one",
    "2026-11-25T10:00:00.123Z [ERROR] log: 2 line(s) could not be written (Broken pipe (os " +
    "error 32)); writing again",
    "2026-11-25T10:00:00.123Z [INFO] four",
  ]);
  assertEquals(log.loss.linesLost, 2, "the count is since start");
});

Deno.test("a file sink appends, and reopens after the file was moved away", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-log-" });
  try {
    const path = `${dir}/hastmon.log`;
    await Deno.writeTextFile(path, "old\n");
    const sink = new FileSink(path);
    const log = new Logger(sink, { now: () => at });
    log.info("one", "web");
    await Deno.rename(path, `${path}.0`);
    sink.reopen();
    log.info("two");
    sink.close();
    assertEquals(
      await Deno.readTextFile(`${path}.0`),
      "old\n2026-11-25T10:00:00.123Z [INFO] [web] one\n",
    );
    assertEquals(await Deno.readTextFile(path), "2026-11-25T10:00:00.123Z [INFO] two\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A logger on a hand-turned clock: `clock.t` ms. */
function manual(opts: { format?: "text" | "json" } = {}) {
  const sink = new MemorySink();
  const clock = { t: 0 };
  const log = new Logger(sink, {
    now: () => at,
    clock: () => clock.t,
    repeatWindowMs: 60_000,
    node: "alpha",
    ...opts,
  });
  return { sink, clock, log, text: () => sink.lines.map((l) => l.slice(25)) };
}

Deno.test("identical records within a minute are written once, then summarised", () => {
  const { clock, log, text } = manual();
  for (let i = 0; i < 313; i++) {
    clock.t = i * 100;
    log.warning("peer 10.0.0.9: refused: address not allowed");
  }
  log.warning("status failed", "web"); // a different record is written at once
  assertEquals(text(), [
    "[WARNING] peer 10.0.0.9: refused: address not allowed",
    "[WARNING] [web] status failed",
  ]);
  clock.t = 60_000;
  log.info("later");
  assertEquals(text().slice(2), [
    "[WARNING] peer 10.0.0.9: refused: address not allowed [repeated 312 times in the last 60s]",
    "[INFO] later",
  ]);
  // After the summary, the next occurrence is news again.
  clock.t = 61_000;
  log.warning("peer 10.0.0.9: refused: address not allowed");
  assertEquals(text().at(-1), "[WARNING] peer 10.0.0.9: refused: address not allowed");
});

Deno.test("records differing in level, resource or wording are not repeats; close writes what is pending", () => {
  const { clock, log, text } = manual();
  log.warning("x", "a");
  log.warning("x", "b");
  log.error("x", "a");
  log.warning("y", "a");
  clock.t = 10;
  log.warning("x", "a");
  log.warning("x", "a");
  assertEquals(text().length, 4);
  log.close();
  assertEquals(text().at(-1), "[WARNING] [a] x [repeated 2 times in the last 0s]");
});

Deno.test("without a repeat window every record is written", () => {
  const sink = new MemorySink();
  const log = new Logger(sink, { now: () => at });
  for (let i = 0; i < 3; i++) log.warning("same");
  assertEquals(sink.lines.length, 3);
});

Deno.test("a role change is one record with its reason; the core's text line for it is dropped", () => {
  const { log, text } = manual();
  const t = {
    from: "secondary",
    to: "primary",
    epoch: 4,
    reason: "takeover: 4 complaints",
  } as const;
  log.transition("web", t);
  log.info("role secondary -> primary (epoch 4): takeover: 4 complaints", "web");
  log.info("starting (attempt 1 of 5)", "web");
  assertEquals(text(), [
    "[INFO] [web] role secondary -> primary (epoch 4): takeover: 4 complaints",
    "[INFO] [web] starting (attempt 1 of 5)",
  ]);
});

Deno.test("json: one object per line with time, level, node, resource, event, message, reason", () => {
  const { sink, clock, log } = manual({ format: "json" });
  log.transition("web", { from: "init", to: "primary", epoch: 1, reason: "role_on_start" });
  log.warning("line\nbreak");
  log.warning("line\nbreak");
  clock.t = 60_000;
  log.flush();
  const records = sink.lines.map((l) => JSON.parse(l));
  assertEquals(sink.lines.every((l) => !l.includes("\n")), true);
  assertEquals(records[0], {
    time: "2026-11-25T10:00:00.123Z",
    level: "info",
    node: "alpha",
    resource: "web",
    event: "role_change",
    message: "role init -> primary (epoch 1): role_on_start",
    reason: "role_on_start",
    from: "init",
    to: "primary",
    epoch: 1,
  });
  assertEquals(records[1].event, "log");
  assertEquals(records[1].resource, null);
  assertEquals(records[1].message, "line\nbreak");
  assertEquals(records[2].event, "repeated");
  assertEquals(records[2].count, 1);
  assertEquals(records.length, 3);
});

Deno.test("with the summary timer, a summary comes when its window ends even if all is quiet", async () => {
  const sink = new MemorySink();
  const log = new Logger(sink, { now: () => at, repeatWindowMs: 50, summaryTimer: true });
  try {
    log.warning("hook failed");
    log.warning("hook failed");
    log.warning("hook failed");
    assertEquals(sink.lines.length, 1);
    const deadline = Date.now() + 2000;
    while (sink.lines.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(
      sink.lines[1].slice(25),
      "[WARNING] hook failed [repeated 2 times in the last 0s]",
    );
  } finally {
    log.close();
  }
});

/** An asynchronous writer whose writes wait until `release`, or fail while `failing`. */
function stuckWriter() {
  const written: string[] = [];
  let open: (() => void) | null = null;
  let gate = new Promise<void>((r) => open = r);
  const w = {
    written,
    failing: null as string | null,
    release() {
      open?.();
    },
    block() {
      gate = new Promise<void>((r) => open = r);
    },
    async write(p: Uint8Array): Promise<number> {
      await gate;
      if (w.failing !== null) throw new Error(w.failing);
      written.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  return w;
}

Deno.test("a queued sink never makes the logger wait: beyond its bound lines are counted lost, and told once it drains", async () => {
  const out = stuckWriter();
  // Room for four of these lines (36-38 characters with their newline, the one being written
  // included), not five; then for the notice of the lost one and "six".
  const sink = new QueuedSink(out, 170);
  const log = new Logger(sink, { now: () => at });
  for (const m of ["one", "two", "three", "four", "five"]) log.info(m); // none of them waits
  // "one" is being written; two to four wait; "five" did not fit.
  assertEquals(log.loss.linesLost, 1);
  assert((log.loss.error ?? "").includes("does not drain"), String(log.loss.error));
  out.release();
  await sink.flush(1000);
  log.info("six");
  await sink.flush(1000);
  assertEquals(out.written.join("").split("\n").filter((l) => l !== ""), [
    "2026-11-25T10:00:00.123Z [INFO] one",
    "2026-11-25T10:00:00.123Z [INFO] two",
    "2026-11-25T10:00:00.123Z [INFO] three",
    "2026-11-25T10:00:00.123Z [INFO] four",
    "2026-11-25T10:00:00.123Z [ERROR] log: 1 line(s) could not be written (the log does not " +
    "drain (147 characters waiting)); writing again",
    "2026-11-25T10:00:00.123Z [INFO] six",
  ]);
});

Deno.test("a queued sink counts the lines of a write that failed, with why and when", async () => {
  const out = stuckWriter();
  out.release();
  const sink = new QueuedSink(out);
  const log = new Logger(sink, { now: () => at });
  out.failing = "Broken pipe (os error 32)";
  log.info("one");
  log.info("two");
  await sink.flush(1000);
  const loss = log.loss;
  assertEquals([loss.linesLost, loss.error], [2, "Broken pipe (os error 32)"]);
  assert(loss.lastLostAgoMs !== null && loss.lastLostAgoMs! < 1000, String(loss.lastLostAgoMs));
  // flush gives up on a log that does not drain.
  out.failing = null;
  out.block();
  log.info("three");
  const t = performance.now();
  await sink.flush(50);
  assert(performance.now() - t < 1000, "flush waited for a stuck log");
  out.release();
  await sink.flush(1000);
  assertEquals(out.written.join("").includes("[INFO] three"), true);
});

Deno.test("a lost record opens no repeat window; a write cut part-way leaves the next line whole", async () => {
  const lines: string[] = [];
  let broken = false;
  const log = new Logger({
    write(line: string) {
      if (broken) throw new Error("No space left on device (os error 28)");
      lines.push(line);
    },
    close() {},
  }, { now: () => at, repeatWindowMs: 60_000, clock: () => 0 });
  broken = true;
  log.warning("peer b: connection refused");
  broken = false;
  log.warning("peer b: connection refused"); // within the minute, yet written: the first was lost
  assertEquals(lines.length, 2, lines.join("\n"));
  assertEquals(lines[1], "2026-11-25T10:00:00.123Z [WARNING] peer b: connection refused");

  // A writer that takes part of a batch, then fails: the next batch starts on a new line.
  const out: string[] = [];
  let cutAfter: number | null = 10;
  const sink = new QueuedSink({
    write(p: Uint8Array): Promise<number> {
      if (cutAfter === 0) return Promise.reject(new Error("No space left on device (os error 28)"));
      const n = cutAfter === null ? p.length : Math.min(cutAfter, p.length);
      if (cutAfter !== null) cutAfter -= n;
      out.push(new TextDecoder().decode(p.subarray(0, n)));
      return Promise.resolve(n);
    },
  });
  sink.write("first line, cut");
  await sink.flush(1000);
  cutAfter = null;
  sink.write("second line");
  await sink.flush(1000);
  assertEquals(out.join(""), "first line\nsecond line\n");
});

Deno.test("a queued sink writes whole lines, at most a pipe's atomic write (4096 bytes) at a time", async () => {
  const writes: Uint8Array[] = [];
  const sink = new QueuedSink({
    write(p: Uint8Array): Promise<number> {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
  });
  // Three bytes a character: counted in characters, a piece would be three times too long.
  const lines = Array.from({ length: 200 }, (_, i) => `${i}`.padStart(99, i % 2 ? "x" : "漢"));
  for (const l of lines) sink.write(l);
  sink.write("y".repeat(5000)); // longer than one atomic write: alone
  await sink.flush(1000);
  const text = (p: Uint8Array) => new TextDecoder().decode(p);
  assertEquals(writes.map(text).join(""), [...lines, "y".repeat(5000)].join("\n") + "\n");
  assert(writes.length > 1, "in pieces");
  for (const w of writes.slice(0, -1)) {
    assert(w.length <= 4096 && w.at(-1) === 0x0a, `a write of ${w.length} bytes`);
  }
  assertEquals(text(writes.at(-1)!), "y".repeat(5000) + "\n");
  assertEquals(sink.held, 0);
});

Deno.test("a queued sink lets go of what it wrote or lost, whatever a failed write throws", async () => {
  let fail: unknown = undefined;
  let failing = false;
  const sink = new QueuedSink({
    write(p: Uint8Array): Promise<number> {
      return failing ? Promise.reject(fail) : Promise.resolve(p.length);
    },
  }, 1000);
  for (const why of [new Error("Broken pipe (os error 32)"), null, "a string"]) {
    failing = true;
    fail = why;
    for (let i = 0; i < 10; i++) sink.write(`line ${i}`);
    await sink.flush(1000);
    assertEquals(sink.held, 0, `after ${String(why)}`);
  }
  assertEquals(sink.dropped?.lines, 30);
  assertEquals(sink.dropped?.error, "a string");
  // Room again for as much as the bound: nothing held from before.
  failing = false;
  for (let i = 0; i < 90; i++) sink.write(`line ${i}`); // 90 × 7-8 characters
  await sink.flush(1000);
  assertEquals(sink.held, 0);
});

Deno.test("a queued sink: a write cut inside a batch leaves the next line whole, and only the lines not finished count lost", async () => {
  const out: string[] = [];
  let n = 0;
  const sink = new QueuedSink({
    write(p: Uint8Array): Promise<number> {
      n++;
      if (n === 2) { // the second piece: ten bytes of it, then a failure
        out.push(new TextDecoder().decode(p.subarray(0, 10)));
        return Promise.resolve(10);
      }
      if (n === 3) return Promise.reject(new Error("No space left on device (os error 28)"));
      out.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
  });
  const lines = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(99, "x"));
  for (const l of lines) sink.write(l);
  await sink.flush(1000);
  const written = out.join("").split("\n").filter((l) => l !== "");
  // Whole lines, but for the fragment of the one cut.
  assertEquals(written.filter((l) => l.length !== 99), ["xxxxxxxxxx"]);
  // The cut piece's lines were lost (the one cut among them), and no other.
  assertEquals(written.length - 1 + sink.dropped!.lines, 100);

  // A log that stays broken after a cut: every later line lost is counted once.
  let m = 0;
  const dead = new QueuedSink({
    write(): Promise<number> {
      return ++m === 1 ? Promise.resolve(3) : Promise.reject(new Error("Broken pipe"));
    },
  });
  dead.write("abcdef");
  await dead.flush(1000);
  for (let i = 0; i < 10; i++) {
    dead.write(`l${i}`);
    await dead.flush(1000);
  }
  assertEquals(dead.dropped?.lines, 11);
});
