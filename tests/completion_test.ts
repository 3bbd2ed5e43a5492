/**
 * Shell completion as a user meets it: an interactive bash (with Debian's
 * bash-completion), zsh (with compinit) or fish, in tmux, with `hastmon
 * completion SHELL` loaded, keys typed, TAB pressed, and the screen read
 * back. `hastmon` on PATH runs this checkout's main.ts. .ci/run installs the
 * three shells from Debian when they are missing.
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

/** How to start a shell with hastmon's completion loaded, and how it lists candidates. */
interface Shell {
  name: "bash" | "zsh" | "fish";
  /** The interactive shell, with no user configuration. */
  argv: string;
  /** Typed first (in `dir`): a "$ " prompt, the completion loaded, then READY echoed. */
  setup: (dir: string) => string;
  /** Keys that list the candidates (bash lists on the second TAB). */
  list: string[];
  /** Why the shell cannot run here, or null. */
  missing: () => Promise<string | null>;
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

const SHELLS: Record<Shell["name"], Shell> = {
  bash: {
    name: "bash",
    argv: "bash --norc --noprofile -i",
    setup: (dir) =>
      `PS1='$ '; cd '${dir}'; source ${BASH_COMPLETION} && source <(hastmon completion bash) && echo READY`,
    list: ["Tab", "Tab"],
    missing: async () =>
      await exists(BASH_COMPLETION)
        ? null
        : `${BASH_COMPLETION} is missing: apt-get install bash-completion (.ci/run does)`,
  },
  zsh: {
    name: "zsh",
    argv: "zsh -f -i",
    setup: (dir) =>
      `PS1='$ '; cd '${dir}'; autoload -Uz compinit && compinit -u -d '${dir}/.zcompdump' && ` +
      `source <(hastmon completion zsh) && echo READY`,
    list: ["Tab"],
    missing: async () =>
      await onPath("zsh") ? null : "zsh is missing: apt-get install zsh (.ci/run does)",
  },
  fish: {
    name: "fish",
    argv: "fish --no-config -i",
    // No suggestions from history drawn after the cursor: the screen shows only what was typed.
    setup: (dir) =>
      `function fish_prompt; echo '$ '; end; set -g fish_autosuggestion_enabled 0; ` +
      `cd '${dir}'; hastmon completion fish | source; and echo READY`,
    list: ["Tab"],
    missing: async () =>
      await onPath("fish") ? null : "fish is missing: apt-get install fish (.ci/run does)",
  },
};

async function onPath(program: string): Promise<boolean> {
  for (const dir of ["/usr/bin", "/bin", "/usr/local/bin"]) {
    if (await exists(`${dir}/${program}`)) return true;
  }
  return false;
}

/** An interactive `shell` with hastmon's completion loaded, in a tmux of its own. */
async function withShell(
  shell: Shell,
  fn: (
    type: (keys: string[]) => Promise<void>,
    screen: () => Promise<string>,
    dir: string,
  ) => Promise<void>,
) {
  const missing = await shell.missing();
  assert(missing === null, missing ?? "");
  const dir = await Deno.makeTempDir({ prefix: `hastmon-completion-${shell.name}-` });
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
        `DENO_DIR='${denoDir}' DENO_NO_UPDATE_CHECK=1 ${shell.argv}`,
    );
    await type([shell.setup(dir), "Enter"]);
    await until(screen, (s) => /^READY$/m.test(s), `${shell.name} to load the completion`);
    await type(["clear", "Enter"]);
    await until(screen, (s) => s.trim() === "$", "a clear screen");
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
  await withShell(SHELLS.bash, async (type, screen) => {
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
  await withShell(SHELLS.bash, async (type, screen) => {
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

for (const name of ["zsh", "fish"] as const) {
  const shell = SHELLS[name];
  Deno.test(`completion: in ${name}, roles, resources and nodes from the configuration, optags`, async () => {
    await withShell(shell, async (type, screen) => {
      /** Clear the line and the screen (a list shown closes first). */
      const fresh = async () => {
        await type(["C-u"]);
        await type(["C-u", "clear", "Enter"]);
        await until(screen, (s) => s.trim() === "$", "a clear screen");
      };
      await type(["hastmon ctl role ", ...shell.list]);
      await until(
        screen,
        (s) =>
          ["init", "primary", "secondary", "watchdog"].every((r) =>
            new RegExp(`\\b${r}\\b`).test(s)
          ),
        "the roles to be listed",
      );
      await fresh();
      await type(["hastmon ctl role w", "Tab"]);
      await until(
        screen,
        (s) => /^\$ hastmon ctl role watchdog\s*$/m.test(s),
        "watchdog to be completed",
      );
      await fresh();
      await type(["hastmon ctl -c cluster.toml status ", ...shell.list]);
      await until(
        screen,
        (s) => /\ball\b/.test(s) && /\bweb\b/.test(s) && /\bdb\b/.test(s),
        "the resources to be listed",
      );
      await fresh();
      await type(["hastmon daemon -c cluster.toml --node b", "Tab"]);
      await until(screen, (s) => /--node beta\s*$/m.test(s), "the node name to be completed");
      await fresh();
      await type(["hastmon scha_control -c cluster.toml -G w", "Tab"]);
      await until(screen, (s) => /-G web\s*$/m.test(s), "the group to be completed");
      await type([" -O RESOURCE_I", "Tab"]);
      await until(
        screen,
        (s) => /-O RESOURCE_IS_RESTARTED\s*$/m.test(s),
        "the optag to be completed",
      );
    });
  });
}
