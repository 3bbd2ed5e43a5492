/**
 * Child processes started without holding the event loop.
 *
 * `Deno.Command.spawn` is synchronous: it is posix_spawn with CLONE_VFORK, so
 * the daemon's one thread waits until each child has run exec, and on a busy
 * machine the child first waits for a core (1.7 ms a spawn at a thousand
 * resources, a third of the primary's main thread during their start). Hooks
 * also went through util-linux `setsid`, an extra exec a hook, because Deno's
 * `detached` forks the whole daemon.
 *
 * Here glibc's posix_spawn is called through FFI as a nonblocking call: it
 * runs on a thread of Deno's blocking pool (CLONE_VFORK suspends that thread
 * only), with POSIX_SPAWN_SETSID, so the child leads a session and group of
 * its own before it execs the hook itself. What Deno would do for a child is
 * done here the same way, without a thread per child:
 *
 * - its exit: a pidfd (pidfd_open, Linux 5.3) turns readable when it ends,
 *   then `waitpid` reaps exactly that pid (never -1: Deno reaps its own);
 * - its stdout and stderr: pipes whose read ends we keep.
 *
 * One `poll` at a time waits on all of them, on the blocking pool too, with a
 * wake-up pipe to add or drop descriptors. It is armed only while something is
 * watched, so an idle process has no call outstanding and can end.
 *
 * Every descriptor we open is close-on-exec, so a child gets only its own three
 * (dup2 clears the flag on those). Signals: the child starts with every signal
 * at its default and none blocked (Deno ignores SIGPIPE, for one).
 *
 * Linux with glibc 2.36 or later (pidfd_open, posix_spawn_file_actions_addchdir_np),
 * and the FFI permission: {@link nativeSpawner} is null elsewhere, and hooks.ts
 * then spawns through `Deno.Command`.
 */

import { delay } from "../wire/deadlines.ts";
import { bindLibcFunctions, errno, strerror } from "./libc.ts";

/** How a child ended. */
export interface ExitStatus {
  code: number;
  /** Its name ("SIGKILL"), when a signal ended it. */
  signal: string | null;
}

/**
 * A hook's process, right after its spawn (by either spawner of hooks.ts):
 * the leader of a session and group of its own.
 */
export interface Spawned {
  pid: number;
  /** Settles when the child has ended and is reaped. */
  status: Promise<ExitStatus>;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
}

export interface NativeSpawnOptions {
  /** An absolute path (no PATH lookup here). */
  path: string;
  /** argv, argv[0] included. */
  argv: readonly string[];
  /** The whole environment. */
  env: Record<string, string>;
  cwd: string;
}

