import { assertEquals } from "../../tests/assert.ts";
import { FileSink, formatLogLine, Logger, MemorySink } from "./log.ts";

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
