/**
 * The built executable for tests: `deno task build` made once per test
 * process (`--if-changed`: a CI run that built already reuses it), and lone
 * copies of it as an operator would install them.
 */
import { assertEquals } from "../assert.ts";
import { REPO_ROOT } from "./harness.ts";

/** Where `deno task build` writes. */
export const DIST = `${REPO_ROOT}dist`;

let built: Promise<void> | null = null;

/** Build dist/hastmon unless it is up to date (once per test process). */
export function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/build.ts", "--if-changed"],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (r.code !== 0) {
      throw new Error(`build failed (${r.code}):\n${dec.decode(r.stderr)}${dec.decode(r.stdout)}`);
    }
  })();
  return built;
}

/** A fresh directory holding only a copy of the built file, `bin/hastmon`, and a cache directory. */
export async function installCopy(): Promise<{ root: string; exe: string; cache: string }> {
  await ensureBuilt();
  const root = await Deno.makeTempDir({ prefix: "hastmon-built-" });
  await Deno.mkdir(`${root}/bin`);
  const exe = `${root}/bin/hastmon`;
  await Deno.copyFile(`${DIST}/hastmon`, exe);
  await Deno.chmod(exe, 0o755);
  assertEquals([...Deno.readDirSync(`${root}/bin`)].map((e) => e.name), ["hastmon"]);
  return { root, exe, cache: `${root}/cache` };
}
