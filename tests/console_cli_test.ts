/**
 * `hastmon tui`, `hastmon demo` and the demo's `demo-service` as a user (or
 * the demo's hook script) runs them: no terminal is a clear usage error, and
 * the sample service serves its page and refuses a taken port.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon, hastmonCommand } from "./cli.ts";
import { fetchPage } from "../src/demo/service.ts";

Deno.test("tui and demo refuse without a terminal: exit 64 and why", async () => {
  for (const args of [["tui", "-s", "/tmp/nowhere.sock"], ["demo"]]) {
    const r = await hastmon(args);
    assertEquals(r.code, 64, r.err);
    assertStringIncludes(r.err, "needs a terminal");
    assertStringIncludes(r.err, "hastmon ctl status --json");
    assertEquals(r.out, "");
  }
});

Deno.test("tui: a configuration that cannot be read says so before anything else (66)", async () => {
  const r = await hastmon(["tui", "-c", "/nonexistent/hastmon.toml"]);
  assertEquals(r.code, 66, r.err);
});

Deno.test("help: tui and demo are listed, the demo's service is not", async () => {
  const r = await hastmon(["--help"]);
  assertStringIncludes(r.out, "tui");
  assertStringIncludes(r.out, "demo");
  assert(!r.out.includes("demo-service"), r.out);
  const tui = await hastmon(["tui", "--help"]);
  assertStringIncludes(tui.out, "--socket");
  assertStringIncludes(tui.out, "Exit status");
});

Deno.test("demo-service: serves a page naming its node and epoch; a taken port is 69", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  const taken = await hastmon(["demo-service", "--port", String(port), "--node", "n1"]);
  assertEquals(taken.code, 69, taken.err);
  assertStringIncludes(taken.err, "is taken");
  l.close();
  const args = ["demo-service", "--port", String(port), "--node", "n1", "--epoch", "7"];
  const child = hastmonCommand(args, {}, "null").spawn();
  try {
    let page = null;
    for (let i = 0; i < 200 && page === null; i++) {
      page = await fetchPage(`http://127.0.0.1:${port}/`, 500);
      if (page === null) await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(page, { node: "n1", epoch: "7" });
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
  }
  const bad = await hastmon(["demo-service", "--port", "0", "--node", "n1"]);
  assertEquals(bad.code, 64);
});
