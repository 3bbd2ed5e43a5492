/**
 * Multi-process end-to-end clusters on loopback: real `hastmon daemon -F`
 * processes (each with its real guard), a real hook script running a real
 * long-lived service, a TCP relay between every pair of nodes, and a shared
 * service timeline that {@link TestCluster.assertNeverTwoActive} checks.
 *
 * Everything a cluster starts carries `HASTMON_TEST_CLUSTER=<its temp dir>`
 * in its environment (daemons, guards, hooks, services inherit it), so
 * {@link TestCluster.stop} finds and kills every process of the cluster, and
 * of no other cluster, even after a daemon was killed with -9 and its guard
 * and services were orphaned.
 *
 *     await withCluster({}, async (c) => {
 *       await c.waitForActive("a");
 *       ...
 *     }); // checks the timeline, then tears everything down
 */
import { ControlClient } from "../../src/control/client.ts";
import type { DaemonEvent, EventsResult, StatusResult } from "../../src/control/protocol.ts";
import type { ResourceStatus } from "../../src/core/status.ts";
import { DAEMON_DENO_FLAGS } from "../../src/daemon/v8_flags.ts";
import { Relay } from "../../src/demo/relay.ts";
import { killQuietly, markedProcesses, processAlive } from "../../src/demo/procs.ts";
import { formatPublicKey, generateNodeKey } from "../../src/wire/node_keys.ts";
import {
  activeAtEnd,
  assertNeverTwoActive,
  formatTimeline,
  readTimeline,
  type TimelineEvent,
} from "./timeline.ts";

/** The repository root and the one executable's entry point. */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
export const MAIN = `${REPO_ROOT}main.ts`;

/** A role as written in the configuration. */
export type Role = "init" | "primary" | "secondary" | "watchdog";

/** One node of a test cluster. */
export interface NodeSpec {
  name: string;
  priority: number;
  /** role_on_start of every resource on this node. */
  role: Role;
}

/** Two nodes that can run the service and a watchdog. */
export const DEFAULT_NODES: readonly NodeSpec[] = [
  { name: "a", priority: 10, role: "primary" },
  { name: "b", priority: 20, role: "secondary" },
  { name: "w", priority: 30, role: "watchdog" },
];

/** How to build a cluster; times in seconds as in the configuration. */
export interface ClusterOptions {
  nodes?: readonly NodeSpec[];
  /** Default 0.25. */
  heartbeatInterval?: number;
  /** Default 0.25. */
  timeout?: number;
  /** Default {@link DEFAULT_STOP_TIMEOUT_S}. */
  stopTimeout?: number;
  /** Default: the daemon's (3). */
  complaintCount?: number;
  /** Default 5. */
  complaintInterval?: number;
  /** status_timeout; default: the daemon's (hook_timeout). */
  statusTimeout?: number;
  /** A `[key]` with this secret; none by default. */
  secret?: string;
  /** Resource names, every one on every node; default ["r0"]. */
  resources?: readonly string[];
  /** Raw TOML lines added at the top level. */
  extraToml?: string;
  /** Raw TOML lines added to `[resource.R.on.NODE]` of every resource, by node. */
  nodeSections?: Record<string, string>;
  /** A `fence` command that powers the old primary off (kills its daemon and services). */
  fence?: boolean;
  /** A `panic` command that does what a reboot does to the services of its node: kills them. */
  panic?: boolean;
  /** `-d` count of the daemons; default 1. */
  debug?: number;
  /**
   * Give node i its own loopback address 127.0.0.(i+1) to listen on and to
   * connect from (the relay forwards from the sender's address), as on a
   * real network; by default every node is 127.0.0.1.
   */
  distinctHosts?: boolean;
  /** Per-node Ed25519 key pairs (`hastmon keygen`'s format) instead of a shared key. */
  nodeKeys?: boolean;
  /** Nodes started by {@link TestCluster.start}; default all. */
  startNodes?: readonly string[];
  /**
   * Run this executable (e.g. the built dist/hastmon) for the daemons and
   * `hastmon` commands instead of `deno run main.ts`, with `env` added.
   */
  executable?: { path: string; env?: Record<string, string> };
  /**
   * Write the configuration with paths relative to its own directory
   * (state_dir, control, exec) and run every command from a subdirectory
   * `run/` of the cluster, naming the configuration and pidfiles relative to
   * it (`-c ../hastmon.toml -P a.pid`): what an operator standing elsewhere does.
   */
  relativePaths?: boolean;
  /** Extra arguments of every `hastmon daemon` (e.g. `--log-format json`). */
  daemonArgs?: readonly string[];
  /**
   * Nodes whose log can be cut or paused ({@link TestCluster.cutLog},
   * {@link TestCluster.pauseLog}): their daemon's (and guard's) stderr is a
   * pipe read into the log, line by line, by a reader that exits or waits
   * when told to.
   */
  logCuttable?: readonly string[];
}

/** What `hastmon ctl` printed and how it exited. */
export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface NodeProc {
  spec: NodeSpec;
  /** The daemon's real peer port, read from its log once it runs; null while it does not. */
  listenPort: number | null;
  controlPath: string;
  logPath: string;
  child: Deno.ChildProcess | null;
}

const ENV_MARK = "HASTMON_TEST_CLUSTER";

/** How long a start hook dawdles, before launching anything, while its node's slow-start flag is set. */
export const SLOW_START_S = 6;

/**
 * stop_timeout of the test clusters. A stop that overruns it without a panic
 * hook voids the safety promise by definition (the others take over once the
 * lease plus stop_timeout has passed), and the stop script of a loaded 2-core
 * machine has been seen to need 0.34 s: 0.25, the benchmark's figure, left
 * the tests at the mercy of the load.
 */
