import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../tests/assert.ts";
import { runGuard } from "./guard.ts";
import { Guard } from "./guard_link.ts";
import { type GuardHook, parseGuardCommand } from "./guard_protocol.ts";
import { processStartTime } from "./proc_stat.ts";
import { runHook } from "./hooks.ts";
import { readLines } from "./lines.ts";
import { Logger, MemorySink } from "./log.ts";
import { killQuietly, processAlive, readPid, waitFor, writeScript } from "./test_helpers.ts";

/**
 * A temporary directory with a service (`sleep 300`), a stop script that
 * records itself in `marker` and kills the service, and a panic script that
 * records itself. STOP_EXIT makes the stop fail.
 */
async function withFixture(
  fn: (f: {
    dir: string;
    stop: (env?: Record<string, string>) => GuardHook;
    panic: GuardHook;
    marker: () => Promise<string[]>;
    spawnGuard: () => Guard;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hastmon-guard-" });
  const guards: Guard[] = [];
  try {
    const stopPath = await writeScript(
      dir,
      "stop",
      `echo "stop $HASTMON_RESOURCE" >> ${dir}/marker
       [ -f ${dir}/service.pid ] && kill $(cat ${dir}/service.pid)
       exit \${STOP_EXIT:-0}`,
    );
    const panicPath = await writeScript(
      dir,
      "panic",
      `echo "panic $HASTMON_RESOURCE" >> ${dir}/marker`,
    );
    await fn({
      dir,
      stop: (env = {}) => ({
        argv: [stopPath],
        env: { HASTMON_RESOURCE: "web", ...env },
        timeoutMs: 2000,
      }),
      panic: { argv: [panicPath], env: { HASTMON_RESOURCE: "web" }, timeoutMs: 2000 },
      marker: async () => {
        const text = await Deno.readTextFile(`${dir}/marker`).catch(() => "");
        return text.split("\n").filter((l) => l !== "");
      },
      spawnGuard: () => {
        const guard = Guard.spawn({ logPath: `${dir}/guard.log`, graceMs: 200, verbosity: 1 });
        guards.push(guard);
        return guard;
      },
    });
  } finally {
    for (const guard of guards) await guard.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The service the stop script kills: `sleep 300`, its pid in service.pid. */
async function startService(dir: string): Promise<Deno.ChildProcess> {
  const service = new Deno.Command("sleep", {
    args: ["300"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  await Deno.writeTextFile(`${dir}/service.pid`, `${service.pid}\n`);
  return service;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Arm `resource` with one stop (a one-member resource), a 2 s stop_timeout and a 200 ms slack. */
function arm(guard: Guard, resource: string, ms: number, stop: GuardHook, panic: GuardHook | null) {
  return guard.arm(resource, ms, [stop], 2000, panic, 200);
}

/**
 * Run `meanwhile` while the guard is frozen (SIGSTOP), as a guard starved of CPU
 * is, then let it go. First the guard learns how long the pipe takes when it is
 * not starved, from `warmups` renewals of the armed `resource` that it reads at
 * once (a guard still starting would read them all late together).
 */
async function starved(
  guard: Guard,
  resource: string,
  warmups: number,
  meanwhile: () => Promise<void>,
) {
  for (let i = 0; i < warmups; i++) {
    await sleep(100);
    await guard.renew(resource, 60_000);
  }
  await sleep(100);
  Deno.kill(guard.pid, "SIGSTOP");
  try {
    await meanwhile();
  } finally {
    Deno.kill(guard.pid, "SIGCONT");
  }
}

Deno.test("guard: when the daemon is killed with -9, the guard runs stop and exits", async () => {
  await withFixture(async ({ dir, marker }) => {
    // The "daemon": spawns the guard, starts the service through a start hook
    // (so the service could inherit the guard's channel if it leaked), arms it.
    await writeScript(dir, "start", `sleep 300 & echo $! > ${dir}/service.pid`);
    const daemon = `${dir}/daemon.ts`;
    await Deno.writeTextFile(
      daemon,
      `import { Guard } from ${JSON.stringify(new URL("./guard_link.ts", import.meta.url).href)};
       import { runHook } from ${JSON.stringify(new URL("./hooks.ts", import.meta.url).href)};
       const guard = Guard.spawn({ logPath: "${dir}/guard.log", graceMs: 200 });
       const start = await runHook({ command: ["${dir}/start"], env: {}, timeoutMs: 5000, graceMs: 200 });
       const stop = { argv: ["${dir}/stop"], env: { HASTMON_RESOURCE: "web" }, timeoutMs: 2000 };
       await guard.arm("web", 60_000, [stop], 2000, null, 200);
       console.log(JSON.stringify({ guard: guard.pid, start: start.outcome }));
       setInterval(() => {}, 1000);`,
    );
    const helper = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", daemon],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(helper.stdout, 1000);
    let guardPid = 0;
    try {
      const report = JSON.parse((await lines.next()).value ?? "null");
      assertEquals(report.start, { kind: "exit", code: 0 });
      guardPid = report.guard;
      const service = await readPid(`${dir}/service.pid`);
      assert(processAlive(service), "the service runs");
      assertEquals(await marker(), []);

      helper.kill("SIGKILL");
      assertEquals((await helper.status).signal, "SIGKILL");
      await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
      assertEquals(await marker(), ["stop web"]);
      await waitFor(() => !processAlive(service), 2000, "the service to be stopped");
      await waitFor(() => !processAlive(guardPid), 2000, "the guard to exit");
      assertStringIncludes(await Deno.readTextFile(`${dir}/guard.log`), "the daemon is gone");
    } finally {
      killQuietly(helper.pid);
      await helper.status;
      await lines.return(undefined);
    }
  });
});

Deno.test("guard: a lease deadline that passes without a new arm runs stop", async () => {
  await withFixture(async ({ dir, stop, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 500, stop(), null);
    await sleep(150);
    assertEquals(await marker(), [], "stopped before the deadline");
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
    assertEquals(await marker(), ["stop web"]);
    assertEquals((await service.status).signal, "SIGTERM");
    assertEquals((await guard.close()).code, 0);
    assertStringIncludes(await Deno.readTextFile(`${dir}/guard.log`), "lease deadline passed");
  });
});

Deno.test("guard: a re-arm pushes the deadline back", async () => {
  await withFixture(async ({ dir, stop, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    for (let i = 0; i < 5; i++) {
      await arm(guard, "web", 600, stop(), null); // Each arm replaces the deadline of the last.
      await sleep(100);
    }
    assertEquals(await marker(), [], "stopped although re-armed in time");
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
    await service.status;
    await guard.close();
  });
});

Deno.test("guard: a renewal pushes the deadline back, with the stops of the last arm", async () => {
  await withFixture(async ({ dir, stop, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 600, stop(), null);
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      await guard.renew("web", 600);
    }
    assertEquals(await marker(), [], "stopped although renewed in time");
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
    assertEquals(await marker(), ["stop web"]);
    await service.status;
    await guard.close();
  });
});

Deno.test("guard: after its own deadline stop, a renewal in the same epoch watches the resource again", async () => {
  // The daemon, late past the deadline, still holds its lease and restarts the service; it
  // knows nothing of the guard's stop and goes on renewing. Were the renewal ignored, the
  // restarted service would run unguarded: killed -9 then, its daemon would leave it running
  // while a peer takes over.
  await withFixture(async ({ dir, stop, marker, spawnGuard }) => {
    const first = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 300, stop(), null);
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's deadline stop");
    await first.status;
    const second = await startService(dir); // restarted by the daemon's monitor
    await guard.renew("web", 60_000);
    await sleep(200);
    await guard.close(); // the channel closes, as when the daemon is killed -9
    await waitFor(
      async () => (await marker()).length > 1,
      5000,
      "the stop when the daemon is gone",
    );
    assertEquals(await marker(), ["stop web", "stop web"]);
    assertEquals((await second.status).signal, "SIGTERM");
  });
});

Deno.test("guard: a renewal read late counts from when it was written, not from when it was read", async () => {
  // A guard starved of CPU (here: stopped) reads, 1.3 s late, a renewal that gave 600 ms; its
  // daemon froze meanwhile and wrote nothing newer. Counted from the late reading, the stop
  // would come 600 ms after the guard wakes, past the peers' hold; it must come at once.
  await withFixture(async ({ dir, stop, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 60_000, stop(), null);
    await starved(guard, "web", 10, async () => {
      await sleep(100);
      await guard.renew("web", 600); // its deadline: 600 ms from now
      await sleep(1300);
    });
    const woke = performance.now();
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
    const after = performance.now() - woke;
    assert(
      after < 400,
      `stopped ${after.toFixed(0)} ms after the guard woke: the renewal's age was not counted`,
    );
    assertEquals((await service.status).signal, "SIGTERM");
    await guard.close();
  });
});

Deno.test("guard: commands read late together are said in one line, not one each", async () => {
  // A guard starved of CPU reads the renewals of every resource late at once: a thousand
  // resources made thousands of warning lines a second. They are counted and said together.
  await withFixture(async ({ dir, stop, spawnGuard }) => {
    const guard = spawnGuard();
    const resources = Array.from({ length: 20 }, (_, i) => `r${i}`);
    for (const r of resources) await arm(guard, r, 60_000, stop({ HASTMON_RESOURCE: r }), null);
    await starved(guard, "r0", 5, async () => {
      for (const r of resources) await guard.renew(r, 60_000);
      await sleep(400);
    });
    const late = async () =>
      (await Deno.readTextFile(`${dir}/guard.log`)).split("\n").filter((l) =>
        /after the daemon wrote/.test(l)
      );
    // How many commands each line speaks for ("read N ms after ..." is one).
    const counted = (lines: string[]) =>
      lines.reduce((n, l) => n + Number(/(\d+) commands read up to/.exec(l)?.[1] ?? 1), 0);
    await waitFor(async () => counted(await late()) >= 20, 5000, "the late commands said");
    await sleep(1500); // another line, if there were to be one
    const lines = await late();
    // A warm-up renewal read slowly (a busy machine) may join them or have a line before.
    assert(lines.length <= 2, `one line for the lot, not one each:\n${lines.join("\n")}`);
    assert(/\d+ commands read up to \d+ ms after the daemon wrote them/.test(lines.at(-1)!));
    await guard.close();
  });
});

Deno.test("guard: a renewal of a resource that is not armed, or is stopping, arms nothing", async () => {
  await withFixture(async ({ stop, panic, marker, spawnGuard }) => {
    const guard = spawnGuard();
    await guard.renew("db", 100); // never armed
    await arm(guard, "web", 60_000, stop(), panic);
    await guard.disarm("web");
    await guard.renew("web", 100); // disarmed: its renewal must not bring the stop back
    await arm(guard, "app", 60_000, stop({ HASTMON_RESOURCE: "app" }), null);
    await guard.stopping("app", 60_000);
    await guard.renew("app", 100); // stopping: the daemon's stop deadline stands
    await sleep(600);
    assertEquals(await marker(), [], "no renewal armed anything");
    await guard.disarm("app");
    await guard.close();
  });
});

Deno.test("guard: a stop that fails is followed by panic", async () => {
  await withFixture(async ({ dir, stop, panic, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 100, stop({ STOP_EXIT: "1" }), panic);
    await waitFor(async () => (await marker()).length >= 2, 5000, "stop and panic");
    assertEquals(await marker(), ["stop web", "panic web"]);
    await service.status;
    await guard.close();
  });
});

Deno.test("guard: a daemon stop that is not disarmed in time is followed by panic", async () => {
  await withFixture(async ({ dir, stop, panic, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 60_000, stop(), panic);
    await guard.stopping("web", 200); // Panic due 200 + 200 ms slack from now.
    await sleep(150);
    assertEquals(await marker(), []);
    await waitFor(async () => (await marker()).length > 0, 5000, "the panic");
    assertEquals(await marker(), ["panic web"]);
    assert(processAlive(service.pid), "the guard ran a stop although the daemon was stopping");
    service.kill();
    await service.status;
    await guard.close();
  });
});

Deno.test("guard: disarm, and a daemon stop disarmed in time, run nothing", async () => {
  await withFixture(async ({ stop, panic, marker, spawnGuard }) => {
    const guard = spawnGuard();
    await arm(guard, "web", 300, stop(), panic);
    await guard.disarm("web");
    await arm(guard, "db", 60_000, stop({ HASTMON_RESOURCE: "db" }), panic);
    await guard.stopping("db", 100);
    await guard.disarm("db");
    await sleep(700); // Beyond web's deadline and db's stopping limit (100 + 200 ms slack).
    assertEquals(await marker(), []);
    assertEquals((await guard.close()).code, 0);
    assertEquals(await marker(), []);
  });
});

Deno.test("guard: a clean close, everything disarmed, exits without stopping anything", async () => {
  await withFixture(async ({ dir, stop, panic, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 60_000, stop(), panic);
    await arm(guard, "db", 60_000, stop({ HASTMON_RESOURCE: "db" }), null);
    await guard.disarm("web");
    await guard.disarm("db");
    const t0 = performance.now();
    const status = await guard.close();
    assertEquals(status.code, 0);
    assert(performance.now() - t0 < 3000, `close took ${performance.now() - t0} ms`);
    assertEquals(await marker(), []);
    assert(processAlive(service.pid), "the service was stopped");
    service.kill();
    await service.status;
  });
});

Deno.test("guard: the daemon learns that its guard is gone", async () => {
  await withFixture(async ({ stop, spawnGuard }) => {
    const guard = spawnGuard();
    Deno.kill(guard.pid, "SIGKILL");
    assertEquals((await guard.exited).signal, "SIGKILL");
    await assertRejects(
      () => arm(guard, "web", 1000, stop(), null),
      `the guard (pid ${guard.pid}) is gone`,
    );
    assertEquals((await guard.close()).signal, "SIGKILL");
  });
});

Deno.test("guard: a start hook still running at the deadline is killed before the stop runs", async () => {
  await withFixture(async ({ dir, marker, spawnGuard }) => {
    // The start hook hangs, with a child in its group: the daemon is frozen meanwhile.
    const start = await writeScript(dir, "start", `sleep 300 & echo $! > ${dir}/child.pid; wait`);
    const stop = await writeScript(
      dir,
      "stop-check",
      `s=$(cat /proc/$(cat ${dir}/child.pid)/stat 2>/dev/null); s=\${s##*) }
       case "$s" in ""|Z*) echo "stop after the start hook" ;; *) echo "stop BESIDE the start hook" ;; esac >> ${dir}/marker`,
    );
    const guard = spawnGuard();
    await arm(guard, "web", 400, { argv: [stop], env: {}, timeoutMs: 2000 }, null);
    const run = runHook({
      command: [start],
      env: {},
      timeoutMs: 60_000,
      graceMs: 200,
      onSpawn: (pid) => void guard.starting("web", pid, processStartTime(pid)!),
    });
    const child = await readPid(`${dir}/child.pid`);
    const result = await run;
    assertEquals(result.outcome, { kind: "killed", signal: "SIGKILL" });
    await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
    assertEquals(await marker(), ["stop after the start hook"]);
    assert(!processAlive(child), "the start hook's child must be gone");
    assertStringIncludes(await Deno.readTextFile(`${dir}/guard.log`), "killing it before the stop");
  });
});

Deno.test("guard: a start hook's pid taken by another process is left alone", async () => {
  await withFixture(async ({ stop, marker, spawnGuard }) => {
    const other = new Deno.Command("sleep", { args: ["300"], detached: true }).spawn();
    try {
      const guard = spawnGuard();
      await arm(guard, "web", 300, stop(), null);
      // The daemon's start hook had this pid once, but started at another time.
      const since = String(Number(processStartTime(other.pid)) + 1);
      await guard.starting("web", other.pid, since);
      await waitFor(async () => (await marker()).length > 0, 5000, "the guard's stop");
      await sleep(100);
      assert(processAlive(other.pid), "an unrelated process was killed");
    } finally {
      killQuietly(other.pid);
      await other.status;
    }
  });
});

Deno.test("guard commands are validated", () => {
  const hook = { argv: ["/bin/stop"], env: { A: "1" }, timeoutMs: 5 };
  const armed = {
    type: "arm",
    resource: "r",
    remainingMs: 10,
    stops: [hook, hook],
    stopTimeoutMs: 1000,
    panic: null,
    slackMs: 100,
  };
  assertEquals(parseGuardCommand(JSON.stringify(armed)), armed as never);
  assertEquals(parseGuardCommand('{"type":"renew","resource":"r","remainingMs":900}'), {
    type: "renew",
    resource: "r",
    remainingMs: 900,
  });
  assertEquals(
    parseGuardCommand('{"type":"renew","resource":"r","remainingMs":900,"sentAt":12.5}'),
    { type: "renew", resource: "r", remainingMs: 900, sentAt: 12.5 },
  );
  assertThrows(
    () => parseGuardCommand('{"type":"stopping","resource":"r","timeoutMs":9,"sentAt":-1}'),
    Error,
    "sentAt",
  );
  assertEquals(parseGuardCommand('{"type":"panicking","resource":"r"}'), {
    type: "panicking",
    resource: "r",
  });
  assertEquals(parseGuardCommand('{"type":"disarm","resource":"r"}'), {
    type: "disarm",
    resource: "r",
  });
  assertEquals(parseGuardCommand('{"type":"starting","resource":"r","pid":42,"since":"123"}'), {
    type: "starting",
    resource: "r",
    pid: 42,
    since: "123",
  });
  assertEquals(parseGuardCommand('{"type":"started","resource":"r"}'), {
    type: "started",
    resource: "r",
  });
  const bad: [unknown, string][] = [
    [[], "not a JSON object"],
    [{ type: "starting", resource: "r", pid: 1, since: "5" }, "pid must be an integer above 1"],
    [{ type: "starting", resource: "r", pid: -7, since: "5" }, "pid must be an integer above 1"],
    [{ type: "starting", resource: "r", pid: 42, since: 5 }, "since must be a string of digits"],
    [{ type: "disarm" }, "resource must be a non-empty string"],
    [{ type: "fire", resource: "r" }, 'unknown type "fire"'],
    [
      { type: "stopping", resource: "r", timeoutMs: -1 },
      "timeoutMs must be a non-negative number of ms",
    ],
    [{ ...armed, stops: [{ ...hook, argv: [] }] }, "stops[0].argv must be a non-empty list"],
    [{ ...armed, stops: [] }, "stops must be a non-empty list"],
    [{ ...armed, panic: { ...hook, env: { A: 1 } } }, "panic.env must map names to strings"],
    [{ ...armed, remainingMs: "soon" }, "remainingMs"],
    [{ ...armed, slackMs: -1 }, "slackMs"],
    [{ type: "renew", resource: "r" }, "remainingMs must be a non-negative number"],
  ];
  for (const [command, reason] of bad) {
    let message = "accepted";
    try {
      parseGuardCommand(JSON.stringify(command));
    } catch (e) {
      message = (e as Error).message;
    }
    assertStringIncludes(message, reason, JSON.stringify(command));
  }
});

Deno.test("guard: every member's stop runs, in order, and one that fails leads to panic", async () => {
  await withFixture(async ({ dir, stop, panic, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    // Three members: the middle one's stop fails (exit 1); the last one's succeeds.
    const stops = [
      stop({ HASTMON_MEMBER: "c", HASTMON_RESOURCE: "c" }),
      stop({ HASTMON_RESOURCE: "b", STOP_EXIT: "1" }),
      stop({ HASTMON_RESOURCE: "a" }),
    ];
    await guard.arm("web", 100, stops, 2000, null, 200);
    await waitFor(async () => (await marker()).length >= 3, 5000, "three stops");
    assertEquals(await marker(), ["stop c", "stop b", "stop a"]);
    await service.status;
    // With a panic, the first failure runs it at once: the peers' hold does not wait.
    await Deno.remove(`${dir}/marker`);
    await guard.arm("db", 100, [stops[1], stops[2]], 2000, panic, 200);
    await waitFor(async () => (await marker()).length >= 2, 5000, "a stop and a panic");
    assertEquals(await marker(), ["stop b", "panic web"]);
  });
});

Deno.test("guard: a stop of several members ends within one stop_timeout in all", async () => {
  await withFixture(async ({ dir, marker, spawnGuard }) => {
    const slow = await writeScript(
      dir,
      "slow",
      `echo "slow $HASTMON_RESOURCE" >> ${dir}/marker; exec sleep 30`,
    );
    const guard = spawnGuard();
    const hook = (r: string) => ({ argv: [slow], env: { HASTMON_RESOURCE: r }, timeoutMs: 60_000 });
    const t0 = performance.now();
    await guard.arm("web", 10, [hook("b"), hook("a")], 600, null, 200);
    await waitFor(async () => (await marker()).length >= 2, 5000, "both stops");
    const took = performance.now() - t0;
    // b was killed at its share of 600 ms; a got what was left, not 600 ms more.
    assert(took < 1300, `the stops took ${took.toFixed(0)} ms`);
  });
});

Deno.test("guard: a daemon that runs panic itself is never followed by the guard's panic", async () => {
  await withFixture(async ({ dir, stop, panic, marker, spawnGuard }) => {
    const service = await startService(dir);
    const guard = spawnGuard();
    await arm(guard, "web", 60_000, stop(), panic);
    await guard.stopping("web", 100);
    await guard.panicking("web"); // the daemon's stop failed and it runs panic itself
    await sleep(600); // beyond 100 ms + the 200 ms slack
    assertEquals(await marker(), [], "the guard ran panic a second time");
    service.kill();
    await service.status;
  });
});

Deno.test("guard: a daemon frozen (SIGSTOP) in the middle of a group's stop: the guard runs the stops itself", async () => {
  await withFixture(async ({ dir, marker }) => {
    const member = async (name: string): Promise<GuardHook> => ({
      argv: [await writeScript(dir, `stop-${name}`, `echo "stop ${name}" >> ${dir}/marker`)],
      env: { HASTMON_RESOURCE: "web" },
      timeoutMs: 2000,
    });
    const stops = [await member("ip"), await member("db")];
    let frozen = false;
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const input = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    const send = (o: unknown) => feed.enqueue(new TextEncoder().encode(JSON.stringify(o) + "\n"));
    const sink = new MemorySink();
    const running = runGuard({
      input,
      logger: new Logger(sink, { verbosity: 1 }),
      graceMs: 200,
      daemonFrozen: () => frozen,
    });
    send({
      type: "arm",
      resource: "web",
      remainingMs: 60_000,
      stops,
      stopTimeoutMs: 3000,
      panic: null,
      slackMs: 100,
    });
    send({ type: "stopping", resource: "web", timeoutMs: 3000 });
    await sleep(200);
    assertEquals(await marker(), [], "the daemon is alive: its own stop is left alone");
    frozen = true;
    await waitFor(async () => (await marker()).length === 2, 2000, "the guard's stops");
    assertEquals(await marker(), ["stop ip", "stop db"]);
    assertStringIncludes(sink.lines.join("\n"), "the daemon is frozen in the middle of its stop");
    feed.close();
    await running;
  });
});
