/**
 * The single-file launcher of `deno task build` where `deno compile` cannot
 * be used: a POSIX shell header followed by a gzip'd tar of a Deno binary and
 * the bundled program.
 *
 * On the first run the payload is copied out, its sha256 checked against the
 * one written in the header, unpacked into a fresh directory beside the cache
 * entry, tried, and only then renamed to `<cache>/<sha256>`: a cache entry
 * exists only complete and verified, and one whose copy was cut short or
 * damaged is refused before anything runs. Later runs find the entry and
 * `exec` Deno on the program at once (a few builtins, no fork). The program
 * runs in the caller's directory, so relative paths mean what the caller
 * means, and learns its own path from `HASTMON_SELF` to start its daemon and
 * guard again.
 */

/** Marks the end of the header; the payload starts on the next byte. */
const END_MARK = "#__HASTMON_PAYLOAD_BELOW__";
/** The payload offset is written with this many digits, so that the header's length is fixed. */
const OFFSET_DIGITS = 12;

/** What the header needs to know about the payload. */
export interface LauncherInfo {
  /** hex sha256 of the payload. */
  sha256: string;
  /** hastmon's version, for the header's comment. */
  version: string;
  /** Deno's version and platform of the payload, for the header's comment. */
  deno: string;
  platform: string;
  /** Deno options of every run (the daemon's V8 flags among them). */
  denoFlags: readonly string[];
}

/** The header for `info`, its last byte a newline; the payload follows it directly. */
export function launcherHeader(info: LauncherInfo): string {
  if (!/^[0-9a-f]{64}$/.test(info.sha256)) throw new Error(`not a sha256: ${info.sha256}`);
  for (const f of info.denoFlags) {
    if (!/^[\w=:,.-]+$/.test(f)) throw new Error(`Deno flag needs quoting: ${f}`);
  }
  const template = (offset: string) => headerText(info, offset);
  const length = new TextEncoder().encode(template("0".repeat(OFFSET_DIGITS))).length;
  // tail -c +N counts from 1.
  return template(String(length + 1).padStart(OFFSET_DIGITS, "0"));
}

function headerText(info: LauncherInfo, offset: string): string {
  return `#!/bin/sh
# hastmon ${info.version}: one file to copy to each node. This shell header unpacks
# the rest of the file (a gzip'd tar of Deno ${info.deno} for ${info.platform} and
# the bundled hastmon program) once into \${HASTMON_CACHE:-/var/cache/hastmon for
# root, else \${XDG_CACHE_HOME:-~/.cache}/hastmon}/<sha256>, after checking the
# sha256 below, and runs it from there. See docs/install.md.
set -eu
hastmon_sum=${info.sha256}
hastmon_offset=${offset}
case $0 in
/*) hastmon_self=$0 ;;
*) hastmon_self=$PWD/$0 ;;
esac
if [ -n "\${HASTMON_CACHE:-}" ]; then
  hastmon_cache=$HASTMON_CACHE
elif [ "$(id -u)" = 0 ]; then
  hastmon_cache=/var/cache/hastmon
else
  hastmon_cache=\${XDG_CACHE_HOME:-\${HOME:?hastmon: set HASTMON_CACHE or HOME}/.cache}/hastmon
fi
hastmon_dir=$hastmon_cache/$hastmon_sum

hastmon_fail() {
  echo "hastmon: $2" >&2
  exit "$1"
}

hastmon_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v sha256 >/dev/null 2>&1; then
    sha256 -q "$1"
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    hastmon_fail 69 "no sha256sum, sha256, shasum or openssl to check $hastmon_self with"
  fi
}

hastmon_unpack() {
  mkdir -p "$hastmon_cache" || hastmon_fail 73 "cannot create $hastmon_cache (set HASTMON_CACHE)"
  hastmon_tmp=$(mktemp -d "$hastmon_cache/.unpack.XXXXXX") ||
    hastmon_fail 73 "cannot write in $hastmon_cache (set HASTMON_CACHE)"
  trap 'rm -rf "$hastmon_tmp"' EXIT
  trap 'rm -rf "$hastmon_tmp"; exit 75' HUP INT TERM
  tail -c +$hastmon_offset "$0" >"$hastmon_tmp/payload" ||
    hastmon_fail 73 "cannot copy the payload into $hastmon_tmp (disk full?)"
  hastmon_got=$(hastmon_sha256 "$hastmon_tmp/payload")
  [ "$hastmon_got" = "$hastmon_sum" ] ||
    hastmon_fail 65 "$hastmon_self is damaged (payload sha256 $hastmon_got, expected $hastmon_sum): copy it again"
  (cd "$hastmon_tmp" && gzip -dc payload | tar -xf -) ||
    hastmon_fail 73 "cannot unpack into $hastmon_tmp (disk full?)"
  rm -f "$hastmon_tmp/payload"
  "$hastmon_tmp/deno" --version >/dev/null 2>&1 ||
    hastmon_fail 69 "cannot run $hastmon_tmp/deno (is $hastmon_cache mounted noexec, or is this file for another platform? set HASTMON_CACHE)"
  # A process that unpacked the same file meanwhile won: its entry is as good as ours.
  if [ ! -d "$hastmon_dir" ]; then
    mv "$hastmon_tmp" "$hastmon_dir" 2>/dev/null || true
    # Lost the race between the test and the rename: ours landed inside the winner's entry.
    rm -rf "$hastmon_dir/\${hastmon_tmp##*/}"
  fi
  rm -rf "$hastmon_tmp"
  trap - EXIT HUP INT TERM
  [ -x "$hastmon_dir/deno" ] && [ -f "$hastmon_dir/app.js" ] ||
    hastmon_fail 73 "$hastmon_dir is incomplete (not made by this launcher?): remove it"
  # Run the program once (its version) so that Deno parses its modules and caches what it
  # learns now: a process that parses them keeps the parser's memory (about 16 MB) for as long
  # as it lives, and the first run after an install may well be the daemon.
  HASTMON_SELF=$hastmon_self DENO_DIR=$hastmon_dir/deno_dir DENO_NO_UPDATE_CHECK=1 \\
    DENO_NO_PROMPT=1 "$hastmon_dir/deno" $hastmon_run "$hastmon_dir/app.js" --version \\
    >/dev/null 2>&1 || true
}

hastmon_run="run -A --no-config --no-remote --quiet ${info.denoFlags.join(" ")}"
if [ ! -x "$hastmon_dir/deno" ] || [ ! -f "$hastmon_dir/app.js" ]; then
  hastmon_unpack
fi
HASTMON_SELF=$hastmon_self DENO_DIR=$hastmon_dir/deno_dir DENO_NO_UPDATE_CHECK=1 \\
  DENO_NO_PROMPT=1 exec "$hastmon_dir/deno" $hastmon_run "$hastmon_dir/app.js" "$@"
${END_MARK}
`;
}
