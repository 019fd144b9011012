#!/bin/bash
# Boot the brig test guest with a virtio-net device on a TAP and play the host
# side of its net-* mode. Runs inside tests/net/with-tap-netns.sh, which provides
# the namespace, the TAP and the host address:
#
#   with-tap-netns.sh -- run-net-guest.sh [OPTION]... GUEST -- CMDLINE
#
#   GUEST            the test guest (PVH ELF for QEMU; brig takes either build)
#   CMDLINE          the guest command line, e.g. "mode=net-ping net.count=4"
#
# options:
#   --vmm qemu|brig  which VMM boots the guest (default qemu)
#   --brig PATH      brig's binary, for --vmm brig
#   --vmm-arg ARG    one more argument for the VMM's command line (repeatable),
#                    e.g. --vmm-arg --mem --vmm-arg 64 for brig
#   --mac MAC        the guest's MAC address (default 52:54:00:12:34:56)
#   --tap-fd         brig only: pass the TAP as an open fd (--net tap-fd=N, through
#                    pass-tap-fd.py), as an orchestrator does, instead of by name
#   --host SIDE      auto (default: from mode=), none, ping, udp-recv, udp-send
#   --expect LINE    LINE must appear as a whole line of the guest's serial
#                    output (repeatable)
#   --expect-host LINE
#                    LINE must appear as a whole line of the host side's output
#                    (repeatable; each host side also checks its own result)
#   --timeout SECS   stop the VMM after SECS seconds (default 30)
#
# The VMM commands (BRIG_TAP, BRIG_HOST_IP come from with-tap-netns.sh):
#   qemu: qemu-system-x86_64 -M microvm -m 128 -display none -serial stdio
#         -monitor none -no-reboot -global virtio-mmio.force-legacy=false
#         -kernel GUEST -append CMDLINE
#         -netdev tap,id=n0,ifname=$BRIG_TAP,script=no,downscript=no
#         -device virtio-net-device,netdev=n0,mac=MAC [VMM_ARG]...
#   brig: BRIG run --kernel GUEST --net tap-name=$BRIG_TAP,mac=MAC
#         --cmdline CMDLINE [VMM_ARG]...
#         (with --tap-fd: pass-tap-fd.py $BRIG_TAP -- BRIG run ... --net tap-fd=N,mac=MAC)
# Either must print the guest's serial output on stdout and exit when the guest
# powers off.
#
# Host sides, chosen by mode= with --host auto. Their parameters come from the
# guest command line (net.ip, net.peer, net.count, net.size, net.port,
# net.replies, with the guest's defaults), so the two sides always agree:
#   net-responder  ping: once the guest prints "net: responder listening ip=IP",
#                  ping -c REPLIES -i 0.2 -W 2 IP (busybox ping if there is no
#                  ping),
#                  up to 3 tries; "host: ping ok" when every request had a reply,
#                  else "host: ping failed"
#   net-udp-tx     udp-recv: a python3 receiver on BRIG_HOST_IP:PORT, bound
#                  before the VMM starts; checks every datagram (size, sequence
#                  number below COUNT, pattern) and prints
#                  "host: udp got N bad B" (N distinct good ones) when the VMM
#                  has exited; expects N = COUNT and B = 0
#   net-udp-rx     udp-send: a python3 sender bound to BRIG_HOST_IP:PORT waits
#                  for the guest's "ready" datagram ("host: udp ready from IP"),
#                  then sends datagrams 0..COUNT-1 to IP:PORT in paced rounds
#                  until the VMM exits ("host: udp sent COUNT rounds R")
#   anything else  none: the host kernel answers ARP and ping by itself
# For the UDP sides BRIG_HOST_IP must be the guest's net.peer.
#
# Output: the guest's serial output, then the host side's lines. Exit status: 0
# when the VMM exited by itself with status 0 and every expected line was seen;
# 1 when a line was missing, the host side failed or the VMM failed; 124 when the
# VMM had to be stopped; 2 on usage errors.

set -euo pipefail

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

complain() {
	echo "run-net-guest.sh: $*" >&2
}

vmm=qemu
brig=""
vmm_args=()
mac=52:54:00:12:34:56
tap_by_fd=0
host_side=auto
expected_lines=()
expected_host_lines=()
timeout_seconds=30

