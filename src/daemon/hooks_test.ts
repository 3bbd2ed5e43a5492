import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import {
  commandSpawn,
  execArgv,
  hookEnv,
  type HookSpec,
  type HookStream,
  nativeSpawn,
  runHook,
  type Spawn,
  timerDelay,
} from "./hooks.ts";
import {
  isSettled,
  killQuietly,
  processAlive,
  readPid,
  waitFor,
  within,
  withTempDir,
  writeScript,
} from "./test_helpers.ts";

/** A spec with short bounds and captured output. */
function spec(command: string[], extra: Partial<HookSpec> = {}) {
  const lines: [HookStream, string][] = [];
  const s: HookSpec = {
    command,
    env: {},
    timeoutMs: 5000,
    graceMs: 500,
    log: (stream, line) => lines.push([stream, line]),
    ...extra,
  };
  return { spec: s, lines };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("hastmon-hooks-", fn);

/** Every test runs with both ways of spawning: the one the daemon uses, and its fallback. */
for (const [via, spawn] of [["native", nativeSpawn], ["Deno.Command", commandSpawn]] as const) {
  const runWith = (s: HookSpec) => runHook(s, spawn as Spawn);

  Deno.test(`runHook reports exit codes and captures stdout and stderr by line (${via})`, async () => {
    await withDir(async (dir) => {
      const ok = await writeScript(dir, "ok", "echo out1; echo err1 >&2; echo out2");
      const { spec: s, lines } = spec([ok]);
      const result = await runWith(s);
      assertEquals(result.outcome, { kind: "exit", code: 0 });
      assert(result.durationMs >= 0 && result.durationMs < 2000, `duration ${result.durationMs}`);
      assertEquals(lines.filter(([st]) => st === "stdout").map(([, l]) => l), ["out1", "out2"]);
      assertEquals(lines.filter(([st]) => st === "stderr").map(([, l]) => l), ["err1"]);

      const three = await writeScript(dir, "three", "exit 3");
      assertEquals((await runWith(spec([three]).spec)).outcome, { kind: "exit", code: 3 });
    });
  });

  Deno.test(`runHook passes the exec argv and the HASTMON_* environment (${via})`, async () => {
    await withDir(async (dir) => {
      const exec = await writeScript(
        dir,
        "exec",
        'echo "args=$*"; env | grep ^HASTMON_ | sort; echo "cwd=$(pwd)"',
      );
      const env = hookEnv({
        resource: "web",
        member: "db",
        node: "nodeA",
        role: "primary",
        epoch: 7,
        event: "role",
      });
      const { spec: s, lines } = spec(execArgv(exec, "role", "web", ["secondary", "primary"]), {
        env,
        cwd: dir,
      });
      assertEquals((await runWith(s)).outcome, { kind: "exit", code: 0 });
      assertEquals(lines.map(([, l]) => l), [
        "args=role web secondary primary",
        "HASTMON_EPOCH=7",
        "HASTMON_EVENT=role",
        "HASTMON_GROUP=web",
        "HASTMON_MEMBER=db",
        "HASTMON_NODE=nodeA",
        "HASTMON_RESOURCE=web",
        "HASTMON_ROLE=primary",
        `cwd=${await Deno.realPath(dir)}`,
      ]);
    });
  });

  Deno.test(`runHook turns a hook that cannot be executed into an error, never an exit code (${via})`, async () => {
    await withDir(async (dir) => {
      const missing = await runWith(spec([`${dir}/no-such-script`]).spec);
      assertEquals(missing.outcome.kind, "error");
      if (missing.outcome.kind === "error") {
        assertStringIncludes(missing.outcome.message, "no-such-script");
      }

      const notExecutable = `${dir}/plain`;
      await Deno.writeTextFile(notExecutable, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
      await Deno.chmod(notExecutable, 0o644);
      const denied = await runWith(spec([notExecutable]).spec);
      assertEquals(denied.outcome.kind, "error");
      if (denied.outcome.kind === "error") {
        assertStringIncludes(denied.outcome.message, "ermission");
      }

      assertEquals((await runWith(spec([]).spec)).outcome, {
        kind: "error",
        message: "empty command",
      });
    });
  });

  Deno.test(`a hook script without a #! line is run by /bin/sh, as execvp does (${via})`, async () => {
    await withDir(async (dir) => {
      const bare = `${dir}/bare`;
      await Deno.writeTextFile(bare, 'echo "bare $1"\nexit 4\n', { mode: 0o755 });
      const { spec: s, lines } = spec([bare, "arg"]);
      assertEquals((await runWith(s)).outcome, { kind: "exit", code: 4 });
      assertEquals(lines, [["stdout", "bare arg"]]);
    });
  });

  Deno.test(`the spawn queue is told once that the spawn is over, on every path (${via})`, async () => {
    await withDir(async (dir) => {
      const ok = await writeScript(dir, "ok", "exit 0");
      const aborted = new AbortController();
      aborted.abort();
      const cases: [string, Partial<HookSpec>][] = [
        ["started", {}],
        ["aborted before", { signal: aborted.signal }],
        ["cannot execute", { command: [`${dir}/nosuch`] }],
        ["empty command", { command: [] }],
      ];
      for (const [name, extra] of cases) {
        let told = 0;
        await runWith(spec([ok], { ...extra, spawned: () => told++ }).spec);
        assertEquals(told, 1, name);
      }
    });
  });

  Deno.test(`a spawn that takes past the timeout counts in it; one that never returns is given up, and killed if it comes (${via})`, async () => {
    await withDir(async (dir) => {
      let latePid = 0;
      // The spawn held back as an exec from a hung file system would hold it.
      const late = (ms: number): Spawn => (program, args, env, cwd) =>
        new Promise((r) => setTimeout(r, ms)).then(async () => {
          const child = await spawn(program, args, env, cwd);
          latePid = child.pid;
          return child;
        });
      /** Gone, and reaped: not even a zombie left. */
      const gone = (pid: number) => () => !isDir(`/proc/${pid}`);

      // Timed out while it was being spawned: the timeout counted from before the spawn (the
      // script would exit 0 at once), and the spawn queue was told once.
      const quick = await writeScript(dir, "quick", "exit 0");
      let told = 0;
      const timedOut = await within(
        runHook(
          spec([quick], { timeoutMs: 100, graceMs: 5000, spawned: () => told++ }).spec,
          late(300),
        ),
        3000,
        "the hook timed out during its spawn",
      );
      assertEquals(timedOut.outcome, { kind: "timeout" });
      assertEquals(told, 1);

      // Heard of only when the grace would run past the hard deadline: killed at once, not
      // terminated, so a script that ignores SIGTERM does not run on after its run was reported
      // over. (Spawned at once and handed over late, so that its trap is set by then.)
      const up = `${dir}/up`;
      const stubborn = await writeScript(dir, "stubborn", `trap '' TERM; sleep 1.9; touch ${up}`);
      const heardLate: Spawn = async (program, args, env, cwd) => {
        const child = await spawn(program, args, env, cwd);
        latePid = child.pid;
        await new Promise((r) => setTimeout(r, 1500));
        return child;
      };
      const killed = await within(
        runHook(spec([stubborn], { timeoutMs: 100, graceMs: 1000 }).spec, heardLate),
        3000,
        "the hook heard of late",
      );
      assertEquals(killed.outcome, { kind: "timeout" });
      await waitFor(gone(latePid), 2000, "the late hook reaped");
      await new Promise((r) => setTimeout(r, 300));
      assert(!isFile(up), "the late hook ran on after its run was reported over");

      // Never there within timeout + grace + 1 s: given up, and killed when it comes after all.
      latePid = 0;
      const sleeper = await writeScript(dir, "sleeper", "exec sleep 317");
      const stuck = await within(
        runHook(spec([sleeper], { timeoutMs: 100, graceMs: 100 }).spec, late(1800)),
        1700,
        "the hook whose spawn never returned",
      );
      assertEquals(stuck.outcome, { kind: "timeout" });
      await waitFor(() => latePid !== 0, 2000, "the late spawn");
      await waitFor(gone(latePid), 2000, "the late hook killed and reaped");
    });
  });

  Deno.test(`runHook reports a hook killed by a signal as killed, not as exit 0 (${via})`, async () => {
    await withDir(async (dir) => {
      const suicide = await writeScript(dir, "suicide", "kill -KILL $$");
      assertEquals((await runWith(spec([suicide]).spec)).outcome, {
        kind: "killed",
        signal: "SIGKILL",
      });
    });
  });

  Deno.test(`a hook that ignores SIGTERM times out, and its whole group is SIGKILLed after the grace (${via})`, async () => {
    await withDir(async (dir) => {
      // TERM is ignored by the script and, inherited, by the grandchild.
      const stubborn = await writeScript(
        dir,
        "stubborn",
        `trap '' TERM; echo $$ > ${dir}/script.pid; sleep 300 & echo $! > ${dir}/grandchild.pid
         echo waiting; wait`,
      );
      const { spec: s, lines } = spec([stubborn], { timeoutMs: 300, graceMs: 300 });
      const run = runWith(s);
      const script = await readPid(`${dir}/script.pid`);
      const grandchild = await readPid(`${dir}/grandchild.pid`);
      try {
        const result = await within(run, 3000, "the stubborn hook");
        assertEquals(result.outcome, { kind: "timeout" });
        assert(
          result.durationMs >= 600,
          `SIGKILL came before timeout + grace: ${result.durationMs}`,
        );
        assertEquals(lines, [["stdout", "waiting"]]);
        await waitFor(() => !processAlive(grandchild), 2000, "the grandchild to die");
        await result.outputClosed;
      } finally {
        killQuietly(script);
        killQuietly(grandchild);
        await (await run).outputClosed;
      }
    });
  });

  Deno.test(`a status hook that hangs comes back as timeout (${via})`, async () => {
    await withDir(async (dir) => {
      const hung = await writeScript(dir, "hung", "exec sleep 300");
      const result = await runWith(spec(execArgv(hung, "status", "web"), { timeoutMs: 200 }).spec);
      assertEquals(result.outcome, { kind: "timeout" });
      assert(result.durationMs < 2000, `took ${result.durationMs} ms`);
    });
  });

  Deno.test(`a start hook that backgrounds a service returns when the script exits (${via})`, async () => {
    await withDir(async (dir) => {
      const start = await writeScript(
        dir,
        "start",
        `sleep 300 & echo $! > ${dir}/service.pid; echo started`,
      );
      const { spec: s, lines } = spec([start], { timeoutMs: 10_000 });
      const run = runWith(s);
      const service = await readPid(`${dir}/service.pid`);
      try {
        const result = await within(run, 2000, "the start hook");
        assertEquals(result.outcome, { kind: "exit", code: 0 });
        assertEquals(lines, [["stdout", "started"]]);
        assert(processAlive(service), "the background service must keep running");
        // The service still holds the pipes; they are being drained, not closed.
        assert(!(await isSettled(result.outputClosed)), "output closed while the service holds it");
      } finally {
        killQuietly(service);
        await (await run).outputClosed;
      }
    });
  });

  Deno.test(`aborting a running hook kills its group and reports killed (${via})`, async () => {
    await withDir(async (dir) => {
      const long = await writeScript(dir, "long", `sleep 300 & echo $! > ${dir}/gc.pid; wait`);
      const abort = new AbortController();
      const running = runWith(spec([long], { signal: abort.signal, timeoutMs: 10_000 }).spec);
      const grandchild = await readPid(`${dir}/gc.pid`);
      abort.abort();
      const result = await running;
      assertEquals(result.outcome, { kind: "killed", signal: "SIGTERM" });
      await waitFor(() => !processAlive(grandchild), 2000, "the grandchild to die");
      await result.outputClosed;

      const notStarted = await runWith(spec([long], { signal: abort.signal }).spec);
      assertEquals(notStarted.outcome, { kind: "error", message: "not started: aborted" });
    });
  });

  Deno.test(`a hook leads a session and process group of its own (${via})`, async () => {
    await withDir(async (dir) => {
      // Fields 5 and 6 of /proc/PID/stat (after the command name) are pgrp and session.
      const who = await writeScript(
        dir,
        "who",
        `s=$(cat /proc/$$/stat); s=\${s##*) }; set -- $s; echo "$$ $3 $4"`,
      );
      const { spec: s, lines } = spec([who]);
      assertEquals((await runWith(s)).outcome, { kind: "exit", code: 0 });
      const [pid, pgrp, session] = lines[0][1].split(" ").map(Number);
      assertEquals([pgrp, session], [pid, pid]);
      assert(pgrp !== Deno.pid, "the hook must not share the daemon's group");
    });
  });

  Deno.test(`aborted at once, before the hook can have its own group, it is still killed (${via})`, async () => {
    await withDir(async (dir) => {
      const trace = `${dir}/ran`;
      // Had the abort been lost, the script would run its 300 s.
      const slow = await writeScript(dir, "slow", `touch ${trace}; exec sleep 300`);
      for (let i = 0; i < 5; i++) {
        const abort = new AbortController();
        const run = runWith(
          spec([slow], { signal: abort.signal, timeoutMs: 60_000, graceMs: 10_000 }).spec,
        );
        abort.abort(); // while it is being spawned, or right after
        // By SIGTERM, at once: not by the SIGKILL of the group 10 s later.
        const result = await within(run, 3000, "the aborted hook");
        assertEquals(result.outcome, { kind: "killed", signal: "SIGTERM" });
      }
    });
  });

  Deno.test(`a chatty hook's logged output is bounded (${via})`, async () => {
    await withDir(async (dir) => {
      const chatty = await writeScript(
        dir,
        "chatty",
        `i=0; while [ $i -lt 2000 ]; do echo "line $i of some chatty output"; i=$((i+1)); done
         head -c 20000 /dev/zero | tr '\\0' x; echo`,
      );
      const { spec: s, lines } = spec([chatty], { maxOutputChars: 1000 });
      assertEquals((await runWith(s)).outcome, { kind: "exit", code: 0 });
      const total = lines.reduce((n, [, l]) => n + l.length + 1, 0);
      assert(total < 1100, `logged ${total} characters`);
      assertEquals(lines.at(-1), ["stdout", "[hastmon: output beyond 1000 characters dropped]"]);
      assertEquals(lines[0], ["stdout", "line 0 of some chatty output"]);
    });
  });
}

Deno.test("a timeout too long for a timer means practically never, not at once", () => {
  assertEquals(timerDelay(1e12), 2 ** 31 - 1);
  assertEquals(timerDelay(250), 250);
  assertEquals(timerDelay(-5), 0);
});
