/**
 * `hastmon daemon`'s options read without the command line's parser.
 *
 * The daemon runs for months; commander, and the Node modules it loads
 * (`node:module`, `node:fs`, `node:child_process`), cost it about 5 MB it
 * never uses again (docs/BENCHMARKS.md, "Idle"). So main.ts starts the daemon
 * straight from its options when they come in the plain forms below, and
 * leaves everything else (`--help`, a mistake, an unusual spelling) to the
 * command line, which explains it as for any command. commander's definition
 * in daemon.ts stays the one users read; daemon_args_test.ts checks that both
 * read every plain form alike and that no option is known to one only.
 */
import { LOG_FORMATS, type LogFormat } from "../daemon/log.ts";

/** The options of `hastmon daemon`, as commander gives them (daemon.ts). */
export interface DaemonOptions {
  config?: string;
  debug: number | true;
  foreground?: true;
  pidfile?: string;
  node?: string;
  log?: string;
  logFormat?: LogFormat;
}

/** Where the daemon's pidfile goes by default. */
export const DEFAULT_PIDFILE = "/var/run/hastmon.pid";

type ValueKey = "config" | "pidfile" | "node" | "log" | "logFormat";

/** Each option by its long name: what it sets, and its short letter. */
export const PLAIN_DAEMON_OPTIONS: Readonly<
  Record<string, { short?: string; key: ValueKey | "debug" | "foreground" }>
> = {
  config: { short: "c", key: "config" },
  debug: { short: "d", key: "debug" },
  foreground: { short: "F", key: "foreground" },
  pidfile: { short: "P", key: "pidfile" },
  node: { key: "node" },
  log: { key: "log" },
  "log-format": { key: "logFormat" },
};

/**
 * The options in `args` (what follows `daemon`), or null unless every one of
 * them is plain: `-c FILE`, `--config FILE` or `--config=FILE` (likewise
 * `-P`/`--pidfile`, `--node`, `--log`, `--log-format` with a known format);
 * `-d`, `-F`, `--debug`, `--foreground`, and `-dF`-style groups of those two.
 * A value that is empty or starts with `-` is not plain.
 */
export function parsePlainDaemonArgs(args: readonly string[]): DaemonOptions | null {
  const opts: DaemonOptions = { debug: 0, logFormat: "text" };
  const byShort = new Map(
    Object.values(PLAIN_DAEMON_OPTIONS).flatMap((o) => o.short ? [[o.short, o.key]] : []),
  );
  const set = (key: ValueKey, value: string | undefined): boolean => {
    if (value === undefined || value === "" || value.startsWith("-")) return false;
    if (key === "logFormat") {
      if (!(LOG_FORMATS as readonly string[]).includes(value)) return false;
      opts.logFormat = value as LogFormat;
    } else opts[key] = value;
    return true;
  };
  const flag = (key: string): boolean => {
    if (key === "debug") opts.debug = (opts.debug as number) + 1;
    else if (key === "foreground") opts.foreground = true;
    else return false;
    return true;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const known = Object.hasOwn(PLAIN_DAEMON_OPTIONS, name) ? PLAIN_DAEMON_OPTIONS[name] : null;
      if (known === null) return null;
      if (known.key === "debug" || known.key === "foreground") {
        if (eq >= 0 || !flag(known.key)) return null;
      } else if (!set(known.key, eq < 0 ? args[++i] : arg.slice(eq + 1))) return null;
    } else if (/^-[A-Za-z]+$/.test(arg)) {
      const letters = arg.slice(1);
      const first = byShort.get(letters[0]);
      if (
        letters.length === 1 && first !== undefined && first !== "debug" && first !== "foreground"
      ) {
        if (!set(first, args[++i])) return null;
      } else if (![...letters].every((l) => flag(byShort.get(l) ?? ""))) return null;
    } else return null;
  }
  return opts;
}
