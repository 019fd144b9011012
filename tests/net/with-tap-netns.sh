#!/bin/bash
# Run a command in a fresh network namespace that holds one TAP device.
#
# usage: with-tap-netns.sh [--host-ip ADDR/PREFIX] [--tap NAME] -- COMMAND [ARG]...
#
#   --host-ip ADDR/PREFIX   the host side's address on the TAP (default 10.77.0.1/24)
#   --tap NAME              the TAP device's name (default brigtap0)
#
# As root: creates a network namespace with a unique name (brig-net-PID-RANDOM),
# a persistent TAP device in it (ip -n NS tuntap add dev NAME mode tap), gives
# the TAP the host address, sets it and lo up, and runs COMMAND inside the
# namespace (ip netns exec) with
#
#   BRIG_NETNS    the namespace's name
#   BRIG_TAP      the TAP device's name
#   BRIG_HOST_IP  the host address without the prefix length (10.77.0.1)
#
# in its environment. The TAP stays down for traffic until a VMM opens it
# (no carrier before that). On every way out (COMMAND's end, an error, SIGINT,
# SIGTERM) whatever still runs in the namespace is stopped, the TAP and the
# namespace are deleted. Nothing here touches the root namespace's interfaces:
# every ip command is aimed at the new namespace.
#
# Exit status: COMMAND's; 1 when the namespace cannot be made (not root, no ip,
# no /dev/net/tun: a test that cannot run fails, with one line saying why);
# 2 on usage errors.

set -euo pipefail

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

fail() {
	echo "with-tap-netns.sh: $*" >&2
	exit 1
}

host_cidr=10.77.0.1/24
tap=brigtap0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--host-ip) [[ $# -ge 2 ]] || usage; host_cidr=$2; shift 2 ;;
	--tap) [[ $# -ge 2 ]] || usage; tap=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) echo "with-tap-netns.sh: unknown argument $1" >&2; usage ;;
	esac
done
[[ $# -ge 1 ]] || usage
[[ "$host_cidr" == */* ]] || host_cidr="$host_cidr/24"
host_ip=${host_cidr%/*}
# Interface names are at most 15 bytes (IFNAMSIZ - 1) and have no '/' or spaces.
[[ "$tap" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || fail "bad TAP name: $tap"

command -v ip >/dev/null 2>&1 || fail "cannot run: ip (iproute2) is not installed"
[[ -c /dev/net/tun ]] || fail "cannot run: /dev/net/tun is missing (no TUN/TAP support)"
[[ $(id -u) -eq 0 ]] || fail "cannot run: creating network namespaces needs root"

netns="brig-net-$$-$RANDOM"
command_pid=""
cleaned=false

cleanup() {
	[[ "$cleaned" == false ]] || return 0
	cleaned=true
	set +e
	if [[ -n "$command_pid" ]] && kill -0 "$command_pid" 2>/dev/null; then
		kill -TERM "$command_pid" 2>/dev/null
		wait "$command_pid" 2>/dev/null
	fi
	if ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$netns"; then
		# Anything COMMAND left behind in the namespace (a VMM holding the TAP, a helper).
		local pids
		pids=$(ip netns pids "$netns" 2>/dev/null)
		if [[ -n "$pids" ]]; then
			# shellcheck disable=SC2086  # one pid per word
			kill -KILL $pids 2>/dev/null
			sleep 0.1
		fi
		ip -n "$netns" tuntap del dev "$tap" mode tap >/dev/null 2>&1
		ip netns delete "$netns" 2>/dev/null || echo "with-tap-netns.sh: could not delete namespace $netns" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$netns" || fail "cannot create network namespace $netns"
ip -n "$netns" link set lo up
ip -n "$netns" tuntap add dev "$tap" mode tap || fail "cannot create TAP $tap in $netns"
ip -n "$netns" addr add "$host_cidr" dev "$tap" || fail "cannot give $tap the address $host_cidr"
ip -n "$netns" link set "$tap" up

export BRIG_NETNS="$netns" BRIG_TAP="$tap" BRIG_HOST_IP="$host_ip"

# In the background so that SIGTERM (a test harness's timeout) is handled at
# once rather than after COMMAND ends; its standard input is still ours.
exec 3<&0
ip netns exec "$netns" "$@" <&3 &
command_pid=$!
set +e
wait "$command_pid"
status=$?
set -e
command_pid=""
exit "$status"