while [[ $# -gt 0 ]]; do
	case "$1" in
	--vmm) [[ $# -ge 2 ]] || usage; vmm=$2; shift 2 ;;
	--brig) [[ $# -ge 2 ]] || usage; brig=$2; shift 2 ;;
	--vmm-arg) [[ $# -ge 2 ]] || usage; vmm_args+=("$2"); shift 2 ;;
	--mac) [[ $# -ge 2 ]] || usage; mac=$2; shift 2 ;;
	--tap-fd) tap_by_fd=1; shift ;;
	--host) [[ $# -ge 2 ]] || usage; host_side=$2; shift 2 ;;
	--expect) [[ $# -ge 2 ]] || usage; expected_lines+=("$2"); shift 2 ;;
	--expect-host) [[ $# -ge 2 ]] || usage; expected_host_lines+=("$2"); shift 2 ;;
	--timeout) [[ $# -ge 2 ]] || usage; timeout_seconds=$2; shift 2 ;;
	-h|--help) usage ;;
	--*) complain "unknown option $1"; usage ;;
	*) break ;;
	esac
done
[[ $# -ge 2 && "$2" == "--" ]] || usage
guest=$1
shift 2
cmdline="$*"
[[ -f "$guest" ]] || { complain "no such guest: $guest"; exit 2; }
if [[ -z "${BRIG_TAP:-}" || -z "${BRIG_HOST_IP:-}" ]]; then
	complain "BRIG_TAP and BRIG_HOST_IP are not set: run me under tests/net/with-tap-netns.sh"
	exit 2
fi

# The value of the last NAME= word of the guest command line (the guest's rule), or DEFAULT.
option() {
	local name=$1 value=$2 word
	for word in $cmdline; do
		[[ "$word" == "$name="* ]] && value=${word#"$name="}
	done
	printf '%s\n' "$value"
}
mode=$(option mode info)
guest_ip=$(option net.ip 10.77.0.2)
peer_ip=$(option net.peer 10.77.0.1)
port=$(option net.port 5001)
count=$(option net.count 1000)
size=$(option net.size 1024)
replies=$(option net.replies 3)

if [[ "$host_side" == auto ]]; then
	case "$mode" in
	net-responder) host_side=ping ;;
	net-udp-tx) host_side=udp-recv ;;
	net-udp-rx) host_side=udp-send ;;
	*) host_side=none ;;
	esac
fi
case "$host_side" in
none | ping | udp-recv | udp-send) ;;
*) complain "unknown host side $host_side"; usage ;;
esac
# The UDP sides bind BRIG_HOST_IP and talk to the guest's net.peer: they must be one address.
if [[ "$host_side" == udp-* && "$peer_ip" != "$BRIG_HOST_IP" ]]; then
	complain "the guest's net.peer ($peer_ip) is not the host address ($BRIG_HOST_IP)"
	exit 2
fi

case "$vmm" in
qemu)
	command -v qemu-system-x86_64 >/dev/null || { complain "cannot run: qemu-system-x86_64 is not installed"; exit 1; }
	vmm_command=(qemu-system-x86_64 -M microvm -m 128 -display none -serial stdio -monitor none -no-reboot
		-global virtio-mmio.force-legacy=false -kernel "$guest" -append "$cmdline"
		-netdev "tap,id=n0,ifname=$BRIG_TAP,script=no,downscript=no"
		-device "virtio-net-device,netdev=n0,mac=$mac" "${vmm_args[@]}")
	;;
brig)
	[[ -n "$brig" ]] || { complain "--vmm brig needs --brig PATH"; exit 2; }
	[[ -x "$brig" ]] || { complain "not executable: $brig"; exit 2; }
	if [[ $tap_by_fd == 1 ]]; then
		vmm_command=("$(dirname "$0")/pass-tap-fd.py" "$BRIG_TAP" -- "$brig" run --kernel "$guest"
			--net "tap-fd={fd},mac=$mac" --cmdline "$cmdline" "${vmm_args[@]}")
	else
		vmm_command=("$brig" run --kernel "$guest" --net "tap-name=$BRIG_TAP,mac=$mac" --cmdline "$cmdline"
			"${vmm_args[@]}")
	fi
	;;
*) complain "unknown VMM $vmm"; usage ;;
esac

