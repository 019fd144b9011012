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
#   --disk MIB       create a scratch disk image of MIB MiB (zeroes); @DISK@ in the
#                    QEMU args is replaced by its path
#   --disk-random    fill the scratch disk with random bytes instead
#   --expect-fnv1a64 SECTORS
#                    also expect "blk: fnv1a64=0x<16 hex>", the FNV-1a 64 of the
#                    first SECTORS sectors of the scratch disk (computed by python3)
#   --expect-pattern SEED SECTORS
#                    after the run, the scratch disk's first SECTORS sectors must
#                    hold mode=blk-write's pattern: (s*7 + i*13 + SEED) & 0xff
#   --capture        create an empty file; @CAPTURE@ in the QEMU args is replaced
#                    by its path (e.g. a chardev for a virtio console)
#   --expect-capture TEXT
#                    the captured file must hold exactly TEXT (printf %b escapes)
#
# QEMU runs as:
#   qemu-system-x86_64 -M microvm -m 128 -display none -serial stdio -monitor none
#       -no-reboot -global virtio-mmio.force-legacy=false
#       -kernel GUEST_ELF -append CMDLINE [QEMU_ARG]...
# -no-reboot turns every guest reset into a QEMU exit, so power off and all three
# reset paths end the run; a guest that hangs ends in a timeout. QEMU's
# virtio-mmio transports default to the legacy version 1 layout; the guest only
# drives version 2, as brig offers.
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
disk_mib=""
disk_random=false
fnv_sectors=""
pattern_seed=""
pattern_sectors=""
capture=false
expected_capture=""
expect_capture=false

while [[ $# -gt 0 ]]; do
	case "$1" in
	--expect) [[ $# -ge 2 ]] || usage; expected_lines+=("$2"); shift 2 ;;
	--input) [[ $# -ge 2 ]] || usage; input=$2; shift 2 ;;
	--timeout) [[ $# -ge 2 ]] || usage; timeout_seconds=$2; shift 2 ;;
	--allow-timeout) allow_timeout=true; shift ;;
	--disk) [[ $# -ge 2 ]] || usage; disk_mib=$2; shift 2 ;;
	--disk-random) disk_random=true; shift ;;
	--expect-fnv1a64) [[ $# -ge 2 ]] || usage; fnv_sectors=$2; shift 2 ;;
	--expect-pattern) [[ $# -ge 3 ]] || usage; pattern_seed=$2; pattern_sectors=$3; shift 3 ;;
	--capture) capture=true; shift ;;
	--expect-capture) [[ $# -ge 2 ]] || usage; expected_capture=$2; expect_capture=true; shift 2 ;;
	-h|--help) usage ;;
	--*) echo "run-in-qemu.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done

[[ $# -ge 1 ]] || usage
guest=$1
shift
[[ -f "$guest" ]] || { echo "run-in-qemu.sh: no such guest: $guest" >&2; exit 2; }

serial_output=$(mktemp)
disk_image=""
capture_file=""
trap 'rm -f "$serial_output" "$disk_image" "$capture_file"' EXIT

if [[ -n "$disk_mib" ]]; then
	disk_image=$(mktemp)
	if [[ "$disk_random" == true ]]; then
		head -c "$((disk_mib * 1024 * 1024))" /dev/urandom >"$disk_image"
	else
		truncate -s "${disk_mib}M" "$disk_image"
	fi
fi
if [[ "$capture" == true ]]; then
	capture_file=$(mktemp)
fi

qemu_args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
	arg=${1//@DISK@/$disk_image}
	qemu_args+=("${arg//@CAPTURE@/$capture_file}")
	shift
done
[[ $# -ge 1 ]] || usage   # the -- before CMDLINE is required, even for an empty one
shift
cmdline="$*"

# The host side of mode=blk-checksum: FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3).
fnv1a64_line() {
	python3 - "$disk_image" "$1" <<'PYTHON'
import sys
with open(sys.argv[1], 'rb') as disk:
    data = disk.read(int(sys.argv[2]) * 512)
h = 0xcbf29ce484222325
for byte in data:
    h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
print('blk: fnv1a64=0x%016x' % h)
PYTHON
}

# The host side of mode=blk-write: byte (sector s, offset i) = (s*7 + i*13 + seed) & 0xff.
check_pattern() {
	python3 - "$disk_image" "$1" "$2" <<'PYTHON'
import sys
seed, sectors = int(sys.argv[2], 0), int(sys.argv[3])
with open(sys.argv[1], 'rb') as disk:
    data = disk.read(sectors * 512)
for s in range(sectors):
    for i in range(512):
        if data[s * 512 + i] != (s * 7 + i * 13 + seed) & 0xff:
            sys.exit('pattern differs at sector %d offset %d' % (s, i))
PYTHON
}

if [[ -n "$fnv_sectors" ]]; then
	[[ -n "$disk_image" ]] || { echo "run-in-qemu.sh: --expect-fnv1a64 needs --disk" >&2; exit 2; }
	expected_lines+=("$(fnv1a64_line "$fnv_sectors")")
fi

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
	-global virtio-mmio.force-legacy=false \
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
if [[ -n "$pattern_seed" ]]; then
	if ! check_pattern "$pattern_seed" "$pattern_sectors"; then
		echo "run-in-qemu.sh: the disk does not hold the blk-write pattern" >&2
		[[ $status -ne 0 ]] || status=1
	fi
fi
if [[ "$expect_capture" == true ]]; then
	if [[ "$(cat "$capture_file"; echo x)" != "$(printf '%b' "$expected_capture"; echo x)" ]]; then
		echo "run-in-qemu.sh: captured file differs; it holds:" >&2
		cat -A "$capture_file" >&2
		[[ $status -ne 0 ]] || status=1
	fi
fi
exit "$status"
