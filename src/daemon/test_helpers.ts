/** Helpers for the daemon's tests: scripts in temporary directories, process probes. */
import { nativeSpawner } from "./native_spawn.ts";

// The spawner's library is loaded before any test of a file that spawns hooks: the resource
// sanitizer counts a library loaded during a test, and it stays loaded for the process's life.
if (nativeSpawner() === null) throw new Error("native spawn must load on the machines we test on");

/** Write an executable shell script `name` into `dir` and return its path. */
export async function writeScript(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * Whether process `pid` exists and is not a zombie. Zombies count as dead:
 * where PID 1 does not reap orphans (containers), a killed orphan stays one.
 */
export function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // No /proc: kill(0) is all we know.
  }
}

/** Poll `cond` every 10 ms until it holds; throw after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Read a pid written by a test script, waiting for it to appear. */
export async function readPid(path: string, timeoutMs = 2000): Promise<number> {
  let pid = NaN;
  await waitFor(
    async () => {
      try {
        pid = Number((await Deno.readTextFile(path)).trim());
      } catch {
        return false;
      }
      return Number.isInteger(pid) && pid > 0;
    },
    timeoutMs,
    `a pid in ${path}`,
  );
  return pid;
}

/** SIGKILL a process if it still exists. */
export function killQuietly(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Whether `p` has settled by the next macrotask. */
export async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

/** `p`, or a rejection naming `what` if it has not settled within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Run the module `source` (its imports absolute: `import.meta.resolve`) in a
 * Deno process of its own, with `args` after it and `env` added, started
 * through `launcher` (a command that execs the rest of its arguments) if
 * given; it must exit 0. Returns what it printed, parsed as JSON.
 */
export async function inOwnProcess(
  source: string,
  opts: { launcher?: string[]; args?: string[]; env?: Record<string, string> } = {},
): Promise<unknown> {
  let printed: unknown;
  await withTempDir("hastmon-own-", async (dir) => {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, source);
    const [program, ...args] = [
      ...opts.launcher ?? [],
      Deno.execPath(),
      "run",
      "-A",
      "--no-lock",
      script,
      ...opts.args ?? [],
    ];
    const out = await new Deno.Command(program, { args, env: opts.env, stderr: "inherit" })
      .output();
    if (out.code !== 0) throw new Error(`${script} exited with ${out.code}`);
    printed = JSON.parse(new TextDecoder().decode(out.stdout));
  });
  return printed;
}
