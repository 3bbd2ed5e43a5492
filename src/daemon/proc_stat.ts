/** What /proc/PID/stat says of a process: the guard's and the daemon's way to name one for good. */

/** Is process `pid` stopped by a signal (state T or t in /proc)? False when it cannot tell. */
export function processStopped(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}

/**
 * When `pid` started, as field 22 of /proc/PID/stat (clock ticks since boot);
 * null when there is no such process. With the pid it names one process for good.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** The state letter of `pid` (R, S, D, Z, ...), or null when there is no such process. */
export function processState(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] ?? null;
  } catch {
    return null;
  }
}
