/**
 * The demo's cluster: in a fresh temporary directory, a configuration with
 * fast intervals, a hook script for a sample web page, and three real
 * `hastmon daemon` processes (nodeA primary, nodeB secondary, nodeC
 * watchdog) on loopback, every pair connected through a relay that the demo
 * controls. Faults are real: kill -9 of a node's every process, SIGSTOP and
 * SIGCONT of a daemon, links cut in the relay.
 *
 * Every process a node starts carries `HASTMON_DEMO=<dir>/<node>` in its
 * environment (daemon, guard, hooks, service), so that a node can be killed
 * whole and {@link DemoCluster.close} leaves nothing behind.
 */
import { DAEMON_DENO_FLAGS } from "../daemon/v8_flags.ts";
import { loadConfig } from "../config/mod.ts";
import { Relay } from "./relay.ts";
import { killMarked, killQuietly, markedProcesses, processAlive } from "./procs.ts";

/** The demo's nodes, their roles at start and priorities. */
export const DEMO_NODES = [
  { name: "nodeA", role: "primary", priority: 10 },
  { name: "nodeB", role: "secondary", priority: 20 },
  { name: "nodeC", role: "watchdog", priority: 30 },
] as const;

/** The demo's one resource. */
export const DEMO_RESOURCE = "web";

const MARK = "HASTMON_DEMO";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * How to run this very hastmon: the single-file launcher names itself in
 * $HASTMON_SELF; from the sources it is deno with main.ts.
 */
export function selfCommand(): string[] {
  const self = Deno.env.get("HASTMON_SELF");
  return self ? [self] : [Deno.execPath(), "run", "-A", MAIN];
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for the service, which binds it later). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

interface NodeProc {
  name: string;
  /** The daemon's real peer port, learnt from its log; null while it does not run. */
  port: number | null;
  child: Deno.ChildProcess | null;
}

