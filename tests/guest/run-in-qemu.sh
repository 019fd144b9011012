#!/bin/bash
# Boot the brig test guest in QEMU: the reference behaviour for brig's tests.
#
# usage: run-in-qemu.sh [OPTION]... GUEST_ELF [QEMU_ARG]... -- CMDLINE
#
#   GUEST_ELF        the PVH kernel built by tests/guest/meson.build
#   QEMU_ARG...      added after the defaults, e.g. -smp 2, -device i8042
#   CMDLINE          the guest command line, e.g. mode=info (may be empty)
#
# options:
#   --expect LINE    LINE must appear as a whole line of serial output (repeatable)
#   --input TEXT     send TEXT (printf %b escapes such as \n allowed) to COM1
#   --timeout SECS   kill QEMU after SECS seconds (default 20)
#   --allow-timeout  a timeout is not a failure (for mode=spin and mode=panic)
#
# QEMU runs as:
#   qemu-system-x86_64 -M microvm -m 128 -display none -serial stdio -monitor none
#       -no-reboot -kernel GUEST_ELF -append CMDLINE [QEMU_ARG]...
# -no-reboot turns every guest reset into a QEMU exit, so power off and all three
# reset paths end the run; a guest that hangs ends in a timeout.
#
# Serial output is copied to stdout. Exit status: 0 when QEMU exited by itself (or
# timed out with --allow-timeout) and every --expect line was seen; 1 when a line
# was missing or QEMU failed; 124 on an unexpected timeout; 2 on usage errors.

set -euo pipefail

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

timeout_seconds=20
allow_timeout=false
input=""
expected_lines=()

while [[ $# -gt 0 ]]; do
	case "$1" in
	--expect) [[ $# -ge 2 ]] || usage; expected_lines+=("$2"); shift 2 ;;
	--input) [[ $# -ge 2 ]] || usage; input=$2; shift 2 ;;
	--timeout) [[ $# -ge 2 ]] || usage; timeout_seconds=$2; shift 2 ;;
	--allow-timeout) allow_timeout=true; shift ;;
	-h|--help) usage ;;
	--*) echo "run-in-qemu.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done

[[ $# -ge 1 ]] || usage
guest=$1
shift
[[ -f "$guest" ]] || { echo "run-in-qemu.sh: no such guest: $guest" >&2; exit 2; }

qemu_args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
	qemu_args+=("$1")
	shift
done
[[ $# -ge 1 ]] || usage   # the -- before CMDLINE is required, even for an empty one
shift
cmdline="$*"

serial_output=$(mktemp)
trap 'rm -f "$serial_output"' EXIT

# QEMU only takes a byte when the guest's UART has room, so input sent early
# waits in the pipe rather than being lost.
feed_input() {
	if [[ -n "$input" ]]; then
		printf '%b' "$input"
	fi
}

set +e
feed_input | timeout "$timeout_seconds" qemu-system-x86_64 \
	-M microvm -m 128 -display none -serial stdio -monitor none -no-reboot \
	-kernel "$guest" -append "$cmdline" "${qemu_args[@]}" | tee "$serial_output"
qemu_status=${PIPESTATUS[1]}
set -e

status=0
if [[ $qemu_status -eq 124 ]]; then
	if [[ "$allow_timeout" != true ]]; then
		echo "run-in-qemu.sh: QEMU did not exit within ${timeout_seconds}s" >&2
		status=124
	fi
elif [[ $qemu_status -ne 0 ]]; then
	echo "run-in-qemu.sh: QEMU failed with status $qemu_status" >&2
	status=1
fi

# Match on whole lines; a guest may end lines with \r\n.
serial_lines=$(tr -d '\r' <"$serial_output")
for line in "${expected_lines[@]}"; do
	if ! grep -qxF -- "$line" <<<"$serial_lines"; then
		echo "run-in-qemu.sh: missing line: $line" >&2
		[[ $status -ne 0 ]] || status=1
	fi
done
exit "$status"
