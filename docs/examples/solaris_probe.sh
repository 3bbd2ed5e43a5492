#!/bin/sh
#
# solaris_probe.sh: a fault monitor as written for Sun Cluster / Oracle
# Solaris Cluster. Its MONITOR_START method starts it (usually under PMF),
# its MONITOR_STOP method kills it. It runs unchanged under hastmon, where
# monitor_start and monitor_stop do the same, once `hastmon scha-links`
# has put scha_control, scha_resource_get and scha_resource_setstatus on
# PATH or in /usr/cluster/bin (docs/SCHA.md).
#
# Usage: solaris_probe.sh -R resource -G group [-T type] -- probe-command [arg ...]
#
# Every Thorough_probe_interval seconds it runs the probe command: exit 0 is
# healthy. After a failure it asks for a restart of its resource
# (RESOURCE_RESTART) while the restarts within Retry_interval are fewer than
# Retry_count, else for a giveover of the whole group (GIVEOVER). The RGM
# counts the restarts (NUM_RESOURCE_RESTARTS), not this script: a restart
# stops this monitor and starts a new one, which would forget any count of
# its own. Health is reported with scha_resource_setstatus.
#
# A RESOURCE_RESTART or GIVEOVER that is carried out stops this monitor
# (MONITOR_STOP) before scha_control returns: being killed is the normal end
# of a successful request, so nothing after those calls is needed for it.
# TERM is deliberately not trapped: the shell would run a trap only after
# the scha_control it waits for returns, which waits for this monitor to stop.
#
# Written for the Bourne shell of Solaris 10 (backquotes, expr, no local).
# Messages go to standard error; PMF or the monitor_start method decides
# where that ends up (use logger -p daemon.notice for syslog).

PATH=/usr/cluster/bin:$PATH
export PATH

RESOURCE=
GROUP=
TYPE=
while getopts R:G:T: opt; do
	case $opt in
	R) RESOURCE=$OPTARG ;;
	G) GROUP=$OPTARG ;;
	T) TYPE=$OPTARG ;;
	*) echo "usage: $0 -R resource -G group [-T type] -- probe-command [arg ...]" >&2; exit 2 ;;
	esac
done
shift `expr $OPTIND - 1`
if [ -z "$RESOURCE" ] || [ -z "$GROUP" ] || [ $# -eq 0 ]; then
	echo "usage: $0 -R resource -G group [-T type] -- probe-command [arg ...]" >&2
	exit 2
fi

log() {
	echo "`date '+%Y-%m-%d %H:%M:%S'` solaris_probe[$$] $GROUP/$RESOURCE: $*" >&2
}

# A property of this resource, or the end of this monitor: without them it
# cannot judge anything.
property() {
	value=`scha_resource_get -O "$1" -R "$RESOURCE" -G "$GROUP"`
	rc=$?
	if [ $rc -ne 0 ]; then
		log "scha_resource_get -O $1: exit $rc; the monitor quits"
		exit 1
	fi
	echo "$value"
}

setstatus() {
	scha_resource_setstatus -R "$RESOURCE" -G "$GROUP" -s "$1" -m "$2"
	rc=$?
	[ $rc -eq 0 ] || log "scha_resource_setstatus -s $1: exit $rc (unexpected)"
}

RETRY_COUNT=`property RETRY_COUNT` || exit 1
RETRY_INTERVAL=`property RETRY_INTERVAL` || exit 1
PROBE_INTERVAL=`property THOROUGH_PROBE_INTERVAL` || exit 1
log "started (type ${TYPE:-unknown}): probe every ${PROBE_INTERVAL}s, $RETRY_COUNT restarts per ${RETRY_INTERVAL}s, then giveover"

healthy=unknown
while :; do
	sleep "$PROBE_INTERVAL"
	if "$@" >/dev/null 2>&1; then
		if [ "$healthy" != yes ]; then
			setstatus OK "probe passed"
			healthy=yes
		fi
		continue
	fi
	healthy=no
	restarts=`property NUM_RESOURCE_RESTARTS` || exit 1
	if [ "$restarts" -lt "$RETRY_COUNT" ]; then
		log "probe failed; RESOURCE_RESTART (restart `expr $restarts + 1` of $RETRY_COUNT in ${RETRY_INTERVAL}s)"
		setstatus DEGRADED "probe failed; restarting"
		scha_control -O RESOURCE_RESTART -G "$GROUP" -R "$RESOURCE"
		rc=$?
		# Only a monitor that was not stopped gets here.
		case $rc in
		0) log "scha_control RESOURCE_RESTART: exit 0 (restarted)" ;;
		5) log "scha_control RESOURCE_RESTART: exit 5 (SCHA_ERR_RECONF: busy, next probe retries)" ;;
		16) log "scha_control RESOURCE_RESTART: exit 16 (SCHA_ERR_CHECKS: not allowed now)"
		    setstatus FAULTED "restart refused" ;;
		*) log "scha_control RESOURCE_RESTART: exit $rc (unexpected)" ;;
		esac
	else
		log "probe failed after $restarts restarts in ${RETRY_INTERVAL}s; GIVEOVER"
		setstatus FAULTED "probe failed; giving the group over"
		scha_control -O GIVEOVER -G "$GROUP" -R "$RESOURCE"
		rc=$?
		case $rc in
		0) log "scha_control GIVEOVER: exit 0 (the group runs elsewhere)" ;;
		5) log "scha_control GIVEOVER: exit 5 (SCHA_ERR_RECONF: busy, next probe retries)" ;;
		16) log "scha_control GIVEOVER: exit 16 (SCHA_ERR_CHECKS: no node may take the group; probing on)"
		    setstatus FAULTED "giveover refused: no node may take the group" ;;
		*) log "scha_control GIVEOVER: exit $rc (unexpected)" ;;
		esac
	fi
done
