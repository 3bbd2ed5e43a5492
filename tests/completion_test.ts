/**
 * Shell completion as a user meets it: an interactive bash (in tmux) with
 * Debian's bash-completion and `hastmon completion bash` sourced, keys typed,
 * TAB pressed, and the screen read back. `hastmon` on PATH runs this
 * checkout's main.ts.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { REPO_ROOT } from "./cluster/harness.ts";

const BASH_COMPLETION = "/usr/share/bash-completion/bash_completion";

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const r = await new Deno.Command("tmux", {
    args: ["-L", socket, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (r.code !== 0) throw new Error(`tmux ${args.join(" ")}: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

/** An interactive bash with hastmon's completion loaded, in a tmux of its own. */
async function withBash(
  fn: (
    type: (keys: string[]) => Promise<void>,
    screen: () => Promise<string>,
    dir: string,
  ) => Promise<void>,
) {
  assert(
    await Deno.stat(BASH_COMPLETION).then(() => true, () => false),
    `${BASH_COMPLETION} is missing: apt-get install bash-completion (.ci/run does)`,
  );
  const dir = await Deno.makeTempDir({ prefix: "hastmon-completion-" });
  const socket = `hastmon-completion-${Deno.pid}-${dir.slice(-6)}`;
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(
    `${dir}/bin/hastmon`,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet '${REPO_ROOT}main.ts' "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${dir}/cluster.toml`,
    `[resource.web.on.alpha]\nremote = ["10.0.0.2"]\n[resource.web.on.beta]\nremote = ["10.0.0.1"]\n` +
      `[resource.db.on.alpha]\nremote = ["10.0.0.2"]\n[resource.db.on.beta]\nremote = ["10.0.0.1"]\n`,
  );
  // The wrapper's Deno must find this checkout's module cache whatever HOME is.
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
  const screen = () => tmux(socket, "capture-pane", "-p", "-t", "t");
  const type = async (keys: string[]) => void await tmux(socket, "send-keys", "-t", "t", ...keys);
  try {
    await tmux(
      socket,
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      "160",
      "-y",
      "40",
      `env -i HOME='${dir}' TERM=xterm PATH='${dir}/bin:/usr/bin:/bin' NO_COLOR=1 ` +
        `DENO_DIR='${denoDir}' DENO_NO_UPDATE_CHECK=1 ` +
        `bash --norc --noprofile -i`,
    );
    await type([
      `PS1='$ '; cd '${dir}'; source ${BASH_COMPLETION} && source <(hastmon completion bash) && echo READY`,
      "Enter",
    ]);
    await until(screen, (s) => /^READY$/m.test(s), "bash to load the completion");
    await type(["clear", "Enter"]);
    await fn(type, screen, dir);
  } finally {
    await tmux(socket, "kill-server").catch(() => "");
    // A completion still running when the server went may write a moment longer.
    await new Promise((r) => setTimeout(r, 200));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function until(screen: () => Promise<string>, ok: (s: string) => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  let last = "";
  while (Date.now() < deadline) {
    last = await screen();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen:\n${last}`);
}

Deno.test("completion: in bash, `hastmon ctl role <TAB><TAB>` lists the roles; one letter completes one", async () => {
  await withBash(async (type, screen) => {
    await type(["hastmon ctl role ", "Tab", "Tab"]);
    const listed = await until(
      screen,
      (s) =>
        ["init", "primary", "secondary", "watchdog"].every((r) => new RegExp(`\\b${r}\\b`).test(s)),
      "the roles to be listed",
    );
    assertStringIncludes(listed, "$ hastmon ctl role");
    await type(["C-u", "clear", "Enter"]);
    await until(screen, (s) => s.trim() === "$", "a clear screen");
    await type(["hastmon ctl role w", "Tab"]);
    // capture-pane drops trailing blanks: the line ends with the completed word.
    await until(
      screen,
      (s) => /^\$ hastmon ctl role watchdog$/m.test(s),
      "watchdog to be completed",
    );
  });
});

Deno.test("completion: resource and node names come from the configuration named on the line", async () => {
  await withBash(async (type, screen) => {
    await type(["hastmon ctl -c cluster.toml status ", "Tab", "Tab"]);
    const s = await until(
      screen,
      (s) => /\ball\b/.test(s) && /\bweb\b/.test(s) && /\bdb\b/.test(s),
      "the resources to be listed",
    );
    assertEquals(/\bprimary\b/.test(s.split("\n").slice(1).join("\n")), false);
    await type(["C-u", "hastmon daemon -c cluster.toml --node b", "Tab"]);
    await until(screen, (s) => /--node beta$/m.test(s), "the node name to be completed");
    // The Solaris commands: a group from the configuration, an optag (taken in any case,
    // so not a `.choices()`) from the fixed list.
    await type(["C-u", "hastmon scha_control -c cluster.toml -G w", "Tab"]);
    await until(screen, (s) => /-G web$/m.test(s), "the group to be completed");
    await type([" -O RESOURCE_I", "Tab"]);
    await until(screen, (s) => /-O RESOURCE_IS_RESTARTED$/m.test(s), "the optag to be completed");
  });
});
