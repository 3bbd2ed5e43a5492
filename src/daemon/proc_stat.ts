/** What /proc/PID/stat says of a process: the guard's and the daemon's way to name one for good. */

/**
 * The fields of /proc/`pid`/stat from the third (the state) on, so that field
 * N (1-based, as proc(5) numbers them) is at index N - 3; null when there is
 * no such process. The comm before them may hold spaces and ")": the fields
 * start after the last ")".
 */
export function statFields(pid: number | "self"): string[] | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** Is process `pid` stopped by a signal (state T or t in /proc)? False when it cannot tell. */
export function processStopped(pid: number): boolean {
  const state = processState(pid);
  return state === "T" || state === "t";
}

/**
 * When `pid` started, as field 22 of /proc/PID/stat (clock ticks since boot);
 * null when there is no such process. With the pid it names one process for good.
 */
export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[22 - 3] ?? null;
}

/** The state letter of `pid` (R, S, D, Z, ...), or null when there is no such process. */
export function processState(pid: number): string | null {
  return statFields(pid)?.[3 - 3] || null;
}
