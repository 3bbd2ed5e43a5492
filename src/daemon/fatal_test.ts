import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";

/**
 * Run `body` in a process whose log (a QueuedSink on stderr) ends through
 * endThroughLog, installed after `before`.
 */
async function run(body: string, before = ""): Promise<{ code: number; log: string }> {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-fatal-" });
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(
      script,
      `import { Logger, QueuedSink } from ${
        JSON.stringify(new URL("./log.ts", import.meta.url).href)
      };
import { endThroughLog } from ${JSON.stringify(new URL("./fatal.ts", import.meta.url).href)};
${before}
const logger = new Logger(new QueuedSink(Deno.stderr));
endThroughLog(logger, 70);
logger.info("context before it");
${body}
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", script],
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code: out.code, log: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fatal: an uncaught error is logged with its stack after what was queued, then exit 70", async () => {
  const r = await run(`setTimeout(() => { throw new Error("boom"); }, 10);`);
  assertEquals(r.code, 70, r.log);
  assert(r.log.indexOf("context before it") < r.log.indexOf("fatal: Error: boom"), r.log);
  assertStringIncludes(r.log, "[ERROR] fatal: Error: boom\\n    at ");
});

Deno.test("fatal: an unhandled rejection too", async () => {
  const r = await run(`setTimeout(() => { Promise.reject(new Error("rejected")); }, 10);`);
  assertEquals(r.code, 70, r.log);
  assertStringIncludes(r.log, "[ERROR] fatal: Error: rejected");
});

Deno.test("fatal: an error another listener handled is left alone", async () => {
  const r = await run(
    `setTimeout(() => { throw new Error("handled"); }, 10);
setTimeout(() => { logger.info("still here"); }, 100);`,
    `globalThis.addEventListener("error", (e) => e.preventDefault());`,
  );
  assertEquals(r.code, 0, r.log);
  assertStringIncludes(r.log, "still here");
  assertEquals(r.log.includes("fatal"), false, r.log);
});