export const DEFAULT_STOP_TIMEOUT_S = 0.75;
const POLL_MS = 50;

/** A running test cluster; create with {@link TestCluster.start}. */
export class TestCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly timelinePath: string;
  readonly relay = new Relay();
  readonly resources: readonly string[];
  readonly nodes: readonly NodeSpec[];
  #procs = new Map<string, NodeProc>();
  #opts: ClusterOptions;
  /** Relay port per `from>to`, made once: the configuration may be written again. */
  #relayPorts: Map<string, number> | null = null;
  /** With node keys: each node's configured public keys and its private key file. */
  #keys = new Map<string, { publicKeys: string[]; file: string; count: number }>();
  #stopped = false;

  private constructor(dir: string, opts: ClusterOptions) {
    this.dir = dir;
    this.#opts = opts;
    this.configPath = `${dir}/hastmon.toml`;
    this.timelinePath = `${dir}/timeline`;
    this.nodes = opts.nodes ?? DEFAULT_NODES;
    this.resources = opts.resources ?? ["r0"];
  }

  /** Where commands run: the repository, or `run/` of the cluster with {@link ClusterOptions.relativePaths}. */
  get cwd(): string {
    return this.#opts.relativePaths ? `${this.dir}/run` : REPO_ROOT;
  }

  /** The configuration as commands name it (relative to {@link cwd} with relativePaths). */
  get configArg(): string {
    return this.#opts.relativePaths ? "../hastmon.toml" : this.configPath;
  }

  /** The argv that runs `hastmon` (the daemon's Deno options included). */
  #command(): string[] {
    const exe = this.#opts.executable;
    return exe ? [exe.path] : [Deno.execPath(), "run", "-A", ...DAEMON_DENO_FLAGS, MAIN];
  }

  /** The environment of every `hastmon` process this cluster starts. */
  #env(): Record<string, string> {
    return { NO_COLOR: "1", RUST_BACKTRACE: "0", ...this.#opts.executable?.env };
  }

  /** Write the hook script and the configuration, open the relay, start the daemons. */
  static async start(opts: ClusterOptions = {}): Promise<TestCluster> {
    const dir = await Deno.makeTempDir({ prefix: "hastmon-e2e-" });
    const c = new TestCluster(dir, opts);
    try {
      await c.#setUp();
      await Promise.all((opts.startNodes ?? c.nodes.map((n) => n.name)).map((n) => c.startNode(n)));
    } catch (e) {
      await c.dumpDiagnostics(`cluster start failed: ${(e as Error).message}`);
      await c.stop();
      throw e;
    }
    return c;
  }

  async #setUp() {
    for (const spec of this.nodes) {
      this.#procs.set(spec.name, {
        spec,
        listenPort: null,
        controlPath: `${this.dir}/${spec.name}.sock`,
        logPath: `${this.dir}/${spec.name}.log`,
        child: null,
      });
    }
    await Deno.writeTextFile(`${this.dir}/svc.sh`, hookScript(this.dir), { mode: 0o755 });
    if (this.#opts.nodeKeys) {
      for (const spec of this.nodes) {
        const file = `${this.dir}/${spec.name}.key.0`;
        const { publicKey } = await writeNodeKey(file);
        this.#keys.set(spec.name, { publicKeys: [publicKey], file, count: 1 });
      }
    }
    await Deno.writeTextFile(`${this.dir}/fence.sh`, fenceScript(this.dir), { mode: 0o755 });
    await Deno.writeTextFile(`${this.dir}/panic.sh`, panicScript(this.dir), { mode: 0o755 });
    await this.writeConfig();
    if (this.#opts.relativePaths) await Deno.mkdir(this.cwd);
  }

  /** Write the configuration file again (atomically), from the options and the current keys. */
  async writeConfig(): Promise<void> {
    const tmp = `${this.configPath}.tmp`;
    await Deno.writeTextFile(tmp, this.#config());
    await Deno.rename(tmp, this.configPath);
  }

  /** Key rotation, step 1: a new key pair for `node`, listed beside its old public key(s). */
  async addNodeKey(node: string): Promise<string> {
    const k = this.#keys.get(node);
    if (!k) throw new Error(`${node} has no node keys`);
    const file = `${this.dir}/${node}.key.${k.count++}`;
    const { publicKey } = await writeNodeKey(file);
    k.publicKeys.push(publicKey);
    await this.writeConfig();
    return file;
  }

  /** Key rotation, step 2: `node` signs with `file` from its next reload on. */
  async useNodeKey(node: string, file: string): Promise<void> {
    this.#keys.get(node)!.file = file;
    await this.writeConfig();
  }

  /** Key rotation, step 3: only the public key of `node`'s current file stays listed. */
  async retireOldNodeKeys(node: string): Promise<void> {
    const k = this.#keys.get(node)!;
    const bytes = await Deno.readFile(k.file);
    k.publicKeys = [formatPublicKey(bytes.subarray(32))];
    await this.writeConfig();
  }

  /** The private key file `node` is configured with. */
  nodeKeyFile(node: string): string {
    const k = this.#keys.get(node);
    if (!k) throw new Error(`${node} has no node keys`);
    return k.file;
  }

  /**
   * SIGHUP `node`'s daemon and wait until it reported the reload's outcome.
   * Read from its events (`ctl events`), not its log: the log summarises a
   * line identical to one of the last minute, as a second reload's is.
   */
  async reload(node: string): Promise<void> {
    const before = await this.events(node);
    if (before === null) throw new Error(`${node}'s control socket does not answer`);
    const seen = before.at(-1)?.seq ?? -1;
    Deno.kill(this.#running(node), "SIGHUP");
    await this.waitFor(
      async () => {
        const fresh = (await this.events(node) ?? []).filter((e) => e.seq > seen);
        const refused = fresh.filter((e) => e.message.startsWith("reload refused"));
        if (refused.length > 0) {
          throw new Error(
            `${node} refused the reload:\n${refused.map((e) => e.message).join("\n")}`,
          );
        }
        return fresh.some((e) => e.message.startsWith("configuration reloaded"));
      },
      5000,
      `${node} to reload`,
    );
  }

  /** The daemon's recent events (`ctl events`), oldest first; null if it does not answer. */
  async events(node: string): Promise<DaemonEvent[] | null> {
    let client: ControlClient | null = null;
    try {
      client = await ControlClient.connect(this.#proc(node).controlPath, { timeoutMs: 1000 });
      const r = await client.request({ type: "events" });
      return r.ok ? (r.result as EventsResult).events : null;
    } catch {
      return null;
    } finally {
      await client?.close();
    }
  }

  #config(): string {
    const o = this.#opts;
    const lines = [
      `heartbeat_interval = ${o.heartbeatInterval ?? 0.25}`,
      `timeout = ${o.timeout ?? 0.25}`,
      `stop_timeout = ${o.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S}`,
      `complaint_interval = ${o.complaintInterval ?? 5}`,
      ...(o.complaintCount !== undefined ? [`complaint_count = ${o.complaintCount}`] : []),
      ...(o.statusTimeout !== undefined ? [`status_timeout = ${o.statusTimeout}`] : []),
      `exec = "${o.relativePaths ? "svc.sh" : `${this.dir}/svc.sh`}"`,
      ...(o.fence ? [`fence = ["${o.relativePaths ? "fence.sh" : `${this.dir}/fence.sh`}"]`] : []),
      ...(o.panic ? [`panic = ["${o.relativePaths ? "panic.sh" : `${this.dir}/panic.sh`}"]`] : []),
      // Hooks get a minimal environment: the cluster's mark must be passed on explicitly.
      `hook_env = { ${ENV_MARK} = ${JSON.stringify(this.dir)} }`,
      ...(o.extraToml ? [o.extraToml] : []),
    ];
    if (o.secret !== undefined) lines.push("", "[key]", `secret = ${JSON.stringify(o.secret)}`);
    // Relative paths are relative to the configuration file's directory, i.e. the cluster's.
    const at = (name: string) => o.relativePaths ? name : `${this.dir}/${name}`;
    for (const p of this.#procs.values()) {
      lines.push(
        "",
        `[on.${p.spec.name}]`,
        // Port 0: a port chosen here and passed on could be taken by anyone before the daemon
        // binds it. The relay learns the real one when the daemon has started.
        `listen = "tcp://${this.host(p.spec.name)}:0"`,
        `control = "${at(`${p.spec.name}.sock`)}"`,
        `state_dir = "${at(`state-${p.spec.name}`)}"`,
        `priority = ${p.spec.priority}`,
      );
      const keys = this.#keys.get(p.spec.name);
      if (keys) {
        lines.push(
          `public_key = [${keys.publicKeys.map((k) => JSON.stringify(k)).join(", ")}]`,
          `private_key_file = ${JSON.stringify(keys.file)}`,
        );
      }
    }
    // Every node reaches every other through the relay's port for that direction.
    const relayPorts = this.#relayPorts ?? this.#routeAll();
    for (const r of this.resources) {
      for (const n of this.nodes) {
        const remote = this.nodes.filter((m) => m !== n).map((m) =>
          `"127.0.0.1:${relayPorts.get(`${n.name}>${m.name}`)}"`
        );
        lines.push(
          "",
          `[resource.${r}.on.${n.name}]`,
          `remote = [${remote.join(", ")}]`,
          `role_on_start = "${n.role}"`,
          ...(o.nodeSections?.[n.name] ? [o.nodeSections[n.name]] : []),
        );
      }
    }
    return lines.join("\n") + "\n";
  }

  #routeAll(): Map<string, number> {
    const o = this.#opts;
    const relayPorts = new Map<string, number>();
    for (const from of this.#procs.values()) {
      for (const to of this.#procs.values()) {
        if (from === to) continue;
        const port = this.relay.route(
          from.spec.name,
          to.spec.name,
          () => to.listenPort,
          o.distinctHosts
            ? { target: this.host(to.spec.name), source: this.host(from.spec.name) }
            : {},
        );
        relayPorts.set(`${from.spec.name}>${to.spec.name}`, port);
      }
    }
    this.#relayPorts = relayPorts;
    return relayPorts;
  }

  #proc(node: string): NodeProc {
    const p = this.#procs.get(node);
    if (!p) throw new Error(`no node ${node} in this cluster`);
    return p;
  }

  /** The loopback address `node` listens on and connects from. */
  host(node: string): string {
    const i = this.nodes.findIndex((n) => n.name === node);
    if (i < 0) throw new Error(`no node ${node} in this cluster`);
    return this.#opts.distinctHosts ? `127.0.0.${i + 1}` : "127.0.0.1";
  }

  /**
   * Rewrite the shared configuration file with `change` applied to the
   * cluster's options (daemons read it on their next start or SIGHUP).
   */
  async rewriteConfig(change: Partial<ClusterOptions>): Promise<void> {
    this.#opts = { ...this.#opts, ...change };
    await this.writeConfig();
  }

  /** SIGHUP to `node`'s daemon: it reloads the configuration file. */
  sighup(node: string): void {
    const pid = this.daemonPid(node);
    if (pid === null) throw new Error(`${node} is not running`);
    Deno.kill(pid, "SIGHUP");
  }

  /** The real (not relayed) peer port of `node`, for raw-socket tests. */
  listenPort(node: string): number {
    const port = this.#proc(node).listenPort;
    if (port === null) throw new Error(`${node} is not running`);
    return port;
  }

  /** The control socket of `node`. */
  controlPath(node: string): string {
    return this.#proc(node).controlPath;
  }

  /** The daemon's pid, or null when it is not running. */
  daemonPid(node: string): number | null {
    return this.#proc(node).child?.pid ?? null;
  }

  /**
   * Stop reading `node`'s log (a {@link ClusterOptions.logCuttable} node): the
   * reader exits after the next line, and every write after that fails (EPIPE),
   * the daemon's and its guard's alike.
   */
  async cutLog(node: string): Promise<void> {
    if (!this.#opts.logCuttable?.includes(node)) throw new Error(`${node}'s log is not cuttable`);
    await Deno.writeTextFile(this.#cutFlag(node), "");
  }

  /**
   * Stop reading `node`'s log without closing it (a reader that hangs: a
   * terminal paused with Ctrl-S, a stalled journald), or read on.
   */
  async pauseLog(node: string, paused: boolean): Promise<void> {
    if (!this.#opts.logCuttable?.includes(node)) throw new Error(`${node}'s log is not cuttable`);
    if (paused) await Deno.writeTextFile(this.#pauseFlag(node), "");
    else await Deno.remove(this.#pauseFlag(node)).catch(() => {});
  }

  #cutFlag(node: string): string {
    return `${this.dir}/${node}.stderr.cut`;
  }

  #pauseFlag(node: string): string {
    return `${this.dir}/${node}.stderr.pause`;
  }

  /** Start `node`'s daemon in the foreground; resolves once its control socket answers. */
  async startNode(node: string): Promise<void> {
    const p = this.#proc(node);
    if (p.child) throw new Error(`${node} is already running`);
    const d = Math.max(0, this.#opts.debug ?? 1);
    const debug = d > 0 ? ` -${"d".repeat(d)}` : "";
    // The log is appended to across restarts: only what this run writes tells its port.
    const logStart = (await Deno.stat(p.logPath).catch(() => null))?.size ?? 0;
    // sh redirects the daemon's (and its guard's) stderr into the node's log, then becomes it;
    // a cuttable log goes through a FIFO, read line by line (cutLog).
    const fifo = `${this.dir}/${node}.stderr.fifo`;
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        !this.#opts.logCuttable?.includes(node)
          ? `log=$1; shift; exec "$@" 2>>"$log"`
          : `log=$1; shift; rm -f '${fifo}' '${this.#cutFlag(node)}' '${this.#pauseFlag(node)}'; ` +
            `mkfifo '${fifo}'; (while :; do while [ -e '${this.#pauseFlag(node)}' ]; do ` +
            `sleep 0.1; done; IFS= read -r l || break; printf '%s\\n' "$l"; ` +
            `[ -e '${this.#cutFlag(node)}' ] && break; done) <'${fifo}' >>"$log" & ` +
            `exec "$@" 2>'${fifo}'`,
        "sh",
        p.logPath,
        ...this.#command(),
        "daemon",
        "-F",
        "-c",
        this.configArg,
        "--node",
        node,
        "-P",
        this.#opts.relativePaths ? `${node}.pid` : `${this.dir}/${node}.pid`,
        ...(debug ? [debug.trim()] : []),
        ...this.#opts.daemonArgs ?? [],
      ],
      cwd: this.cwd,
      env: { [ENV_MARK]: this.dir, ...this.#env() },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    p.child = child;
    let exited: Deno.CommandStatus | null = null;
    child.status.then((s) => {
      exited = s;
      if (p.child === child) p.listenPort = null;
    });
    await this.waitFor(
      async () => {
        if (exited) {
          throw new Error(`daemon ${node} exited with ${exited.code} during start-up`);
        }
        try {
          (await Deno.connect({ transport: "unix", path: p.controlPath })).close();
          return true;
        } catch {
          return false;
        }
      },
      15_000,
      `daemon ${node} to open its control socket`,
    );
    p.listenPort = await listeningPort(p.logPath, logStart);
  }

  /** kill -9 the daemon of `node` (its guard and service live on); returns the time of the kill. */
  async kill9(node: string): Promise<number> {
    const p = this.#proc(node);
    if (!p.child) throw new Error(`${node} is not running`);
    const at = Date.now();
    Deno.kill(p.child.pid, "SIGKILL");
    await p.child.status;
    p.child = null;
    return at;
  }

  /** kill -9 the daemon and, at once, every service it runs; returns the time of the kill. */
  async kill9WithService(node: string): Promise<number> {
    const services = this.resources.map((r) => [r, this.servicePid(node, r)] as const);
    const at = await this.kill9(node);
    for (const [, pid] of services) if (pid !== null) killQuietly(pid);
    for (const [r, pid] of services) if (pid !== null) await this.#confirmDead(node, r, pid);
    return at;
  }

  /** kill -9 the service of `resource` on `node` and note its death in the timeline. */
  async killService(node: string, resource = this.resources[0]): Promise<void> {
    const pid = this.servicePid(node, resource);
    if (pid === null) throw new Error(`no service of ${resource} on ${node}`);
    killQuietly(pid);
    await this.#confirmDead(node, resource, pid);
  }

  /** Once `pid` is gone, note `died`: the service was active until then at the latest. */
  async #confirmDead(node: string, resource: string, pid: number) {
    await this.waitFor(() => !processAlive(pid), 5000, `service ${pid} of ${node} to die`);
    await Deno.writeTextFile(
      this.timelinePath,
      `${stamp(Date.now())} ${node} ${resource} died ${pid}\n`,
      { append: true },
    );
  }

  /** SIGTERM to `node`'s daemon; resolves with its exit code once it has exited. */
  async terminate(node: string): Promise<number> {
    const p = this.#proc(node);
    if (!p.child) throw new Error(`${node} is not running`);
    Deno.kill(p.child.pid, "SIGTERM");
    const { code } = await p.child.status;
    p.child = null;
    return code;
  }

  /** Freeze the daemon (SIGSTOP); its guard and service run on. */
  sigstop(node: string): void {
    Deno.kill(this.#running(node), "SIGSTOP");
  }

  /** Thaw the daemon (SIGCONT). */
  sigcont(node: string): void {
    Deno.kill(this.#running(node), "SIGCONT");
  }

  #running(node: string): number {
    const pid = this.daemonPid(node);
    if (pid === null) throw new Error(`${node} is not running`);
    return pid;
  }

  /** kill -9 the daemon if it runs, then start it again (state_dir is kept). */
  async restart(node: string): Promise<void> {
    if (this.daemonPid(node) !== null) await this.kill9(node);
    await this.startNode(node);
  }

  /** Run `hastmon ARGS...` (this checkout's main.ts, or the executable) as a whole process. */
  async hastmon(...args: string[]): Promise<CtlResult> {
    const [program, ...lead] = this.#command();
    const out = await new Deno.Command(program, {
      args: [...lead, ...args],
      cwd: this.cwd,
      env: this.#env(),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  /** Run `hastmon ctl -c CONFIG --node NODE ...args` as a whole process. */
  ctl(node: string, ...args: string[]): Promise<CtlResult> {
    return this.hastmon("ctl", "-c", this.configArg, "--node", node, ...args);
  }

  /** `hastmon ctl` that must exit 0; returns its standard output. */
  async ctlOk(node: string, ...args: string[]): Promise<string> {
    const r = await this.ctl(node, ...args);
    if (r.code !== 0) {
      throw new Error(`ctl ${args.join(" ")} on ${node} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    }
    return r.stdout;
  }

  /** The daemon's status through the control client (in-process: cheap to poll); null if it does not answer. */
  async status(node: string, timeoutMs = 1000): Promise<StatusResult | null> {
    let client: ControlClient | null = null;
    try {
      client = await ControlClient.connect(this.#proc(node).controlPath, { timeoutMs });
      const r = await client.request({ type: "status" });
      return r.ok ? r.result as StatusResult : null;
    } catch {
      return null;
    } finally {
      await client?.close();
    }
  }

  /** One resource's status on `node`, or null if the daemon does not answer. */
  async resourceStatus(node: string, resource = this.resources[0]): Promise<ResourceStatus | null> {
    const st = await this.status(node);
    return st?.resources.find((r) => r.resource === resource) ?? null;
  }

  /** Poll `predicate` until it returns something truthy (returned), or fail after `timeoutMs`. */
  async waitFor<T>(
    predicate: () => T | Promise<T>,
    timeoutMs: number,
    what: string,
  ): Promise<NonNullable<T>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
      if (performance.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await sleep(POLL_MS);
    }
  }

  /** Wait until `node`'s service of `resource` runs and is the only one; returns the timeline. */
  async waitForActive(
    node: string,
    timeoutMs = 10_000,
    resource = this.resources[0],
  ): Promise<TimelineEvent[]> {
    return await this.waitFor(
      async () => {
        // The service's pid file first: the hook script writes it after its begin line, so the
        // timeline read next has that line. Read the other way round, a begin written between
        // the two reads was missing from the events returned while the node counted as active
        // already (from its daemon's "starting" line).
        if (this.servicePid(node, resource) === null) return null;
        const events = await this.timeline();
        const active = activeAtEnd(events, resource);
        return active.length === 1 && active[0] === node ? events : null;
      },
      timeoutMs,
      `${resource} to be active on ${node} alone`,
    );
  }

  /**
   * Wait until `node` runs `resource` alone, in steady state: every node is
   * connected to every other, its lease has been renewed (more than a
   * heartbeat of it left), and the service has kept its pid for `stableMs`.
   * Faults are injected from here, not from a cluster still settling: a
   * first lease is often nearly spent on arrival (the granters persist their
   * grant before they acknowledge), and on a loaded machine the service may
   * then be stopped and started again once.
   */
  async waitForSteady(
    node: string,
    timeoutMs = 10_000,
    resource = this.resources[0],
    stableMs = 500,
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    for (;;) {
      await this.waitForActive(node, left(), resource);
      const pid = this.servicePid(node, resource);
      await this.waitFor(
        async () => {
          const statuses = await Promise.all(this.nodes.map((n) => this.status(n.name)));
          const mine = statuses.find((s) => s?.node === node)?.resources
            .find((r) => r.resource === resource);
          const lease = mine?.lease;
          return statuses.every((s) =>
            s?.resources.every((r) => r.peers.every((p) => p.connected))
          ) &&
            lease?.held && (lease.remainingMs ?? 0) > lease.lengthMs / 3;
        },
        left(),
        `${node}'s lease to be renewed with every node connected`,
      );
      await sleep(stableMs);
      if (pid !== null && this.servicePid(node, resource) === pid) return;
      if (performance.now() > deadline) {
        throw new Error(`${resource} on ${node} did not settle within ${timeoutMs} ms`);
      }
    }
  }

  /**
   * The node that is the one primary of `resource` and alone runs it, the
   * others being secondary or watchdog; null while that is not so.
   */
  async settledPrimary(resource = this.resources[0]): Promise<string | null> {
    const roles = await Promise.all(this.nodes.map(async (n) => {
      const s = await this.status(n.name);
      return [n.name, s?.resources.find((r) => r.resource === resource)?.role] as const;
    }));
    const primaries = roles.filter(([, r]) => r === "primary").map(([n]) => n);
    if (primaries.length !== 1) return null;
    if (!roles.every(([, r]) => r === "primary" || r === "secondary" || r === "watchdog")) {
      return null;
    }
    return this.runningNodes(resource).join() === primaries[0] ? primaries[0] : null;
  }

  /** Wait for {@link settledPrimary}; returns the primary. */
  waitForSettled(timeoutMs = 10_000, resource = this.resources[0]): Promise<string> {
    return this.waitFor(
      () => this.settledPrimary(resource),
      timeoutMs,
      `one primary running ${resource} alone`,
    );
  }

  /**
   * After {@link waitForSettled} returned `primary`: wait `ms`, then check that
   * no start hook began anywhere meanwhile (the service never moved or
   * restarted) and that `primary` is still the settled primary. Judged from
   * the timeline, not by polling status, which a loaded machine may answer late.
   */
  async assertStaysSettled(primary: string, ms: number, resource = this.resources[0]) {
    const from = Date.now();
    await sleep(ms);
    const begins = (await this.timeline()).filter((e) =>
      e.resource === resource && e.kind === "begin" && e.t >= from
    );
    if (begins.length > 0) {
      const who = begins.map((e) => `${e.node} at +${(e.t - from).toFixed(0)} ms`).join(", ");
      throw new Error(`${resource} started again while ${primary} was settled: ${who}`);
    }
    const now = await this.waitForSettled(5000, resource);
    if (now !== primary) throw new Error(`${resource} settled on ${now}, not ${primary}`);
  }

  /** Wait until `node` reports `role` for `resource`. */
  async waitForRole(node: string, role: Role, timeoutMs = 10_000, resource = this.resources[0]) {
    return await this.waitFor(
      async () => (await this.resourceStatus(node, resource))?.role === role,
      timeoutMs,
      `${node} to become ${role} for ${resource}`,
    );
  }

  /** The pid of `node`'s live service of `resource`, or null. */
  servicePid(node: string, resource = this.resources[0]): number | null {
    let pid: number;
    try {
      pid = Number(Deno.readTextFileSync(`${this.dir}/svc-${node}-${resource}.pid`).trim());
    } catch {
      return null;
    }
    return pid > 0 && processAlive(pid) ? pid : null;
  }

  /** Nodes on which a service process of `resource` is alive right now. */
  runningNodes(resource = this.resources[0]): string[] {
    return this.nodes.map((n) => n.name).filter((n) => this.servicePid(n, resource) !== null);
  }

  /** Make `node`'s status hook hang (until killed) or behave again. */
  async hangStatus(node: string, hang: boolean): Promise<void> {
    const flag = `${this.dir}/hang-status-${node}`;
    if (hang) await Deno.writeTextFile(flag, "");
    else await Deno.remove(flag).catch(() => {});
  }

  /** Make `node`'s stop hook hang (until killed) without stopping anything, or behave again. */
  async hangStop(node: string, hang: boolean): Promise<void> {
    const flag = `${this.dir}/hang-stop-${node}`;
    if (hang) await Deno.writeTextFile(flag, "");
    else await Deno.remove(flag).catch(() => {});
  }

  /**
   * Make `node`'s start hook fail (exit 1) after it launched the service, or
   * not: a partial start that only a stop can undo.
   */
  async failStart(node: string, fail: boolean): Promise<void> {
    const flag = `${this.dir}/fail-start-${node}`;
    if (fail) await Deno.writeTextFile(flag, "");
    else await Deno.remove(flag).catch(() => {});
  }

  /** Make `node`'s start hook dawdle {@link SLOW_START_S} before it launches anything, or not. */
  async slowStart(node: string, slow: boolean): Promise<void> {
    const flag = `${this.dir}/slow-start-${node}`;
    if (slow) await Deno.writeTextFile(flag, "");
    else await Deno.remove(flag).catch(() => {});
  }

  /**
   * The parsed service timeline: the hook script's lines, and from each
   * daemon's own log the moment it decided to start (`spawn`, written before
   * the start hook is spawned), so that an overlap shorter than a spawn's
   * delay is not missed.
   */
  async timeline(): Promise<TimelineEvent[]> {
    const events = await readTimeline(this.timelinePath);
    for (const p of this.#procs.values()) {
      events.push(...spawnsInLog(p.spec.name, await this.log(p.spec.name)));
    }
    return events.sort((a, b) => a.t - b.t);
  }

  /** Throw if two nodes were ever active at once for one resource. */
  async assertNeverTwoActive(): Promise<void> {
    assertNeverTwoActive(await this.timeline());
  }

  /** The log of `node`'s daemon and guard. */
  async log(node: string): Promise<string> {
    return await Deno.readTextFile(this.#proc(node).logPath).catch(() => "");
  }

  /** Run `hastmon config check` for `node`; returns its output. */
  configCheck(node: string): Promise<CtlResult> {
    return this.hastmon("config", "check", "-c", this.configArg, "--node", node);
  }

  /** Print every log and the timeline (on failure). */
  async dumpDiagnostics(why: string): Promise<void> {
    const parts = [`==== ${why} (cluster ${this.dir})`];
    for (const p of this.#procs.values()) {
      const text = await this.log(p.spec.name);
      parts.push(`---- log of ${p.spec.name} (last 150 lines)`, tail(text, 150));
    }
    parts.push("---- timeline", formatTimeline(await this.timeline().catch(() => [])));
    console.error(parts.join("\n"));
  }

  /**
   * Tear down everything: the daemons, then every process that carries this
   * cluster's mark (guards, hooks, services), the relay, the temp directory.
   * Safe to call twice; never throws.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const p of this.#procs.values()) {
      if (!p.child) continue;
      try {
        Deno.kill(p.child.pid, "SIGKILL");
      } catch { /* gone */ }
      await p.child.status;
      p.child = null;
    }
    for (let round = 0; round < 50; round++) {
      const left = clusterProcesses(this.dir);
      if (left.length === 0) break;
      for (const pid of left) killQuietly(pid);
      await sleep(20);
    }
    const leaked = clusterProcesses(this.dir);
    await this.relay.close();
    if (leaked.length > 0) {
      console.error(`cluster ${this.dir}: processes survived SIGKILL: ${leaked.join(" ")}`);
    }
    if (!Deno.env.get("HASTMON_E2E_KEEP")) {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Run `fn` on a fresh cluster; afterwards check that no two nodes were ever
 * active at once, print the logs and the timeline if anything failed, and
 * tear the cluster down in every case.
 */
export async function withCluster(
  opts: ClusterOptions,
  fn: (c: TestCluster) => Promise<void>,
): Promise<void> {
  const c = await TestCluster.start(opts);
  try {
    await fn(c);
    await c.assertNeverTwoActive();
  } catch (e) {
    await c.dumpDiagnostics(`test failed: ${(e as Error).message.split("\n")[0]}`);
    throw e;
  } finally {
    await c.stop();
  }
}

/**
 * The guard process of the daemon `daemonPid`: its live child named "hastmon: guard" (once
 * started; before, `… guard …` or `… guard_main.ts …`), or null.
 */
export function guardOf(daemonPid: number): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== daemonPid || state === "Z") continue;
      const comm = Deno.readTextFileSync(`/proc/${e.name}/comm`).trim();
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      if (comm === "hastmon: guard" || /\bguard(_main\.ts)?\b/.test(cmdline)) return Number(e.name);
    } catch { /* gone meanwhile */ }
  }
  return null;
}

/** The takeover bound that `hastmon config check` prints for `primary → secondary`, in ms. */
export function takeoverBoundMs(checkOutput: string, primary: string, secondary: string): number {
  const header = checkOutput.split("\n").find((l) => /primary → secondary.*takeover/.test(l));
  if (!header) throw new Error(`no timing table in:\n${checkOutput}`);
  const columns = header.trim().split(/\s{2,}/);
  const col = columns.indexOf("takeover");
  const row = checkOutput.split("\n").find((l) =>
    l.trim().startsWith(`${primary} → ${secondary} `)
  );
  if (!row || col < 0) throw new Error(`no row ${primary} → ${secondary} in:\n${checkOutput}`);
  const cell = row.trim().split(/\s{2,}/)[col];
  const m = /^([\d.]+)s$/.exec(cell ?? "");
  if (!m) throw new Error(`takeover cell ${JSON.stringify(cell)} is not a duration`);
  return Number(m[1]) * 1000;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
/** A daemon's "starting (attempt …)" log lines as `spawn` timeline events. */
export function spawnsInLog(node: string, log: string): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  for (const m of log.matchAll(/^(\S+) \[INFO\] \[([^\]]+)\] starting \(attempt/gm)) {
    const t = Date.parse(m[1]);
    if (Number.isFinite(t)) out.push({ t, node, resource: m[2], kind: "spawn", detail: [] });
  }
  return out;
}

/** The port of the daemon's "listening on HOST:PORT" line, written to `logPath` after `offset`. */
async function listeningPort(logPath: string, offset: number): Promise<number> {
  const bytes = await Deno.readFile(logPath);
  const text = new TextDecoder().decode(bytes.subarray(offset));
  const m = /listening on 127\.0\.0\.\d+:(\d+)/.exec(text);
  if (!m) throw new Error(`${logPath}: no "listening on" line after the daemon started`);
  return Number(m[1]);
}

/** Write a new node key file (mode 0600, as `hastmon keygen` does); returns its public key. */
async function writeNodeKey(file: string): Promise<{ publicKey: string }> {
  const { file: bytes, publicKey } = await generateNodeKey();
  await Deno.writeFile(file, bytes, { mode: 0o600, createNew: true });
  return { publicKey };
}

/** Whether `pid` exists and is not a zombie (the one implementation, src/demo/procs.ts). */
export { processAlive };

/** Pids of live processes whose environment carries this cluster's mark. */
function clusterProcesses(dir: string): number[] {
  return markedProcesses(`${ENV_MARK}=${dir}`);
}

/** `date +%s.%N` format of a ms timestamp. */
function stamp(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${s}.${String(Math.round((ms - s * 1000) * 1e6)).padStart(9, "0")}`;
}

function tail(text: string, n: number): string {
  const lines = text.split("\n");
  return lines.slice(Math.max(0, lines.length - n - 1)).join("\n");
}

/** Sleep without leaving a timer behind. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The hook script: `svc.sh EVENT RESOURCE [args]`.
 *
 * - `start` notes `begin`, launches `sleep 1000` in a session of its own (so it
 *   outlives the hook and the daemon, as a real service does), waits for its
 *   pid file and notes `up`. A cancel (SIGTERM to the hook's group) is ignored
 *   from the launch until the pid file exists: it would otherwise leave a
 *   service that stop cannot see. While it runs, a marker holds its pid.
 * - `stop` first waits for a start still launching, then kills the service,
 *   waits until it is really gone (a zombie counts as gone) and notes `end`
 *   before removing the pid file (a stop killed in between leaves the file,
 *   and the retried stop notes the end again). With no pid file and no start
 *   launching, nothing runs: it notes `end none`.
 * - `status` exits 0 when the service runs, 1 when not, and hangs while the
 *   node's hang-status flag file exists; `stop` hangs (stopping nothing) while
 *   its hang-stop flag file exists.
 * - `connect`, `disconnect`, `role` (`role FROM TO`) and a secondary's
 *   `complain` (the watchdog's name) are noted.
 * - With the node's slow-start flag file, `start` sleeps {@link SLOW_START_S}
 *   after `begin`, before it launches anything; with its fail-start flag file
 *   it launches the service (or finds it running) and then exits 1.
 */
/**
 * `fence.sh NODE`: what a fence device does to a node, at once: its services
 * die (noted in the timeline) and its daemon with them.
 */
function fenceScript(dir: string): string {
  return `#!/bin/sh
D='${dir}'
n="$1"
[ -n "$n" ] || exit 2
for pf in "$D"/svc-"$n"-*.pid; do
  [ -s "$pf" ] || continue
  p=$(cat "$pf"); res=\${pf#"$D/svc-$n-"}; res=\${res%.pid}
  kill -KILL "$p" 2>/dev/null
  while [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do sleep 0.005; done
  echo "$(date +%s.%N) $n $res died fenced" >> "$D/timeline"
  rm -f "$pf"
done
[ -s "$D/$n.pid" ] && kill -KILL "$(cat "$D/$n.pid")" 2>/dev/null
exit 0
`;
}

/**
 * `panic.sh`: what a reboot does to the services of the node that runs it
 * (`HASTMON_NODE`): they die, noted in the timeline as `died panic`, and
 * `panic` itself is noted first. The daemon lives on (a test reads its log).
 */
function panicScript(dir: string): string {
  return `#!/bin/sh
D='${dir}'
n="\${HASTMON_NODE:?}"
echo "$(date +%s.%N) $n \${HASTMON_RESOURCE:-?} panic $$" >> "$D/timeline"
for pf in "$D"/svc-"$n"-*.pid; do
  [ -s "$pf" ] || continue
  p=$(cat "$pf"); res=\${pf#"$D/svc-$n-"}; res=\${res%.pid}
  kill -KILL "$p" 2>/dev/null
  while [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do sleep 0.005; done
  echo "$(date +%s.%N) $n $res died panic" >> "$D/timeline"
  : > "$pf"
done
exit 0
`;
}

function hookScript(dir: string): string {
  return `#!/bin/sh
D='${dir}'
node="\${HASTMON_NODE:?}"
res="$2"
pf="$D/svc-$node-$res.pid"
starting="$pf.starting"
note() { echo "$(date +%s.%N) $node $res $*" >> "$D/timeline"; }
# Few forks (a thousand resources probe and start at once on two cores): the builtins read
# the pid files and /proc, and an emptied file stands for a removed one. A process's state
# follows the last ") " of its stat line.
alive() { [ -n "$1" ] && read -r st 2>/dev/null < "/proc/$1/stat" || return 1; st=\${st##*) }; [ "\${st%% *}" != Z ]; }
running() { p=; [ -s "$pf" ] && read -r p < "$pf" && alive "$p"; }
case "$1" in
start)
  # The marker comes first: a stop that finds neither it nor a pid file ran before this begin.
  echo $$ > "$starting"
  # One clock reading per start (each is a process): "up" is stamped as of the begin, which
  # the checker never reads (it reads begin, end and died).
  at=$(date +%s.%N)
  echo "$at $node $res begin epoch=\${HASTMON_EPOCH:-?}" >> "$D/timeline"
  if [ -e "$D/slow-start-$node" ]; then note slow; sleep ${SLOW_START_S}; at=$(date +%s.%N); fi
  failed() { [ -e "$D/fail-start-$node" ] && note start-failed && : > "$starting" && exit 1; }
  if running; then echo "$at $node $res up $p already-running" >> "$D/timeline"; : > "$starting"; failed; exit 0; fi
  # The service is its own session (a stop of the hook's group leaves it alone); \$! is its
  # pid (setsid execs in place: a background child leads no group). A TERM between the
  # launch and the pid file would leave it unknown to the stop: ignored meanwhile.
  trap '' TERM
  setsid sleep 1000 </dev/null >/dev/null 2>&1 &
  p=\$!
  echo "$p" > "$pf"
  trap - TERM
  echo "$at $node $res up $p" >> "$D/timeline"
  : > "$starting"
  failed
  ;;
stop)
  if [ -e "$D/hang-stop-$node" ]; then note hang-stop $$; exec sleep 999; fi
  while [ ! -s "$pf" ] && read -r sp 2>/dev/null < "$starting" && alive "$sp"; do sleep 0.005; done
  if [ -s "$pf" ]; then
    read -r p < "$pf"
    kill -KILL "$p" 2>/dev/null
    while alive "$p"; do sleep 0.005; done
    note end "$p" "by=$HASTMON_ROLE"
    : > "$pf"
  else
    note end none "by=$HASTMON_ROLE"
  fi
  : > "$starting"
  ;;
status)
  if [ -e "$D/hang-status-$node" ]; then note hang $$; exec sleep 999; fi
  running || exit 1
  ;;
connect|disconnect)
  note "$1" "$3"
  ;;
role)
  note role "$3" "$4"
  ;;
complain)
  # A secondary's, for a complaint it counts: complain RESOURCE -- FROM REASON. (A watchdog's,
  # complain RESOURCE -- REASON, runs at every heartbeat while it complains: not noted.)
  [ "$HASTMON_ROLE" = secondary ] && note complain "$4"
  ;;
esac
exit 0
`;
}