ping_command=()
if [[ "$host_side" == ping ]]; then
	if command -v ping >/dev/null; then
		ping_command=(ping)
	elif command -v busybox >/dev/null; then
		ping_command=(busybox ping)
	else
		complain "cannot run: neither ping nor busybox is installed"
		exit 1
	fi
fi
if [[ "$host_side" == udp-* ]] && ! command -v python3 >/dev/null; then
	complain "cannot run: python3 is not installed"
	exit 1
fi

work=$(mktemp -d)
serial=$work/serial
host_log=$work/host
: >"$serial"
: >"$host_log"
vmm_pid=""
helper_pid=""
printed=false
# Both outputs, once: at the end, or when the run is cut short (a harness timeout).
print_outputs() {
	[[ "$printed" == false ]] || return 0
	printed=true
	cat "$serial" "$host_log"
}
cleanup() {
	set +e
	[[ -z "$helper_pid" ]] || kill -KILL "$helper_pid" 2>/dev/null
	# timeout(1) passes the signal on to the VMM.
	[[ -z "$vmm_pid" ]] || kill -TERM "$vmm_pid" 2>/dev/null
	wait 2>/dev/null
	print_outputs
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Waits until FILE has LINE as a whole line; false when `pid` ended first or after SECS.
wait_for_line() {
	local file=$1 line=$2 seconds=$3 pid=$4
	local deadline=$((SECONDS + seconds))
	while ((SECONDS < deadline)); do
		if tr -d '\r' <"$file" | grep -qxF -- "$line"; then
			return 0
		fi
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			tr -d '\r' <"$file" | grep -qxF -- "$line"
			return
		fi
		sleep 0.05
	done
	return 1
}

# The receiver for net-udp-tx: distinct good datagrams and bad ones, reported after SIGTERM.
udp_receiver() {
	exec python3 - "$BRIG_HOST_IP" "$port" "$count" "$size" <<'PYTHON'
import signal, socket, struct, sys
host, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
stopping = False
def stop(*_):
    global stopping
    stopping = True
signal.signal(signal.SIGTERM, stop)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    # Room for every datagram even if this process falls behind (root may exceed rmem_max).
    sock.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_RCVBUFFORCE', 33), 64 << 20)
except OSError:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
sock.bind((host, port))
sock.settimeout(0.05)
print('host: udp listening', flush=True)
pattern = bytes(range(256)) * 8
seen, bad = set(), 0
def check(data):
    global bad
    if len(data) != size or size < 4:
        bad += 1
        return
    seq = struct.unpack_from('<I', data)[0]
    start = (seq + 4) & 0xff
    if seq >= count or data[4:] != pattern[start:start + size - 4]:
        bad += 1
        return
    seen.add(seq)
while not stopping:
    try:
        check(sock.recv(65536))
    except socket.timeout:
        pass
sock.setblocking(False)
while True:
    try:
        check(sock.recv(65536))
    except BlockingIOError:
        break
print('host: udp got %d bad %d' % (len(seen), bad), flush=True)
PYTHON
}

# The sender for net-udp-rx: waits for "ready", then rounds of datagrams 0..count-1 until SIGTERM.
udp_sender() {
	exec python3 - "$BRIG_HOST_IP" "$port" "$guest_ip" "$count" "$size" "$timeout_seconds" <<'PYTHON'
import signal, socket, struct, sys, time
host, port, guest, count, size, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
stopping = False
def stop(*_):
    global stopping
    stopping = True
signal.signal(signal.SIGTERM, stop)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((host, port))
sock.settimeout(0.05)
print('host: udp listening', flush=True)
deadline = time.monotonic() + timeout
while not stopping and time.monotonic() < deadline:
    try:
        data, source = sock.recvfrom(65536)
    except socket.timeout:
        continue
    if data == b'ready' and source[0] == guest:
        break
else:
    print('host: udp no ready from %s' % guest, flush=True)
    sys.exit(1)
print('host: udp ready from %s' % guest, flush=True)
pattern = bytes(range(256)) * 8
payloads = [struct.pack('<I', seq) + pattern[(seq + 4) & 0xff:((seq + 4) & 0xff) + size - 4] for seq in range(count)]
# Paced so that the guest's receive ring, the VMM and the TAP's queue keep up; the guest
# ignores duplicates, so later rounds only fill in what an earlier one lost.
BURST, PAUSE, GAP = 16, 0.002, 0.5
rounds = 0
while not stopping and time.monotonic() < deadline:
    rounds += 1
    for seq, payload in enumerate(payloads):
        if stopping:
            break
        try:
            sock.sendto(payload, (guest, port))
        except OSError:
            time.sleep(PAUSE)
        if seq % BURST == BURST - 1:
            time.sleep(PAUSE)
    end = time.monotonic() + GAP
    while not stopping and time.monotonic() < end:
        time.sleep(0.02)
print('host: udp sent %d rounds %d' % (count, rounds), flush=True)
PYTHON
}

host_status=0
case "$host_side" in
udp-recv)
	udp_receiver >>"$host_log" 2>&1 &
	helper_pid=$!
	expected_host_lines+=("host: udp got $count bad 0")
	;;
