/**
 * The process title `ps`, `top` and `pgrep` show, set the way node:process's
 * `title` sets it on Linux, without loading Node's process object: that costs
 * a daemon 3–4 MB resident for as long as it lives (an idle node's memory,
 * docs/BENCHMARKS.md), for this one use.
 *
 * Two places, as Deno's own setter does:
 * - the comm (`ps -o comm`, `top`, `pgrep`): /proc/self/comm, 15 bytes at most;
 * - the command line (`ps -o args`, /proc/PID/cmdline): the memory of the
 *   process's arguments, overwritten in place through /proc/self/mem between
 *   the kernel's arg_start and arg_end (/proc/self/stat), and no further, so
 *   the environment after it is left alone. A long title is cut to that room;
 *   the daemon's own arguments (the Deno binary, its options, the script and
 *   the daemon's flags) leave room for a few hundred bytes.
 *
 * Best effort: not Linux, or no /proc, and the process keeps Deno's names.
 */

import { statFields } from "./proc_stat.ts";

/** Where the arguments lie in this process's memory: [start, end). */
let argvArea: { start: number; end: number } | null | undefined;

function readArgvArea(): { start: number; end: number } | null {
  const fields = statFields("self");
  // arg_start and arg_end are fields 48 and 49 (Linux 3.5 on).
  const start = Number(fields?.[48 - 3]);
  const end = Number(fields?.[49 - 3]);
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && end > start
    ? { start, end }
    : null;
}

/** Sets the comm and the command line `ps` shows; see the module comment. */
export function setProcessTitle(title: string): void {
  const bytes = new TextEncoder().encode(title);
  try {
    Deno.writeFileSync("/proc/self/comm", bytes.subarray(0, 15));
  } catch { /* not Linux, or no /proc */ }
  if (argvArea === undefined) argvArea = readArgvArea();
  if (argvArea === null) return;
  // The whole area, the title then NULs: what was there after it must not show.
  const area = new Uint8Array(argvArea.end - argvArea.start);
  area.set(bytes.subarray(0, area.length - 1));
  try {
    const mem = Deno.openSync("/proc/self/mem", { write: true });
    try {
      mem.seekSync(argvArea.start, Deno.SeekMode.Start);
      let written = 0;
      while (written < area.length) written += mem.writeSync(area.subarray(written));
    } finally {
      mem.close();
    }
  } catch { /* a kernel that refuses: the command line stays as it was */ }
}
