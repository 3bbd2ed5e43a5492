/** `hastmon keygen`: the lines to paste name the key file absolutely, whatever the cwd. */
import { assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon } from "./cli.ts";

Deno.test("keygen -o RELATIVE: private_key_file is the absolute path (the config resolves from its own dir)", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ dir: root, prefix: ".keygen-test-" });
  try {
    const rel = `${dir.slice(dir.lastIndexOf("/") + 1)}/alpha.key`;
    const r = await hastmon(["keygen", "--node", "alpha", "-o", rel]);
    assertEquals(r.code, 0, r.err);
    const abs = await Deno.realPath(`${dir}/alpha.key`);
    assertStringIncludes(r.out, `private_key_file = ${JSON.stringify(abs)}\n`);
    assertStringIncludes(r.err, `wrote the private key to ${abs} (mode 0600)`);
    assertEquals((await Deno.stat(abs)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
