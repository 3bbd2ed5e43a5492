/** Where a daemon's control socket is, for the commands that talk to daemons (ctl, tui). */
import { CliError, EX } from "./exit.ts";
import {
  ConfigFileError,
  configPath,
  formatDiagnostic,
  loadConfig,
  parseControlAddress,
} from "../config/mod.ts";

/** The options that name a daemon. */
export interface SocketOptions {
  config?: string;
  node?: string;
  socket?: string;
}

/**
 * Where the daemon listens: --socket, else `control` of this node in the
 * configuration, else $HASTMON_CONTROL when no configuration file was named
 * and the default one does not exist.
 */
export async function socketPath(opts: SocketOptions): Promise<string> {
  if (opts.socket !== undefined) return controlAddress(opts.socket, "--socket");
  const named = opts.config !== undefined || !!Deno.env.get("HASTMON_CONFIG");
  const file = configPath(opts.config);
  const fromEnv = Deno.env.get("HASTMON_CONTROL");
  let loaded;
  try {
    loaded = await loadConfig(file, { node: opts.node });
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    if (!named && fromEnv) return controlAddress(fromEnv, "HASTMON_CONTROL");
    throw new CliError(
      `${e.message}; cannot tell where the daemon listens (give -c FILE or --socket PATH)`,
      EX.NOINPUT,
    );
  }
  // Node-wide values, `control` among them, are only trusted in a file without
  // file-wide errors; problems of single resources do not matter here.
  const fileErrors = loaded.errors.filter((e) => e.resource === undefined);
  if (loaded.config === null || fileErrors.length > 0) {
    throw new CliError(
      `${file} is invalid, so the control socket is unknown (give --socket PATH):\n` +
        fileErrors.map((e) => `  ${formatDiagnostic(e)}`).join("\n"),
      EX.CONFIG,
    );
  }
  return loaded.config.global.control.path;
}

/** A `control` address as given on the command line or in the environment; bad ones are usage errors. */
export function controlAddress(text: string, where: string): string {
  const parsed = parseControlAddress(text);
  if (!parsed.ok) throw new CliError(`${where}: ${parsed.error}`, EX.USAGE);
  return parsed.value.path;
}
