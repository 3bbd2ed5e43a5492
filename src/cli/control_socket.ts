/**
 * Where the daemon listens, and one connection to it, for the commands that
 * talk to it: `hastmon ctl …` and the Solaris scha_* commands. The two find
 * the socket in different orders, each documented in its help:
 *
 * - `ctl`: --socket, else `control` of this node in the configuration, else
 *   $HASTMON_CONTROL when there is no configuration file at all;
 * - scha_*: --socket, else $HASTMON_CONTROL (the daemon sets it for every
 *   hook, so a fault monitor started by `monitor_start` reaches the daemon
 *   that started it), else the configuration's `control`, else the built-in
 *   default.
 */
import { CliError, EX } from "./exit.ts";
import {
  ConfigFileError,
  configPath,
  formatDiagnostic,
  KEYS,
  loadConfig,
  parseControlAddress,
} from "../config/mod.ts";
import { describeSource } from "../config/checks.ts";
import { ControlClient, ControlClientError } from "../control/client.ts";

/** The options that choose the daemon: `-c`, `--node`, `--socket`. */
export interface SocketOptions {
  config?: string;
  node?: string;
  socket?: string;
}

/** Bound on connecting and, unless a request says otherwise, on each answer. */
export const CONTROL_TIMEOUT_MS = 10_000;

/** The control socket of a configuration that does not name one. */
export const DEFAULT_CONTROL = KEYS.find((k) => k.name === "control")!.default as string;

/** Why no socket path could be found: the message, and whether the configuration was unreadable or invalid. */
export class SocketPathError extends Error {
  constructor(message: string, readonly kind: "usage" | "no_input" | "config") {
    super(message);
    this.name = "SocketPathError";
  }
}

/**
 * `ctl`'s socket: --socket, else `control` of this node in the
 * configuration, else $HASTMON_CONTROL when no configuration file was named
 * and the default one does not exist. Throws a CliError with a sysexits code.
 */
export async function ctlSocketPath(opts: SocketOptions): Promise<string> {
  try {
    if (opts.socket !== undefined) return controlAddress(opts.socket, "--socket");
    const named = opts.config !== undefined || !!Deno.env.get("HASTMON_CONFIG");
    const fromEnv = Deno.env.get("HASTMON_CONTROL");
    const configured = await configuredSocket(opts);
    if (typeof configured === "string") return configured;
    if (!named && fromEnv) return controlAddress(fromEnv, "HASTMON_CONTROL");
    throw new SocketPathError(
      `${configured.message}; cannot tell where the daemon listens (give -c FILE or --socket PATH)`,
      "no_input",
    );
  } catch (e) {
    if (!(e instanceof SocketPathError)) throw e;
    const code = e.kind === "usage" ? EX.USAGE : e.kind === "no_input" ? EX.NOINPUT : EX.CONFIG;
    throw new CliError(e.message, code);
  }
}

/**
 * The scha_* commands' socket: --socket, else $HASTMON_CONTROL, else
 * `control` of this node in the configuration, else {@link DEFAULT_CONTROL}
 * when there is no configuration file. Throws a {@link SocketPathError}.
 */
export async function schaSocketPath(opts: SocketOptions): Promise<string> {
  if (opts.socket !== undefined) return controlAddress(opts.socket, "--socket");
  const fromEnv = Deno.env.get("HASTMON_CONTROL");
  if (fromEnv) return controlAddress(fromEnv, "HASTMON_CONTROL");
  const configured = await configuredSocket(opts);
  return typeof configured === "string" ? configured : DEFAULT_CONTROL;
}

/**
 * `control` of this node in the configuration, or why the file cannot be
 * read. A file with file-wide errors is refused: its `control` cannot be trusted.
 */
async function configuredSocket(opts: SocketOptions): Promise<string | ConfigFileError> {
  const file = configPath(opts.config);
  let loaded;
  try {
    loaded = await loadConfig(file, { node: opts.node });
  } catch (e) {
    if (e instanceof ConfigFileError) return e;
    throw e;
  }
  // Problems of single resources do not matter here, only node-wide values do.
  const fileErrors = loaded.errors.filter((e) => e.resource === undefined);
  if (loaded.config === null || fileErrors.length > 0) {
    throw new SocketPathError(
      `${file} is invalid, so the control socket is unknown (give --socket PATH):\n` +
        fileErrors.map((e) => `  ${formatDiagnostic(e)}`).join("\n"),
      "config",
    );
  }
  return loaded.config.global.control.path;
}

function controlAddress(text: string, where: string): string {
  const parsed = parseControlAddress(text);
  if (!parsed.ok) throw new SocketPathError(`${where}: ${parsed.error}`, "usage");
  return parsed.value.path;
}

/**
 * Connect to `path`, run `call`, close. A failure to connect or to get an
 * answer throws the ControlClientError (its message names the socket).
 */
export async function withClient<T>(
  path: string,
  call: (client: ControlClient) => Promise<T>,
): Promise<T> {
  let client: ControlClient | undefined;
  try {
    client = await ControlClient.connect(path, { timeoutMs: CONTROL_TIMEOUT_MS });
    return await call(client);
  } finally {
    await client?.close();
  }
}

/**
 * `ctl`: connect to its socket, run `call`, close; a failed connection or
 * answer becomes a CliError with its sysexits code (77 permission, 69 no
 * daemon or no answer in time, 70 a protocol error).
 */
export async function ctlAsk<T>(
  opts: SocketOptions,
  call: (client: ControlClient) => Promise<T>,
): Promise<T> {
  const path = await ctlSocketPath(opts);
  try {
    return await withClient(path, call);
  } catch (e) {
    if (!(e instanceof ControlClientError)) throw e;
    const code = e.kind === "permission"
      ? EX.NOPERM
      : e.kind === "no_daemon" || e.kind === "timeout" || e.kind === "closed"
      ? EX.UNAVAILABLE
      : EX.SOFTWARE;
    const hint = e.kind === "no_daemon" ? await unknownNodeHint(opts) : "";
    throw new CliError(e.message + hint, code);
  }
}

/**
 * Why the configuration's `control` may be the wrong socket: this node (from
 * the hostname, say) is none of the nodes the file names, so the socket is
 * the file's top-level or default one. "" when the file names this node, or
 * the socket did not come from the file.
 */
async function unknownNodeHint(opts: SocketOptions): Promise<string> {
  if (opts.socket !== undefined) return "";
  let cfg;
  try {
    cfg = (await loadConfig(configPath(opts.config), { node: opts.node })).config;
  } catch {
    return "";
  }
  if (cfg === null) return "";
  const known = [
    ...new Set([
      ...cfg.nodes.map((n) => n.node),
      ...cfg.resources.flatMap((r) => r.nodes.map((n) => n.node)),
    ]),
  ];
  if (known.length === 0 || known.includes(cfg.node)) return "";
  return ` This node is ${cfg.node} (${describeSource(cfg.nodeSource)}), which ${cfg.file} ` +
    `does not name (its nodes: ${known.join(", ")}): give --node NAME.`;
}
