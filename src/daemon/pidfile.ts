/**
 * The daemon's pidfile: one daemon per pidfile. Held by an exclusive lock on
 * the open file (flock), not by the file's existence: the kernel drops the
 * lock when the holder dies, so a kill -9 leaves no stale pidfile to clean up.
 */
import { openNoFollowSync } from "./safe_open.ts";

/** Another live process holds the pidfile. */
export class PidfileLockedError extends Error {
  /** `holderPid` is null when the holder has not written its pid (yet). */
  constructor(readonly path: string, readonly holderPid: number | null) {
    super(
      `another hastmon daemon is running (${
        holderPid === null ? "pid unknown" : `pid ${holderPid}`
      }): ${path} is locked`,
    );
    this.name = "PidfileLockedError";
  }
}

/** A held pidfile: locked and containing this process's pid until released. */
export class Pidfile {
  private constructor(readonly path: string, readonly file: Deno.FsFile) {}

  /**
   * Open (creating) `path`, lock it, and write our pid. Throws
   * {@link PidfileLockedError} when another process holds it; other errors
   * (no such directory, permission) propagate as they are.
   */
  static async acquire(path: string): Promise<Pidfile> {
    for (;;) {
      // Not truncating on open: a loser must not wipe the holder's pid. Never through a
      // symlink planted at the path (safe_open.ts).
      const file = openNoFollowSync(path, { mode: 0o644 });
      try {
        if (!file.tryLockSync(true)) throw new PidfileLockedError(path, await readPid(path));
        // The holder may have removed the file between our open and our lock:
        // then we locked an orphan, and must lock whatever is at the path now.
        if (!(await isSameFile(file, path))) {
          file.close();
          continue;
        }
        await file.truncate(0);
        await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
        await file.sync();
        return new Pidfile(path, file);
      } catch (e) {
        file.close();
        throw e;
      }
    }
  }

  /** Remove the file, then let go of the lock (clean exit). */
  async release(): Promise<void> {
    try {
      // Removed while still locked: a daemon that opened this file meanwhile
      // finds it orphaned once it gets the lock, and retries (see acquire).
      await Deno.remove(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    } finally {
      this.file.close();
    }
  }
}

async function readPid(path: string): Promise<number | null> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

async function isSameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  const [opened, named] = await Promise.all([file.stat(), Deno.stat(path).catch(() => null)]);
  return named !== null && named.ino === opened.ino && named.dev === opened.dev;
}
