/**
 * `hastmon ctl events --follow` against a real daemon that is killed with -9
 * and started again: the follower says it lost the stream, reconnects on its
 * own, and goes on with the new daemon's events.
 */
import { reader } from "./cli.ts";
import { MAIN, REPO_ROOT, withCluster } from "./cluster/harness.ts";

Deno.test("e2e: ctl events --follow reconnects when its daemon restarts", async () => {
  await withCluster({}, async (c) => {
    await c.waitForActive("a");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "ctl", "-c", c.configPath, "--node", "a", "events", "--follow"],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = reader(child.stdout);
    const err = reader(child.stderr);
    try {
      await out.waitFor(" a r0 ");
      const restartedAt = new Date().toISOString();
      await c.restart("a");
      await err.waitFor("reconnecting\n");
      await err.waitFor("reconnected to ");
      // An event of the new daemon arrives on the same stream.
      await c.waitFor(
        () => out.text().split("\n").some((l) => l.split(" ")[0] > restartedAt),
        10_000,
        "an event of the restarted daemon",
      );
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* it ended by itself (the old follower gave up when its daemon went) */ }
      await child.status;
      await Promise.all([out.done, err.done]);
    }
  });
});
