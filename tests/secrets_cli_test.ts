/**
 * Secrets on disk, as a user meets them: a shared secret file that group or
 * others may read is refused by `config check` and by the daemon, with the
 * file named, the fix, and exit 78; a binary secret keeps every byte.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { hastmon } from "./cli.ts";

function config(dir: string): string {
  return `exec = "/bin/true"
[key]
secret_file = "${dir}/secret"
[on.x]
listen = "tcp://127.0.0.1:0"
control = "${dir}/ctl.sock"
state_dir = "${dir}/state"
[resource.r.on.x]
remote = "none"
`;
}

Deno.test("secrets: a world-readable secret_file is refused with the file, chmod 600 and exit 78", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = `${dir}/hastmon.toml`;
    await Deno.writeTextFile(cfg, config(dir), { mode: 0o600 });
    await Deno.writeFile(`${dir}/secret`, crypto.getRandomValues(new Uint8Array(32)));
    await Deno.chmod(`${dir}/secret`, 0o644);
    for (const args of [["config", "check"], ["daemon", "-F", "-P", `${dir}/pid`]]) {
      const r = await hastmon([...args, "-c", cfg, "--node", "x"]);
      assertEquals(r.code, 78, `${args[0]}: ${r.err}`);
      assertStringIncludes(r.err, `${cfg}:3:15: secret_file "${dir}/secret" is open to group or`);
      assertStringIncludes(r.err, `chmod 600 "${dir}/secret"`);
    }
    assertEquals(await Deno.stat(`${dir}/pid`).then(() => true, () => false), false);
    // Fixed: accepted.
    await Deno.chmod(`${dir}/secret`, 0o600);
    const ok = await hastmon(["config", "check", "-c", cfg, "--node", "x"]);
    assertEquals(ok.code, 0, ok.err);
    assert(!ok.err.includes("secret"), ok.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
