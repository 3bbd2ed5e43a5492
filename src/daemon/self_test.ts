import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { guardCommand, selfCommand } from "./self.ts";
import { DAEMON_DENO_FLAGS } from "./v8_flags.ts";

const base = {
  standalone: false,
  execPath: "/usr/bin/deno",
  mainModule: "file:///opt/hastmon%20src/main.ts",
};

Deno.test("self: the launcher's HASTMON_SELF comes first, whatever else is true", () => {
  assertEquals(selfCommand({ ...base, self: "/usr/local/sbin/hastmon" }), [
    "/usr/local/sbin/hastmon",
  ]);
  assertEquals(selfCommand({ ...base, standalone: true, self: "/x/hastmon" }), ["/x/hastmon"]);
});

Deno.test("self: a compiled binary runs itself", () => {
  assertEquals(selfCommand({ ...base, standalone: true, execPath: "/usr/sbin/hastmon" }), [
    "/usr/sbin/hastmon",
  ]);
});

Deno.test("self: from source, deno run of the main module with the daemon's Deno options", () => {
  assertEquals(selfCommand(base), [
    "/usr/bin/deno",
    "run",
    "-A",
    ...DAEMON_DENO_FLAGS,
    "/opt/hastmon src/main.ts",
  ]);
});

Deno.test("self: a main module that is not a file cannot be run again", async () => {
  await assertRejects(
    async () => await selfCommand({ ...base, mainModule: "https://example.com/main.ts" }),
    "HASTMON_SELF",
  );
});

Deno.test("self: the guard is `hastmon guard` in the single-file forms, guard_main.ts from source", () => {
  assertEquals(guardCommand({ ...base, self: "/usr/local/sbin/hastmon" }), [
    "/usr/local/sbin/hastmon",
    "guard",
  ]);
  assertEquals(guardCommand({ ...base, standalone: true, execPath: "/usr/sbin/hastmon" }), [
    "/usr/sbin/hastmon",
    "guard",
  ]);
  assertEquals(guardCommand(base), [
    "/usr/bin/deno",
    "run",
    "-A",
    "--no-config",
    ...DAEMON_DENO_FLAGS,
    decodeURIComponent(new URL("./guard_main.ts", import.meta.url).pathname),
  ]);
});
