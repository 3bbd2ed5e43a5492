import { assert, assertEquals } from "../../tests/assert.ts";
import { withTempDir } from "./test_helpers.ts";

const HERE = new URL(".", import.meta.url).href;

/**
 * A daemon-like process whose parent leaked descriptor 7 (as a careless
 * service manager might): after marking, a hook it runs sees only 0, 1, 2.
 */
async function hookFds(dir: string, mark: boolean): Promise<string[]> {
  const script = `${dir}/child.ts`;
  await Deno.writeTextFile(
    script,
    `import { markInheritedFdsCloseOnExec } from "${HERE}fds.ts";
import { runHook } from "${HERE}hooks.ts";
${mark ? "const r = markInheritedFdsCloseOnExec(); if (r.error) throw new Error(r.error);" : ""}
const lines: string[] = [];
await runHook({
  command: ["/bin/sh", "-c", "ls /proc/$$/fd"],
  env: {},
  timeoutMs: 5000,
  graceMs: 100,
  log: (_s, l) => lines.push(l),
});
console.log(lines.join(" "));
`,
  );
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", `exec 7<"$0"; exec "$1" run -A "$2"`, `${dir}/child.ts`, Deno.execPath(), script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, err);
  return new TextDecoder().decode(out.stdout).trim().split(/\s+/).sort();
}

Deno.test("fds: a descriptor the daemon inherited does not reach its hooks", async () => {
  await withTempDir("hastmon-fds-", async (dir) => {
    const leaked = await hookFds(dir, false);
    // Without marking, the hook gets the leak: the test can tell.
    assert(leaked.includes("7"), `no leak to begin with: ${leaked}`);
    // ls's own directory descriptor is the one above 2 that may show.
    const fds = (await hookFds(dir, true)).filter((fd) => Number(fd) <= 2 || fd === "7");
    assertEquals(fds, ["0", "1", "2"]);
  });
});
