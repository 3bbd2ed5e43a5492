/**
 * File descriptors the daemon inherited from whoever started it (a shell, a
 * service manager, a careless parent) are not marked close-on-exec, so every
 * hook and service would inherit them too: an open log, a socket, a lock. Deno
 * marks nearly all of its own descriptors close-on-exec (not all: 2.9 keeps a
 * /dev/null open without it), so every descriptor above 2 that lacks the flag
 * gets it: the inherited ones and those few of the runtime's. Deno has no fcntl;
 * it is called through libc (FFI), once, at daemon start, before the guard or
 * any hook is spawned.
 */

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** What {@linkcode markInheritedFdsCloseOnExec} did. */
export interface FdReport {
  /** Descriptors that had no close-on-exec flag and now have it. */
  marked: number[];
  /** Why nothing could be done (no /proc, no libc), or null. */
  error: string | null;
}

/** Mark every descriptor above 2 close-on-exec. Never throws. */
export function markInheritedFdsCloseOnExec(): FdReport {
  let fds: number[];
  try {
    fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name))
      .filter((fd) => Number.isInteger(fd) && fd > 2);
  } catch (e) {
    return { marked: [], error: `cannot list /proc/self/fd: ${(e as Error).message}` };
  }
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    });
  } catch (e) {
    return { marked: [], error: `cannot load libc: ${(e as Error).message}` };
  }
  const marked: number[] = [];
  try {
    for (const fd of fds) {
      const flags = lib.symbols.fcntl(fd, F_GETFD, 0);
      // -1: the descriptor of the directory listing itself, closed by now.
      if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue;
      if (lib.symbols.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) marked.push(fd);
    }
  } finally {
    lib.close();
  }
  return { marked, error: null };
}