export interface NativeSpawner {
  /** Rejects with "cannot execute PATH: REASON" when the child could not be started. */
  spawn(options: NativeSpawnOptions): Promise<Spawned>;
}

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // Variadic in C; its third argument is an int for F_SETFL.
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pidfd_open: { parameters: ["i32", "u32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpid_blocking: {
    name: "waitpid",
    parameters: ["i32", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  sigaction: { parameters: ["i32", "pointer", "buffer"], result: "i32" },
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  // ppoll, not poll: with every signal blocked while it waits, it never ends in EINTR (a child's
  // SIGCHLD may be delivered to its thread), and its errno is on a thread we cannot read.
  ppoll: {
    parameters: ["buffer", "u64", "pointer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  // The same with a zero timeout, on the event loop: a look that does not wait.
  ppoll_now: { name: "ppoll", parameters: ["buffer", "u64", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: Libc | undefined;

/** libc's functions of {@link SYMBOLS} (libc.ts), bound once a process: later calls share them. */
export function bindLibc(): Libc {
  return loaded ??= bindLibcFunctions(SYMBOLS);
}

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETFL = 4;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const WNOHANG = 1;
const POLLIN = 0x1;
const SIGCHLD = 17;
const ENOEXEC = 8;
/** glibc's sizes are 336 (attributes) and 80 (file actions) on 64-bit Linux: room to spare. */
const ATTR_BYTES = 512;
const ACTIONS_BYTES = 256;
const SIGSET_BYTES = 128;
/**
 * While hooks come and go, the loop looks at their descriptors every TICK_MS
 * on the event loop (a ppoll that does not wait); after IDLE_TICKS looks that
 * found nothing it waits on the blocking pool instead. A call there costs the
 * event loop about 0.2 ms here (a CPU profile of a primary with a thousand
 * resources had 6 % of its time in dispatching them, three a hook, when every
 * wait went there): the looks take the short hooks, the wait the long ones.
 * Each look is a timer's wake-up, dear on our virtual machines: every 10 ms
 * costs a hook 0.1–0.3 ms less of the daemon's CPU than every 5 ms
 * (scripts/bench_spawn.ts), for up to 10 ms more before its end is seen.
 */
const TICK_MS = 10;
const IDLE_TICKS = 2;
/** A pause before a poll or a reap is tried again after something unexpected. */
const PAUSE_MS = 50;
/** Reads of one ready pipe in one look, at most. */
const READS_A_LOOK = 16;
/** Looks in a row whose first read of a ready pipe failed, after which its stream ends. */
const FAILED_LOOKS = 1000;
/** One read of a ready pipe: a shared buffer, copied out by the length read. */
const READ_BYTES = 64 * 1024;

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

const encoder = new TextEncoder();

/** `s` as a NUL-terminated C string; a NUL inside cannot be passed to exec. */
function cString(s: string, what: string): Uint8Array {
  if (s.includes("\0")) throw new Error(`${what} contains a NUL character`);
  const bytes = new Uint8Array(s.length * 3 + 1);
  const { written } = encoder.encodeInto(s, bytes);
  return bytes.subarray(0, written + 1);
}

/** A NULL-terminated array of pointers to `strings` (which the caller keeps alive). */
function pointerArray(strings: Uint8Array[]): BigUint64Array {
  const array = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  return array;
}

class Native implements NativeSpawner {
  readonly #attr = new Uint8Array(ATTR_BYTES);
  readonly #stdin: Uint8Array = cString("/dev/null", "path");
  readonly #reactor: Reactor;

  constructor(readonly libc: Libc) {
    const empty = new Uint8Array(SIGSET_BYTES);
    const all = new Uint8Array(SIGSET_BYTES);
    libc.sigemptyset(empty);
    libc.sigfillset(all);
    check(libc, libc.posix_spawnattr_init(this.#attr), "posix_spawnattr_init");
    libc.posix_spawnattr_setflags(
      this.#attr,
      POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF,
    );
    libc.posix_spawnattr_setsigmask(this.#attr, empty);
    libc.posix_spawnattr_setsigdefault(this.#attr, all);
    this.#reactor = new Reactor(libc);
  }

  async spawn(o: NativeSpawnOptions): Promise<Spawned> {
    const libc = this.libc;
    const envs = Object.entries(o.env).map(([k, v]) => cString(`${k}=${v}`, `variable ${k}`));
    const cwd = cString(o.cwd, "the working directory");
    const out = this.#pipe();
    let err: Int32Array;
    try {
      err = this.#pipe();
    } catch (e) {
      closeAll(libc, out);
      throw e;
    }
    const actions = new Uint8Array(ACTIONS_BYTES);
    libc.posix_spawn_file_actions_init(actions);
    let spawned: { rc: number; pid: number };
    let fine = false;
    try {
      libc.posix_spawn_file_actions_addopen(actions, 0, this.#stdin, O_RDONLY, 0);
      libc.posix_spawn_file_actions_adddup2(actions, out[1], 1);
      libc.posix_spawn_file_actions_adddup2(actions, err[1], 2);
      libc.posix_spawn_file_actions_addchdir_np(actions, cwd);
      spawned = await this.#spawn(o.path, o.argv, envs, actions);
      // A file without a #! line: run by the shell, as execvp does (and the setsid of before).
      if (spawned.rc === ENOEXEC) {
        spawned = await this.#spawn(
          "/bin/sh",
          ["/bin/sh", o.path, ...o.argv.slice(1)],
          envs,
          actions,
        );
      }
      fine = true;
    } finally {
      libc.posix_spawn_file_actions_destroy(actions);
      // The child has its copies; ours would keep its output open for ever.
      libc.close(out[1]);
      libc.close(err[1]);
      void cwd; // read by the spawning thread until here
      if (!fine) closeAll(libc, [out[0], err[0]]);
    }
    if (spawned.rc !== 0) {
      libc.close(out[0]);
      libc.close(err[0]);
      throw new Error(`cannot execute ${o.path}: ${strerror(libc, spawned.rc)}`);
    }
    const child = spawned.pid;
    const pidfd = libc.pidfd_open(child, 0);
    if (pidfd < 0) {
      // Out of descriptors, say. The hook runs and we could not watch it: it is killed (our
      // child, not yet reaped: its pid is not anybody else's) and reaped, off the event loop.
      const why = strerror(libc, errno(libc));
      libc.kill(-child, 9);
      libc.kill(child, 9);
      void libc.waitpid_blocking(child, null, 0);
      libc.close(out[0]);
      libc.close(err[0]);
      throw new Error(`cannot watch ${o.path} once started (pidfd_open: ${why}): killed`);
    }
    return {
      pid: child,
      status: this.#reactor.exit(pidfd, child),
      stdout: this.#reactor.stream(out[0]),
      stderr: this.#reactor.stream(err[0]),
    };
  }

  /** One posix_spawn on the blocking pool: its result code and the child's pid. */
  async #spawn(
    path: string,
    argv: readonly string[],
    envs: Uint8Array[],
    actions: Uint8Array,
  ): Promise<{ rc: number; pid: number }> {
    // Everything the spawning thread reads is referenced here until it is done.
    const file = cString(path, "the program's path");
    const args = argv.map((a) => cString(a, "an argument"));
    const argvp = pointerArray(args);
    const envp = pointerArray(envs);
    const pid = new Int32Array(1);
    const rc = await this.libc.posix_spawn(pid, file, actions, this.#attr, argvp, envp);
    void [file, args, argvp, envp, envs];
    return { rc, pid: pid[0] };
  }

  /**
   * A close-on-exec pipe: [read end, write end]. Only our read end is
   * non-blocking (a read the poll did not announce must not hold the daemon);
   * the hook writes as to any pipe.
   */
  #pipe(): Int32Array {
    const libc = this.libc;
    const fds = new Int32Array(2);
    if (libc.pipe2(fds, O_CLOEXEC) !== 0) throw new Error(`pipe2: ${strerror(libc, errno(libc))}`);
    if (libc.fcntl(fds[0], F_SETFL, O_NONBLOCK) !== 0) {
      const why = strerror(libc, errno(libc));
      closeAll(libc, fds);
      throw new Error(`fcntl: ${why}`);
    }
    return fds;
  }
}

/** What a watched descriptor is for. */
interface Watch {
  fd: number;
  ready: () => void;
}

/**
 * One poll over every watched descriptor; see the module comment.
 *
 * A descriptor given up while a poll runs is closed only once that poll has
 * returned: closed earlier, its number could be reused by the next pipe, and a
 * readiness the poll saw on the old file would be taken for the new one. A
 * result is handed only to the watch the poll was armed with, for the same
 * reason.
 */
export class Reactor {
  #watched = new Map<number, Watch>();
  #toClose: number[] = [];
  /** The loop runs: a poll is outstanding, or its results are being handled. */
  #running = false;
  /** A poll call is outstanding (on the blocking pool). */
  #waiting = false;
  /** A wake-up byte was written for the outstanding poll: one is enough. */
  #woken = false;
  #wake: Int32Array;
  #wakeByte = new Uint8Array(1);
  #readBuffer = new Uint8Array(READ_BYTES);
  #drainBuffer = new Uint8Array(64);
  #allSignals = new Uint8Array(SIGSET_BYTES);
  /** struct timespec {0, 0}. */
  #zeroTimeout = new Uint8Array(16);

  constructor(readonly libc: Libc) {
    libc.sigfillset(this.#allSignals);
    this.#wake = new Int32Array(2);
    if (libc.pipe2(this.#wake, O_CLOEXEC | O_NONBLOCK) !== 0) {
      throw new Error(`pipe2: ${strerror(libc, errno(libc))}`);
    }
  }

  /** Settles once the process behind `pidfd` (our child `pid`) has ended; reaps it. */
  exit(pidfd: number, pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      const status = new Int32Array(1);
      const watch: Watch = {
        fd: pidfd,
        ready: () => {
          const r = this.libc.waitpid(pid, status, WNOHANG);
          if (r === 0) {
            // Ended, and yet not to be reaped (a tracer holds it): asked again a moment later,
            // not by a poll that its readable pidfd would return at once, again and again.
            this.#watched.delete(pidfd);
            setTimeout(() => this.#watch(watch), PAUSE_MS);
            return;
          }
          this.#unwatch(watch);
          // r < 0: not ours to reap any more (ECHILD), and no status to read.
          if (r < 0) return resolve({ code: 255, signal: null });
          const s = status[0];
          const sig = s & 0x7f;
          if (sig === 0) resolve({ code: (s >> 8) & 0xff, signal: null });
          else resolve({ code: 128 + sig, signal: SIGNALS[sig] ?? `SIG${sig}` });
        },
      };
      this.#watch(watch);
    });
  }

  /** The read end `fd` as a stream; closed at end of file (or when cancelled). */
  stream(fd: number): ReadableStream<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let failedLooks = 0;
    const watch: Watch = {
      fd,
      ready: () => {
        // Read on (the end is non-blocking) until nothing is left, so that the end of a hook
        // that has just written its last lines is seen in the same look as those lines; at
        // most READS_A_LOOK reads, so that one chatty hook does not hold the others.
        for (let i = 0; i < READS_A_LOOK; i++) {
          const n = Number(this.libc.read(fd, this.#readBuffer, BigInt(READ_BYTES)));
          if (n > 0) {
            failedLooks = 0;
            controller.enqueue(this.#readBuffer.slice(0, n));
            continue;
          }
          // Nothing now (EAGAIN: drained by the reads before it). errno is not asked: review
          // read an EAGAIN back as ENOENT now and then (written on this thread between the
          // two calls, by something other than a system call), and the stream then ended
          // under a running hook, whose next write killed it with SIGPIPE. Our own end of a
          // pipe fails for no other cause; one broken for good would fail every look.
          if (n < 0 && (i > 0 || ++failedLooks < FAILED_LOOKS)) return;
          // End of file (or a read that failed in every look).
          this.#unwatch(watch);
          controller.close();
          return;
        }
      },
    };
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        this.#watch(watch);
      },
      cancel: () => this.#unwatch(watch),
    });
  }

  #watch(watch: Watch) {
    this.#watched.set(watch.fd, watch);
    this.#kick();
  }

  /** The tick the loop waits for, if it does. */
  #tick: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;

  /** The wait for the next look is over (its time came, or nothing is left to look at). */
  #endTick() {
    if (this.#tick === null) return;
    clearTimeout(this.#tick.timer);
    this.#tick.resolve();
    this.#tick = null;
  }

  #unwatch(watch: Watch) {
    if (this.#watched.get(watch.fd) !== watch) return;
    this.#watched.delete(watch.fd);
    // Nothing left: the loop ends now, not a tick later (a timer would outlive the last hook).
    if (this.#watched.size === 0) this.#endTick();
    if (!this.#waiting) return void this.libc.close(watch.fd);
    // The outstanding poll holds it: closed once that poll has returned, which it must now
    // (also so that a poll waiting on nothing else lets the process end).
    this.#toClose.push(watch.fd);
    this.#kick();
  }

  /**
   * Start the poll loop, or make a waiting poll return to see the new set. A
   * look on the next tick, or the next poll after one's results, is built from
   * the set as it is then: nothing to wake.
   */
  #kick() {
    if (!this.#running) {
      if (this.#watched.size > 0) void this.#loop();
    } else if (this.#waiting && !this.#woken) {
      this.#woken = true;
      this.libc.write(this.#wake[1], this.#wakeByte, 1n);
    }
  }

  async #loop() {
    this.#running = true;
    let idle = 0;
    try {
      while (this.#watched.size > 0) {
        const armed = [...this.#watched.values()];
        // struct pollfd { int fd; short events; short revents; }, built anew for each call (a
        // waiting one's thread reads and writes it meanwhile); the wake-up pipe first.
        const view = new DataView(new ArrayBuffer((armed.length + 1) * 8));
        [this.#wake[0], ...armed.map((w) => w.fd)].forEach((fd, i) => {
          view.setInt32(i * 8, fd, true);
          view.setInt16(i * 8 + 4, POLLIN, true);
        });
        const fds = new Uint8Array(view.buffer);
        const count = BigInt(armed.length + 1);
        let ready: number;
        if (idle < IDLE_TICKS) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => this.#endTick(), TICK_MS);
            this.#tick = { timer, resolve };
          });
          // Given up meanwhile (closed at once, no call holds them): looked at next time.
          if (armed.some((w) => this.#watched.get(w.fd) !== w)) continue;
          ready = this.libc.ppoll_now(fds, count, this.#zeroTimeout, this.#allSignals);
        } else {
          this.#waiting = true;
          this.#woken = false;
          try {
            ready = await this.libc.ppoll(fds, count, null, this.#allSignals);
          } finally {
            this.#waiting = false;
            for (const fd of this.#toClose.splice(0)) this.libc.close(fd);
          }
          if (this.#woken) {
            while (this.libc.read(this.#wake[0], this.#drainBuffer, 64n) > 0) {
              // drained
            }
          }
        }
        if (ready < 0) {
          // Not expected (ENOMEM, say): tried again, but not in a hot loop.
          await delay(PAUSE_MS);
          continue;
        }
        let found = false;
        armed.forEach((w, i) => {
          // POLLIN, POLLHUP, POLLERR: each handler reads what happened. Only the watch the
          // poll was armed with, if it still stands.
          if (view.getInt16((i + 1) * 8 + 6, true) !== 0 && this.#watched.get(w.fd) === w) {
            found = true;
            w.ready();
          }
        });
        // Woken for a new hook, or something ended: looks again, for a while.
        idle = found || view.getInt16(6, true) !== 0 ? 0 : idle + 1;
      }
    } finally {
      this.#running = false;
    }
  }
}

function check(libc: Libc, rc: number, what: string) {
  if (rc !== 0) throw new Error(`${what}: ${strerror(libc, rc)}`);
}

function closeAll(libc: Libc, fds: Iterable<number>) {
  for (const fd of fds) libc.close(fd);
}

let cached: NativeSpawner | null | undefined;
let whyNot = "";

/**
 * The spawner, loaded on first use; null where it cannot be (not Linux with
 * glibc, no FFI permission, a kernel without pidfd_open): see
 * {@link nativeSpawnUnavailable}.
 */
export function nativeSpawner(): NativeSpawner | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (Deno.build.os !== "linux") {
    whyNot = `not on ${Deno.build.os}`;
    return cached;
  }
  try {
    const libc = bindLibc();
    const probe = libc.pidfd_open(Deno.pid, 0);
    if (probe < 0) {
      whyNot = `pidfd_open: ${strerror(libc, errno(libc))}`;
      return cached;
    }
    libc.close(probe);
    // Ignored SIGCHLD (inherited from whoever started us) has the kernel reap our children
    // itself, and no hook's status could be read: the default, as for any supervisor. A
    // handler someone installed (Deno's, once it spawns) is left as it is.
    const action = new BigUint64Array(32);
    if (libc.sigaction(SIGCHLD, null, new Uint8Array(action.buffer)) === 0 && action[0] === 1n) {
      libc.signal(SIGCHLD, null);
    }
    cached = new Native(libc);
  } catch (e) {
    // No such library or symbol, or no permission: Deno.Command it is.
    whyNot = e instanceof Error ? e.message : String(e);
  }
  return cached;
}

/** Why {@link nativeSpawner} is null (it is loaded to find out); null when it is not. */
export function nativeSpawnUnavailable(): string | null {
  return nativeSpawner() === null ? whyNot : null;
}