/** The demo cluster. Create with {@link DemoCluster.create}, then {@link start}; {@link close} at the end. */
export class DemoCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly timelinePath: string;
  readonly servicePort: number;
  readonly relay = new Relay();
  readonly #procs = new Map<string, NodeProc>();
  #closed = false;

  private constructor(dir: string, servicePort: number) {
    this.dir = dir;
    this.configPath = `${dir}/hastmon.toml`;
    this.timelinePath = `${dir}/timeline`;
    this.servicePort = servicePort;
    for (const n of DEMO_NODES) this.#procs.set(n.name, { name: n.name, port: null, child: null });
  }

  /** Make the directory, the relay's ports, the hook script and the configuration. */
  static async create(): Promise<DemoCluster> {
    const dir = await Deno.makeTempDir({ prefix: "hastmon-demo-" });
    const c = new DemoCluster(dir, freePort());
    try {
      await Deno.writeTextFile(`${dir}/service.sh`, c.#hookScript(), { mode: 0o755 });
      await Deno.writeTextFile(c.configPath, c.#config());
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** The page's address. */
  get url(): string {
    return `http://127.0.0.1:${this.servicePort}/`;
  }

  /** The control socket of `node`. */
  controlPath(node: string): string {
    return `${this.dir}/${node}.sock`;
  }

  /** Start every node's daemon; resolves once every control socket answers. */
  async start(): Promise<void> {
    await Promise.all(DEMO_NODES.map((n) => this.startNode(n.name)));
  }

  /** The takeover bound (ms) that `hastmon config check` prints for nodeA → nodeB. */
  async takeoverBoundMs(): Promise<number | null> {
    const loaded = await loadConfig(this.configPath, { node: "nodeB" });
    const res = loaded.config?.resources.find((r) => r.name === DEMO_RESOURCE);
    const t = res?.timelines.find((x) => x.primary === "nodeA" && x.secondary === "nodeB");
    return t ? t.timeline.worstTakeoverMs : null;
  }

  /** Whether `node`'s daemon runs (it may be frozen). */
  isRunning(node: string): boolean {
    return this.#proc(node).child !== null;
  }

  /** The daemon's pid, or null. */
  daemonPid(node: string): number | null {
    return this.#proc(node).child?.pid ?? null;
  }

  /** Start `node`'s daemon (again: its state directory is kept). */
  async startNode(node: string): Promise<void> {
    const p = this.#proc(node);
    if (p.child) return;
    const log = `${this.dir}/${node}.log`;
    const logStart = (await Deno.stat(log).catch(() => null))?.size ?? 0;
    const [program, ...args] = selfCommand();
    const runArgs = args[0] === "run" ? ["run", ...DAEMON_DENO_FLAGS, ...args.slice(1)] : args;
    // sh sends the daemon's (and its guard's) stderr to the node's log, then becomes the daemon.
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `log="$1"; shift; exec "$@" 2>>"$log"`,
        "sh",
        log,
        program,
        ...runArgs,
        "daemon",
        "-F",
        "-c",
        this.configPath,
        "--node",
        node,
        "-P",
        `${this.dir}/${node}.pid`,
      ],
      env: { [MARK]: `${this.dir}/${node}`, NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    p.child = child;
    let exited: Deno.CommandStatus | null = null;
    child.status.then((s) => {
      exited = s;
      if (p.child === child) {
        p.child = null;
        p.port = null;
      }
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) {
        throw new Error(
          `daemon ${node} exited with ${(exited as Deno.CommandStatus).code}: ${await this.#logTail(
            node,
          )}`,
        );
      }
      try {
        (await Deno.connect({ transport: "unix", path: this.controlPath(node) })).close();
        break;
      } catch {
        if (Date.now() > deadline || this.#closed) {
          throw new Error(`daemon ${node} did not open its control socket`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const text = new TextDecoder().decode((await Deno.readFile(log)).subarray(logStart));
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
    if (!m) throw new Error(`daemon ${node}: no "listening on" line in ${log}`);
    p.port = Number(m[1]);
  }

  /**
   * Kill the whole node with -9: daemon, guard, hooks, service, as a crash
   * would. Once its service is gone, the timeline notes it (`died`).
   */
  async killNode(node: string): Promise<void> {
    const p = this.#proc(node);
    const child = p.child;
    const survivors = await killMarked(`${MARK}=${this.dir}/${node}`);
    if (child) await child.status;
    if (survivors.length > 0) {
      throw new Error(`processes of ${node} survived SIGKILL: ${survivors}`);
    }
    // Whatever the node ran (or was starting) is dead now.
    const stamp = (Date.now() / 1000).toFixed(9);
    await Deno.writeTextFile(this.timelinePath, `${stamp} ${node} ${DEMO_RESOURCE} died\n`, {
      append: true,
    });
  }

  /** Freeze `node`'s daemon (SIGSTOP); its guard and service run on. */
  freeze(node: string): void {
    const pid = this.daemonPid(node);
    if (pid !== null) Deno.kill(pid, "SIGSTOP");
  }

  /** Thaw `node`'s daemon (SIGCONT). */
  thaw(node: string): void {
    const pid = this.daemonPid(node);
    if (pid !== null) Deno.kill(pid, "SIGCONT");
  }

  /** Drop every byte between `a` and `b`, both ways. */
  cut(a: string, b: string): void {
    this.relay.blockBoth(a, b);
  }

  /** Let every byte through again. */
  heal(): void {
    this.relay.heal();
  }

  /** Kill everything the demo started (even frozen), close the relay, remove the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#procs.values()) if (p.child) killQuietly(p.child.pid);
    await Promise.all([...this.#procs.values()].map((p) => p.child?.status));
    const survivors = await killMarked(`${MARK}=${this.dir}/`, { prefix: true });
    await this.relay.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (survivors.length > 0) {
      throw new Error(`processes of the demo survived SIGKILL: ${survivors.join(" ")}`);
    }
  }

  /** Live processes of the demo (for tests: none after close). */
  processes(): number[] {
    return markedProcesses(`${MARK}=${this.dir}/`, { prefix: true }).filter(processAlive);
  }

  #proc(node: string): NodeProc {
    const p = this.#procs.get(node);
    if (!p) throw new Error(`no node ${node} in the demo`);
    return p;
  }

  async #logTail(node: string): Promise<string> {
    const text = await Deno.readTextFile(`${this.dir}/${node}.log`).catch(() => "");
    return text.trim().split("\n").slice(-5).join("\n");
  }

  #config(): string {
    const lines = [
      "# The demo's configuration: fast intervals (heartbeat 0.25 s) so that a failover",
      "# takes about two seconds. `hastmon config check -c THIS --node nodeB` prints its timeline.",
      "heartbeat_interval = 0.25",
      "timeout = 0.25",
      // Room for a stop on a loaded machine (the end-to-end tests' figure).
      "stop_timeout = 0.75",
      "complaint_interval = 5",
      `exec = "${this.dir}/service.sh"`,
    ];
    for (const n of DEMO_NODES) {
      lines.push(
        "",
        `[on.${n.name}]`,
        // Port 0: the relay learns the real port from the daemon's log once it runs.
        `listen = "tcp://127.0.0.1:0"`,
        `control = "${this.controlPath(n.name)}"`,
        `state_dir = "${this.dir}/state-${n.name}"`,
        `priority = ${n.priority}`,
        `hook_env = { ${this.#hookEnv(n.name)} }`,
      );
    }
    for (const n of DEMO_NODES) {
      const remote = DEMO_NODES.filter((m) => m !== n).map((m) => {
        const port = this.relay.route(n.name, m.name, () => this.#proc(m.name).port);
        return `"127.0.0.1:${port}"`;
      });
      lines.push(
        "",
        `[resource.${DEMO_RESOURCE}.on.${n.name}]`,
        `remote = [${remote.join(", ")}]`,
        `role_on_start = "${n.role}"`,
      );
    }
    return lines.join("\n") + "\n";
  }

  /**
   * What a node's hooks (and so its service) get besides the daemon's own
   * variables, which are all a hook gets otherwise: the node's mark, so that
   * its kill takes the service too; and where this hastmon keeps its caches,
   * so that the service, this hastmon again, starts from the same ones (the
   * built file's unpacked copy, Deno's modules) rather than unpacking or
   * fetching into another place.
   */
  #hookEnv(node: string): string {
    const env: Record<string, string> = { [MARK]: `${this.dir}/${node}` };
    for (const name of ["HASTMON_CACHE", "HOME", "XDG_CACHE_HOME", "DENO_DIR"]) {
      const value = Deno.env.get(name);
      if (value) env[name] = value;
    }
    return Object.entries(env).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ");
  }

  /**
   * The hook script, `service.sh EVENT RESOURCE [args]`, following
   * docs/SAFETY.md "What hook scripts must allow" (the patterns of the test
   * hook in tests/cluster/harness.ts):
   *
   * - `start` notes `begin` in the timeline before anything runs, launches
   *   the page in a session of its own (it outlives the hook, as a service
   *   does), ignoring SIGTERM until its pid file exists, then notes `up`;
   * - `stop` waits for a start still launching, kills the page, waits until it
   *   is gone and notes `end` before removing the pid file; with nothing
   *   running it notes `end none`;
   * - `status`: 0 while the page's process lives, 1 when not.
   */
  #hookScript(): string {
    const self = [...selfCommand(), "demo-service"].map(shellQuote).join(" ");
    return `#!/bin/sh
D='${this.dir}'
PORT=${this.servicePort}
node="\${HASTMON_NODE:?}"
res="$2"
pf="$D/svc-$node.pid"
starting="$pf.starting"
note() { echo "$(date +%s.%N) $node $res $*" >> "$D/timeline"; }
alive() { [ -n "$1" ] && read -r st 2>/dev/null < "/proc/$1/stat" || return 1; st=\${st##*) }; [ "\${st%% *}" != Z ]; }
running() { [ -s "$pf" ] && alive "$(cat "$pf")"; }
case "$1" in
start)
  echo $$ > "$starting"
  note begin "epoch=\${HASTMON_EPOCH:-?}"
  if running; then note up "$(cat "$pf")" already-running; rm -f "$starting"; exit 0; fi
  rm -f "$pf"
  trap '' TERM
  setsid sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pf" ${self} --port "$PORT" --node "$node" --epoch "\${HASTMON_EPOCH:-?}" </dev/null >>"$D/service-$node.log" 2>&1 &
  i=0
  while [ ! -s "$pf" ]; do
    i=$((i + 1)); [ $i -gt 400 ] && { note start-failed; rm -f "$starting"; exit 1; }
    sleep 0.005
  done
  trap - TERM
  note up "$(cat "$pf")"
  rm -f "$starting"
  ;;
stop)
  while [ ! -s "$pf" ] && [ -s "$starting" ] && alive "$(cat "$starting")"; do sleep 0.005; done
  if [ -s "$pf" ]; then
    p=$(cat "$pf")
    kill -KILL "$p" 2>/dev/null
    while alive "$p"; do sleep 0.005; done
    note end "$p" "by=$HASTMON_ROLE"
    rm -f "$pf"
  else
    note end none "by=$HASTMON_ROLE"
  fi
  rm -f "$starting"
  ;;
status)
  running || exit 1
  ;;
esac
exit 0
`;
  }
}