udp-send)
	udp_sender >>"$host_log" 2>&1 &
	helper_pid=$!
	expected_host_lines+=("host: udp ready from $guest_ip")
	;;
esac
if [[ -n "$helper_pid" ]] && ! wait_for_line "$host_log" "host: udp listening" 10 "$helper_pid"; then
	complain "the host side did not start:"
	cat "$host_log" >&2
	exit 1
fi

# Serial output goes to a file (printed at the end), so that nothing is still in a pipe when it is checked.
timeout "$timeout_seconds" "${vmm_command[@]}" </dev/null >"$serial" &
vmm_pid=$!

if [[ "$host_side" == ping ]]; then
	if wait_for_line "$serial" "net: responder listening ip=$guest_ip" "$timeout_seconds" "$vmm_pid"; then
		result="host: ping failed"
		for _ in 1 2 3; do
			ping_output=$("${ping_command[@]}" -c "$replies" -i 0.2 -W 2 "$guest_ip" 2>&1) || true
			printf '%s\n' "$ping_output" >>"$host_log"
			# iputils: "3 packets transmitted, 3 received"; busybox: "... 3 packets received".
			if grep -qE "^$replies packets transmitted, $replies (packets )?received" <<<"$ping_output"; then
				result="host: ping ok"
				break
			fi
			kill -0 "$vmm_pid" 2>/dev/null || break
		done
		echo "$result" >>"$host_log"
	else
		echo "host: ping not started: the guest never said it was listening" >>"$host_log"
	fi
	expected_host_lines+=("host: ping ok")
fi

set +e
wait "$vmm_pid"
vmm_status=$?
set -e
vmm_pid=""

if [[ -n "$helper_pid" ]]; then
	# Everything the guest sent is in the receiver's socket by now (the VMM has exited).
	kill -TERM "$helper_pid" 2>/dev/null || true
	set +e
	wait "$helper_pid"
	helper_status=$?
	set -e
	helper_pid=""
	# 143 is the sender stopped by that SIGTERM before it was done, which is fine.
	if [[ $helper_status -ne 0 && $helper_status -ne 143 ]]; then
		host_status=1
	fi
fi
print_outputs

status=0
if [[ $vmm_status -eq 124 ]]; then
	complain "$vmm did not exit within ${timeout_seconds}s"
	status=124
elif [[ $vmm_status -ne 0 ]]; then
	complain "$vmm failed with status $vmm_status"
	status=1
fi
if [[ $host_status -ne 0 && $status -eq 0 ]]; then
	complain "the host side failed"
	status=1
fi
serial_lines=$(tr -d '\r' <"$serial")
for line in "${expected_lines[@]}"; do
	if ! grep -qxF -- "$line" <<<"$serial_lines"; then
		complain "missing line: $line"
		[[ $status -ne 0 ]] || status=1
	fi
done
for line in "${expected_host_lines[@]}"; do
	if ! grep -qxF -- "$line" "$host_log"; then
		complain "missing host line: $line"
		[[ $status -ne 0 ]] || status=1
	fi
done
exit "$status"
