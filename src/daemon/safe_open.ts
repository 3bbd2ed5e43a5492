/**
 * Opening the daemon's own files (pidfile, log) without following a symlink
 * that someone planted at the path, and the state directory's permissions.
 *
 * Deno has no O_NOFOLLOW, so an open is made race-free this way:
 *
 * 1. Create with O_CREAT|O_EXCL (`createNew`): that never follows a symlink
 *    (POSIX: EEXIST when the path is one), so a new file is always ours.
 * 2. The path exists: `lstat` it, and refuse anything but a regular file.
 * 3. Open it *without* create or truncate, then compare the opened file
 *    (`fstat`) with the path (`lstat`) again: same device and inode, and still
 *    a regular file. A symlink swapped in between 2 and 3 makes them differ,
 *    and the file is closed before a byte is written.
 *
 * What the race can still do is make us open (never write, create or
 * truncate) another existing file for a moment; keeping the directory
 * unwritable by others closes even that (docs/SECURITY.md).
 */

/** A path that is a symlink or not a regular file, refused. */
export class UnsafePathError extends Error {
  /** Construct with the path and why. */
  constructor(
    readonly path: string,
    why: string,
    what = "refusing to open it (remove it if it is stale)",
  ) {
    super(`${path}: ${why}; ${what}`);
    this.name = "UnsafePathError";
  }
}

/** How to open: read and write (pidfile) or append (log). */
export interface SafeOpenOptions {
  /** Open for appending instead of reading and writing. */
  append?: boolean;
  /** Mode of a newly created file (before the umask). */
  mode: number;
}

/** Open `path` as described in the module comment. Throws UnsafePathError, or the OS error. */
export function openNoFollowSync(path: string, options: SafeOpenOptions): Deno.FsFile {
  const access = options.append ? { append: true } : { read: true, write: true };
  try {
    return Deno.openSync(path, { ...access, createNew: true, mode: options.mode });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  checkRegular(path, Deno.lstatSync(path));
  const file = Deno.openSync(path, access);
  try {
    const opened = file.statSync();
    const named = Deno.lstatSync(path);
    checkRegular(path, named);
    if (opened.ino !== named.ino || opened.dev !== named.dev || !opened.isFile) {
      throw new UnsafePathError(path, "it changed while being opened");
    }
    return file;
  } catch (e) {
    file.close();
    throw e;
  }
}

function checkRegular(path: string, info: Deno.FileInfo): void {
  if (info.isSymlink) throw new UnsafePathError(path, "it is a symbolic link");
  if (!info.isFile) throw new UnsafePathError(path, "it is not a regular file");
}

/**
 * Create the state directory 0700 if it is missing; refuse one that group or
 * others may write (they could plant or replace state files).
 */
export async function prepareStateDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await Deno.stat(dir);
  // Never "remove it": the directory holds this node's epochs (docs/SAFETY.md).
  if (!info.isDirectory) {
    throw new UnsafePathError(dir, "state_dir is not a directory", "name a directory");
  }
  const mode = info.mode ?? 0;
  if ((mode & 0o022) !== 0) {
    throw new UnsafePathError(
      dir,
      `state_dir is writable by group or others (mode ${(mode & 0o777).toString(8)})`,
      "refusing to use it: it holds this node's epochs, so check that nobody else changed " +
        `its files, then run chmod 700 "${dir}" (do not remove it)`,
    );
  }
}
