import { assert, assertEquals } from "../../tests/assert.ts";
import { Pidfile } from "./pidfile.ts";
import { FileSink } from "./log.ts";
import { StateStore } from "./state_store.ts";
import { encodeState, parseState } from "../runtime/state_file.ts";
import { prepareStateDir } from "./safe_open.ts";
import { withTempDir } from "./test_helpers.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-safe-", fn);

const TARGET_TEXT = "precious data\n";

/** A file someone wants overwritten, and a symlink to it at `link`. */
async function plant(dir: string, link: string): Promise<string> {
  const target = `${dir}/precious`;
  await Deno.writeTextFile(target, TARGET_TEXT);
  await Deno.symlink(target, link);
  return target;
}

async function rejects(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("did not throw");
}

Deno.test("files: a symlink at the pidfile path is refused and its target untouched", async () => {
  await withDir(async (dir) => {
    const target = await plant(dir, `${dir}/hastmon.pid`);
    const e = await rejects(() => Pidfile.acquire(`${dir}/hastmon.pid`));
    assert(/symbolic link/.test(e.message), e.message);
    assertEquals(await Deno.readTextFile(target), TARGET_TEXT);
    // A regular pidfile still works.
    await Deno.remove(`${dir}/hastmon.pid`);
    const p = await Pidfile.acquire(`${dir}/hastmon.pid`);
    assertEquals((await Deno.readTextFile(`${dir}/hastmon.pid`)).trim(), String(Deno.pid));
    await p.release();
  });
});

Deno.test("files: a symlink at the log path is refused and its target untouched", async () => {
  await withDir(async (dir) => {
    const target = await plant(dir, `${dir}/hastmon.log`);
    const e = await rejects(() => new FileSink(`${dir}/hastmon.log`));
    assert(/symbolic link/.test(e.message), e.message);
    assertEquals(await Deno.readTextFile(target), TARGET_TEXT);
    // A log rotated into a symlink: reopen keeps writing to the old file and says why.
    await Deno.remove(`${dir}/hastmon.log`);
    const sink = new FileSink(`${dir}/hastmon.log`);
    await Deno.rename(`${dir}/hastmon.log`, `${dir}/hastmon.log.0`);
    await Deno.symlink(target, `${dir}/hastmon.log`);
    assert(/symbolic link/.test(sink.reopen() ?? ""), "reopen says why it kept the old file");
    sink.write("after");
    sink.close();
    assertEquals(await Deno.readTextFile(target), TARGET_TEXT);
    const old = await Deno.readTextFile(`${dir}/hastmon.log.0`);
    assert(old.endsWith("after\n"), old);
  });
});

Deno.test("files: a symlink at a state file's temporary path is refused, target untouched, then removed", async () => {
  await withDir(async (dir) => {
    // A version-1 record, which every reader takes: the test is about the file, not its fields.
    const v1 = {
      version: 1,
      resource: "web",
      role: "primary",
      epoch: 1,
      maxEpoch: 1,
      grantHolder: null,
      grantHoldMs: null,
    };
    const state = encodeState("web", parseState(JSON.stringify(v1), "web"));
    const store = new StateStore(`${dir}/state`);
    await prepareStateDir(store.dir);
    await store.open(); // rewrites the journal with temporary file 1
    // The temporary name is `.state.journal.PID.SEQ.tmp`: predictable, so plant the next one,
    // which the journal's compaction uses once enough saves have made it grow.
    const link = `${store.dir}/.state.journal.${Deno.pid}.2.tmp`;
    const target = await plant(dir, link);
    let saves = 0;
    while (await store.save("web", state).then(() => true, () => false)) {
      assert(++saves < 10_000, "the journal was never compacted");
    }
    assertEquals(await Deno.readTextFile(target), TARGET_TEXT);
    assertEquals(await Deno.lstat(link).then(() => "still there", () => "gone"), "gone");
    await store.save("web", state);
    await store.close();
    const restarted = new StateStore(store.dir);
    await restarted.open();
    assertEquals(parseState(restarted.text("web")!, "web").epoch, 1);
    await restarted.close();
  });
});

Deno.test("files: state_dir is created 0700; one writable by group or others is refused", async () => {
  await withDir(async (dir) => {
    await prepareStateDir(`${dir}/new/state`);
    assertEquals((await Deno.stat(`${dir}/new/state`)).mode! & 0o777, 0o700);
    await Deno.mkdir(`${dir}/open`);
    await Deno.chmod(`${dir}/open`, 0o777);
    const e = await rejects(() => prepareStateDir(`${dir}/open`));
    assert(/writable by group or others/.test(e.message) && /chmod 700/.test(e.message), e.message);
    await Deno.chmod(`${dir}/open`, 0o755);
    await prepareStateDir(`${dir}/open`);
  });
});
