import { assert, assertEquals } from "../../tests/assert.ts";
import { inOwnProcess } from "./test_helpers.ts";

type Seen = { cmdline: string; comm: string; env: string | undefined; environ: boolean };

/** What `ps` would show of a Deno process that set `titles` in turn, read by the process itself. */
function titled(titles: string[], args: string[] = []): Promise<Seen> {
  return inOwnProcess(
    `import { setProcessTitle } from ${JSON.stringify(import.meta.resolve("./proc_title.ts"))};
     for (const t of ${JSON.stringify(titles)}) setProcessTitle(t);
     console.log(JSON.stringify({
       cmdline: Deno.readTextFileSync("/proc/self/cmdline"),
       comm: Deno.readTextFileSync("/proc/self/comm"),
       env: Deno.env.get("HASTMON_TITLE_TEST"),
       environ: Deno.readTextFileSync("/proc/self/environ").includes("HASTMON_TITLE_TEST=kept"),
     }));`,
    { args, env: { HASTMON_TITLE_TEST: "kept" } },
  ) as Promise<Seen>;
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
