import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Pidfile, PidfileLockedError } from "./pidfile.ts";
import { readLines } from "./lines.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-pid-", fn);

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("pidfile: holds our pid, refuses a second holder, is removed on release", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/hastmon.pid`;
    const held = await Pidfile.acquire(path);
    assertEquals(await Deno.readTextFile(path), `${Deno.pid}\n`);
    const err = await assertRejects(() => Pidfile.acquire(path), "another hastmon daemon");
    assert(err instanceof PidfileLockedError);
    assertEquals(err.holderPid, Deno.pid);
    assertEquals(
      err.message,
      `another hastmon daemon is running (pid ${Deno.pid}): ${path} is locked`,
    );
    // The refused attempt did not disturb the holder's file.
    assertEquals(await Deno.readTextFile(path), `${Deno.pid}\n`);
    await held.release();
    assertEquals(await exists(path), false);
    const again = await Pidfile.acquire(path);
    await again.release();
  });
});

Deno.test("pidfile: another process holding it is named; its death frees it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/hastmon.pid`;
    const module = new URL("./pidfile.ts", import.meta.url).href;
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { Pidfile } = await import(${JSON.stringify(module)});
         await Pidfile.acquire(${JSON.stringify(path)});
         console.log("locked");
         setTimeout(() => {}, 60_000);`,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(holder.stdout, 100);
    try {
      assertEquals((await lines.next()).value, "locked");
      const err = await assertRejects(() => Pidfile.acquire(path));
      assert(err instanceof PidfileLockedError, String(err));
      assertEquals(err.holderPid, holder.pid);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await lines.return(undefined);
    }
    // A holder killed with -9 leaves its file behind, but not its lock.
    assertEquals(await exists(path), true);
    const taken = await Pidfile.acquire(path);
    assertEquals(await Deno.readTextFile(path), `${Deno.pid}\n`);
    await taken.release();
  });
});
