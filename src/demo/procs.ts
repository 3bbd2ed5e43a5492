/**
 * Finding and killing the processes of a cluster on one machine, by a mark
 * in their environment that every process it starts inherits (daemons,
 * guards, hooks, services): even a service orphaned by a kill -9 of its
 * daemon is found. Linux /proc only; used by the demo and the test harness.
 */

/** Whether `pid` exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The state follows the parenthesised command name, which may contain spaces.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** SIGKILL `pid`; a process already gone is not an error. */
export function killQuietly(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* already gone */ }
}

/**
 * Pids of live processes with an environment variable `entry` exactly
 * (`NAME=value`), or, with `prefix`, one that begins with `entry`.
 */
export function markedProcesses(entry: string, opts: { prefix?: boolean } = {}): number[] {
  const mark = new TextEncoder().encode(entry);
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const pid = Number(e.name);
    try {
      if (
        hasEntry(Deno.readFileSync(`/proc/${pid}/environ`), mark, !!opts.prefix) &&
        processAlive(pid)
      ) {
        out.push(pid);
      }
    } catch { /* gone or not ours */ }
  }
  return out;
}

/** SIGKILL every process marked with `entry` until none is left (at most ~1 s); returns survivors. */
export async function killMarked(
  entry: string,
  opts: { prefix?: boolean } = {},
): Promise<number[]> {
  for (let round = 0; round < 50; round++) {
    const left = markedProcesses(entry, opts);
    if (left.length === 0) return [];
    for (const pid of left) killQuietly(pid);
    await new Promise((r) => setTimeout(r, 20));
  }
  return markedProcesses(entry, opts);
}

function hasEntry(environ: Uint8Array, entry: Uint8Array, prefix: boolean): boolean {
  outer: for (let i = 0; i + entry.length <= environ.length; i++) {
    if (i > 0 && environ[i - 1] !== 0) continue; // variables start after a NUL
    for (let j = 0; j < entry.length; j++) if (environ[i + j] !== entry[j]) continue outer;
    const end = i + entry.length;
    if (prefix || end === environ.length || environ[end] === 0) return true;
  }
  return false;
}
