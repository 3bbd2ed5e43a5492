import { assert, assertEquals } from "../../tests/assert.ts";
import { withTempDir } from "./test_helpers.ts";

/** What `ps` would show of a Deno process that set `titles` in turn, read by the process itself. */
async function titled(titles: string[], extraArgs: string[] = []) {
  let seen: { cmdline: string; comm: string; env: string | undefined; environ: boolean } | null =
    null;
  await withTempDir("hastmon-title-", async (dir) => {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { setProcessTitle } from ${JSON.stringify(import.meta.resolve("./proc_title.ts"))};
       for (const t of ${JSON.stringify(titles)}) setProcessTitle(t);
       console.log(JSON.stringify({
         cmdline: Deno.readTextFileSync("/proc/self/cmdline"),
         comm: Deno.readTextFileSync("/proc/self/comm"),
         env: Deno.env.get("HASTMON_TITLE_TEST"),
         environ: Deno.readTextFileSync("/proc/self/environ").includes("HASTMON_TITLE_TEST=kept"),
       }));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", script, ...extraArgs],
      env: { HASTMON_TITLE_TEST: "kept" },
      stderr: "inherit",
    }).output();
    assertEquals(out.code, 0);
    seen = JSON.parse(new TextDecoder().decode(out.stdout));
  });
  return seen!;
}

Deno.test("the title replaces the command line and the comm, and leaves the environment alone", async () => {
  // Arguments long enough for the whole title, as the daemon's own are.
  const seen = await titled(
    ["hastmon: a long first title that is overwritten", "hastmon: a r0 (primary)"],
    ["x".repeat(60)],
  );
  // NULs pad the rest of the area: nothing of the first title or the arguments shows.
  assertEquals(seen.cmdline.replace(/\0+$/, ""), "hastmon: a r0 (primary)");
  assertEquals(seen.comm, "hastmon: a r0 (\n");
  assertEquals(seen.env, "kept");
  assert(seen.environ);
});

Deno.test("a title longer than the arguments is cut to their room, not written past them", async () => {
  const seen = await titled(["hastmon: " + "r".repeat(4000)]);
  const shown = seen.cmdline.replace(/\0+$/, "");
  assert(shown.startsWith("hastmon: rrr"), shown);
  assert(shown.length < 4000, `${shown.length}`);
  assertEquals(seen.env, "kept");
  assert(seen.environ);
});
