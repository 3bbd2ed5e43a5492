/**
 * The service files `deno task build` writes beside the executable: a systemd
 * unit and a FreeBSD-style rc.d script. Both run `hastmon daemon`, reload with
 * SIGHUP and stop with SIGTERM, which stops or hands over what the node runs
 * as primary before the daemon exits (PRODUCT.md §3.6), so both give that
 * time to finish.
 */

/** Where the files of an installed node go (docs/install.md). */
export interface InstallPaths {
  /** The executable. */
  bin: string;
  /** The configuration file. */
  config: string;
  /** The launcher's cache (unpacked Deno and program), root's own. */
  cache: string;
}

/** The layout docs/install.md describes. */
export const DEFAULT_INSTALL: InstallPaths = {
  bin: "/usr/local/sbin/hastmon",
  config: "/usr/local/etc/hastmon.toml",
  cache: "/var/cache/hastmon",
};

/**
 * The daemon's own bound on a SIGTERM shutdown, with the defaults
 * (stop_timeout 5 s, hook_timeout 60 s): twice the stop plus the longest hook
 * (src/daemon/daemon.ts `shutdown`), then it exits and leaves the rest to its
 * guard. The unit waits longer than that before it kills anything.
 */
export const STOP_TIMEOUT_SEC = 90;

/** The systemd unit. */
export function systemdUnit(p: InstallPaths = DEFAULT_INSTALL): string {
  return `# hastmon: keeps a service running on exactly one node of a cluster.
# Installed as /etc/systemd/system/hastmon.service; see docs/install.md.
[Unit]
Description=hastmon failover monitor
Wants=network-online.target
After=network-online.target
ConditionPathExists=${p.config}

[Service]
Type=exec
# Foreground, logging to standard error (the journal). The pidfile is still
# taken: it is the lock that keeps a second daemon from starting by hand.
ExecStart=${p.bin} daemon -F -c ${p.config} -P /run/hastmon/hastmon.pid
# SIGHUP reloads the configuration; a bad file keeps the old one and says why.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to the daemon alone: it stops or hands over what it runs as primary
# (its stop hooks run to completion), then exits 0. KillMode=process leaves
# its guard, its hooks and the services they started alone meanwhile; should
# the daemon itself die, its guard stops whatever the daemon left armed, so no
# one must kill them from outside. The daemon's own bound on a shutdown is
# 2 x stop_timeout + max(hook_timeout, start_timeout) (70 s with the
# defaults): raise TimeoutStopSec above that if you raise those.
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=${STOP_TIMEOUT_SEC}
Restart=on-failure
RestartSec=2
# Roles, epochs and counters; set state_dir = "/var/lib/hastmon" in the
# configuration of Linux nodes (the default, /var/db/hastmon, is BSD's).
StateDirectory=hastmon
StateDirectoryMode=0700
RuntimeDirectory=hastmon
CacheDirectory=hastmon
# The single-file launcher unpacks Deno and the program here once per version.
Environment=HASTMON_CACHE=${p.cache}
# Hooks start and stop arbitrary services, so no sandboxing options here.

[Install]
WantedBy=multi-user.target
`;
}

/** The rc.d script for FreeBSD-style init (rc.subr). */
export function rcScript(p: InstallPaths = DEFAULT_INSTALL): string {
  return `#!/bin/sh
#
# hastmon: keeps a service running on exactly one node of a cluster.
# Installed as /usr/local/etc/rc.d/hastmon; see docs/install.md.
#
# PROVIDE: hastmon
# REQUIRE: NETWORKING syslogd
# KEYWORD: shutdown
#
# Add to /etc/rc.conf:
#   hastmon_enable="YES"
#   hastmon_config="${p.config}"       # optional
#   hastmon_flags=""                  # optional, e.g. "--node alpha"
#   hastmon_cache="${p.cache}"      # optional: where the launcher unpacks itself

. /etc/rc.subr

name=hastmon
rcvar=hastmon_enable
desc="hastmon failover monitor"

load_rc_config $name

: \${hastmon_enable:=NO}
: \${hastmon_config:=${p.config}}
: \${hastmon_pidfile:=/var/run/hastmon.pid}
: \${hastmon_cache:=${p.cache}}

command=${p.bin}
# The daemon renames itself "hastmon: <node> ..."; rc.subr matches "hastmon:".
procname=${p.bin}
pidfile=\${hastmon_pidfile}
required_files=\${hastmon_config}
# Backgrounds itself once its control socket answers; errors exit non-zero here.
command_args="daemon -c \${hastmon_config} -P \${hastmon_pidfile}"
hastmon_env="HASTMON_CACHE=\${hastmon_cache}"
extra_commands=reload
sig_reload=HUP
# SIGTERM stops or hands over what this node runs as primary, then the
# daemon exits; rc.subr waits for it. At system shutdown rcshutdown_timeout
# (/etc/rc.conf) bounds the wait: keep it above 2 x stop_timeout +
# max(hook_timeout, start_timeout).
sig_stop=TERM

run_rc_command "$1"
`;
}
