import { assertEquals } from "../../tests/assert.ts";
import { dirname, resolvePath } from "./paths.ts";

Deno.test("dirname", () => {
  assertEquals(dirname("/etc/hastmon.toml"), "/etc");
  assertEquals(dirname("/hastmon.toml"), "/");
  assertEquals(dirname("hastmon.toml"), ".");
  assertEquals(dirname("conf/hastmon.toml"), "conf");
});

Deno.test("resolvePath makes relative paths relative to the base and folds dots", () => {
  assertEquals(resolvePath("/etc/hastmon", "hooks/web.sh"), "/etc/hastmon/hooks/web.sh");
  assertEquals(resolvePath("/etc/hastmon", "./a/../b"), "/etc/hastmon/b");
  assertEquals(resolvePath("/etc", "/usr/bin/true"), "/usr/bin/true");
  assertEquals(resolvePath("/", "../x"), "/x");
  assertEquals(resolvePath(".", "x"), "x");
  assertEquals(resolvePath("conf", "../../x"), "../x");
});
