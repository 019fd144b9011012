#!/usr/bin/env python3
"""Soak: N VMs at once for M minutes, under faults injected at seeded random times,
every outcome checked (issue 13, "Scale and faults").

usage: bench/soak.py [--vms N] [--minutes M] [--build DIR] [--seed S]
                     [--jail-ids FIRST-LAST] [--fault-rate P] [--log-dir DIR] [--verbose]
       bench/soak.py --ci      # 4 VMs for 75 s, every fault kind at least once

Each of N slots runs one VM after another until the time is up. Every VM has the
serial console, two disks, virtio-rng, a virtio console (to a file), virtio-net on
a TAP and virtio-vsock, every device jailed (brig's default) with a uid of its own
from --jail-ids. Each slot has a network namespace of its own with its TAP and the
host address (10.77.0.1/24) in it, as tests/net/with-tap-netns.sh makes them: brig
runs inside it (ip netns exec), and no packet leaves it. Each VM runs one of the
test guest's I/O modes (tests/guest/README.md), picked from the seed, and this
script plays its host side (a UDP sink, vsock echo server, sink and feeder).

Faults, each on one VM at a random time while its guest is busy, and what must follow:
  kill-device      kill -9 of one device: brig exits 33, its last line and its
                   --failure-file record name that device and its pid
  stop-cont        SIGSTOP, then SIGCONT, of brig or of a device (1 to 3 times;
                   a device for at most 0.4 s, under brig's 1 s answer deadline):
                   the guest finishes its mode and powers off, exit 0
  kill-brig        kill -9 of brig: its devices die with it, and nothing is left
                   (no process, no uid or image lock, no cgroup, no file but the
                   vsock socket, which brig leaves by design)
  full-disk        the second disk's image on a 2 MiB tmpfs of the run's own, filled
                   up mid-run (guest mode blk-write-log): the guest gets IOERR
                   ("blk: write failed status=1"), brig stays up, exit 0
  tap-removed      ip link del of the TAP in the VM's namespace mid-stream (guest
                   mode net-udp-tx): the device drops what the guest sends (and logs
                   "TAP read: ...; receiving stops" once it reads the dead TAP, which
                   is counted), the guest finishes, brig stays up, exit 0
  vsock-peer-gone  the host side of a vsock stream closes mid-stream (vsock-send or
                   vsock-recv): the guest says "ended early", brig stays up, exit 0

After every VM: none of its devices is left (no orphan, no zombie), its uid locks
(/run/brig/ids) and image locks are free, brig had no more fds or memfds just before
it exited than when the guest started, no file was left in the slot's directory,
and every sector the guest saw written ("blk: done N") holds its pattern on the
image. Around the whole soak: processes, locks, namespaces, mounts and fds counted
before and after.

It prints numbers (the start time of the first N, the total PSS measured as
bench/footprint.py does it, which includes the guest pages brig touched), one
"soak: FAIL ..." line per unexpected outcome as it happens, and a summary. Exit
status 1 when any outcome was unexpected, 2 when the soak cannot run. Needs root,
/dev/kvm, ip (iproute2) and /dev/net/tun. The binaries it needs are built when
missing (scripts/setup.sh for a fresh checkout, else ninja). Everything it makes
(namespaces, TAPs, mounts, its temporary directory) is removed on every way out,
Ctrl-C included.
"""
import argparse
import array
import ctypes
import fcntl
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAULT_KINDS = ("kill-device", "stop-cont", "kill-brig", "full-disk", "tap-removed", "vsock-peer-gone")
# brig names its devices so (brig-device KIND NAME ...), in the order it spawns them.
DEVICE_NAMES = ("serial", "virtio-blk0", "virtio-blk1", "virtio-net0", "virtio-rng", "virtio-console",
                "virtio-vsock")

MEM_MIB = 64
DISK_BYTES = 1 << 20
SECTOR = 512
SECTORS = DISK_BYTES // SECTOR
FULL_DISK_TMPFS = "2m"  # room for the whole 1 MiB image, until it is filled up
TAP = "bsoak0"
HOST_CIDR = "10.77.0.1/24"
HOST_IP = "10.77.0.1"  # the guest's default net.peer
GUEST_CID = 3
UDP_PORT = 5001
VSOCK_ECHO_PORT = 5000  # vsock-echo-client's default port
VSOCK_SEND_PORT = 5001  # vsock-send's
VSOCK_RECV_PORT = 6001  # vsock-recv's
DEFAULT_JAIL_IDS = "470000-479999"  # inside brig's own default range, apart from other users of it

RUN_TIMEOUT = 300  # s: one VM, however loaded the host is
LINE_TIMEOUT = 120  # s: a fault's wait for the guest to get going
PSS_EVERY = 30  # s
FD_SAMPLE_EVERY = 0.2  # s: brig's fds, while its guest runs
DEVICE_WATCH_EVERY = 0.01  # s: brig's children, from its launch until every device is seen
SHUTDOWN_LINE = "brig: SHUTDOWN: guest powered off via acpi-sleep-control"

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
PR_SET_CHILD_SUBREAPER = 36


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP: stop every VM and clean up."""


def log(text):
    print("soak: " + text, flush=True)


# --- Building ------------------------------------------------------------------------

def binaries(build):
    return {
        "brig": os.path.join(build, "vmm", "brig"),
        "device": os.path.join(build, "device-procs", "brig-device"),
        "guest": os.path.join(build, "tests", "guest", "brig-test-guest.elf"),
    }


def ensure_built(build):
    """A clean checkout has no build directory: scripts/setup.sh makes one (and installs
    what is missing); a build directory without the binaries gets a ninja run."""
    missing = [path for path in binaries(build).values() if not os.path.isfile(path)]
    if not missing:
        return
    log("building: missing " + ", ".join(os.path.relpath(p, build) for p in missing))
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        env = dict(os.environ, BRIG_BUILD_DIR=os.path.abspath(build))
        subprocess.run([os.path.join(REPO, "scripts", "setup.sh")], cwd=REPO, env=env, check=True)
    else:
        subprocess.run(["ninja", "-C", build], check=True)


# --- /proc ---------------------------------------------------------------------------

def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def proc_status(pid):
    """/proc/PID/status as a dict, or None when the process is gone."""
    text = read_text(f"/proc/{pid}/status")
    if text is None:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def proc_start_time(pid):
    """Field 22 of /proc/PID/stat: with the pid, it names one process even after pid reuse."""
    text = read_text(f"/proc/{pid}/stat")
    if text is None:
        return None
    return int(text[text.rindex(")") + 2:].split()[19])


def proc_argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def all_pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def children_of(pid):
    found = []
    for child in all_pids():
        status = proc_status(child)
        if status and status.get("PPid") == str(pid):
            found.append(child)
    return found


def task_children(pid):
    """PID's children, from /proc/PID/task/*/children (each thread lists those it forked)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        found += [int(c) for c in (read_text(f"/proc/{pid}/task/{task}/children") or "").split()]
    return found


def fd_census(pid):
    """(fds, memfds) that PID holds, or None when it is gone."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    memfds = 0
    for name in names:
        try:
            memfds += os.readlink(f"/proc/{pid}/fd/{name}").startswith("/memfd:")
        except OSError:
            pass
    return len(names), memfds


def pss_kib(pid):
    """PSS from smaps_rollup, as bench/footprint.py reads it; None when the process is gone."""
    text = read_text(f"/proc/{pid}/smaps_rollup")
    m = re.search(r"^Pss:\s+(\d+) kB", text or "", re.M)
    return int(m.group(1)) if m else None


def flock_holders():
    """{(major, minor, inode): {pid, ...}} of every flock(2) lock on the host (/proc/locks)."""
    holders = {}
    for line in (read_text("/proc/locks") or "").splitlines():
        parts = line.split()
        if len(parts) < 6 or "->" in parts or parts[1] != "FLOCK":
            continue  # a waiter's line has "->"; POSIX and OFD locks are not brig's
        major, minor, inode = parts[5].split(":")
        holders.setdefault((int(major, 16), int(minor, 16), int(inode)), set()).add(int(parts[4]))
    return holders


def file_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.major(st.st_dev), os.minor(st.st_dev), st.st_ino


def uid_lock_path(uid):
    # vmm/sandbox/jail_ids.h: one lock file per id, held with flock for the VM's life.
    return f"/run/brig/ids/{uid}"


def flock_is_free(path):
    """Whether nobody holds a flock on PATH: we take it exclusively for a moment."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def describe_status(code):
    if code is None:
        return "still running"
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"


# --- Patterns the guest writes and checks ----------------------------------------------

# blk-write and blk-write-log: byte (sector s, offset i) = (s * 7 + i * 13 + seed) & 0xff.
_BLK_BASE = bytes((i * 13) & 0xFF for i in range(SECTOR))
_ADD_TABLES = [bytes((j + k) & 0xFF for j in range(256)) for k in range(256)]


def blk_sector_pattern(seed, sector):
    return _BLK_BASE.translate(_ADD_TABLES[(sector * 7 + seed) & 0xFF])


def first_bad_sector(image, seed, sectors):
    """The first of SECTORS (sector numbers) whose bytes on IMAGE are not the pattern."""
    with open(image, "rb") as f:
        data = f.read()
    for s in sectors:
        if data[s * SECTOR:(s + 1) * SECTOR] != blk_sector_pattern(seed, s):
            return s
    return None


# vsock: little-endian 32-bit words, word i = (i * 2654435761) mod 2^32; the checksum is
# a += w; b += a (mod 2^32 each), sum = b << 32 | a (tests/guest/virtio_vsock.h).
_K = 2654435761
_WORD = next(t for t in "IL" if array.array(t).itemsize == 4)


def vsock_pattern(first_word, words):
    data = array.array(_WORD, [(i * _K) & 0xFFFFFFFF for i in range(first_word, first_word + words)])
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def vsock_pattern_sum(words):
    n = words
    a = (_K * (n * (n - 1) // 2)) & 0xFFFFFFFF
    b = (_K * ((n + 1) * n * (n - 1) // 6)) & 0xFFFFFFFF
    return (b << 32) | a


class PatternCheck:
    """Compares a received vsock stream with the pattern, in pieces of any size."""

    def __init__(self):
        self.length = 0
        self.bad = False
        self._pending = b""

    def feed(self, data):
        data = self._pending + data
        whole = len(data) - len(data) % 4
        if whole and data[:whole] != vsock_pattern(self.length // 4, whole // 4):
            self.bad = True
        self.length += whole
        self._pending = data[whole:]

    def words(self):
        return self.length // 4


# UDP datagrams of net-udp-tx: bytes 0..3 are seq (le32), byte i >= 4 is (seq + i) & 0xff.
_UDP_TABLE = bytes(j & 0xFF for j in range(256 + 1472))


def udp_payload_ok(data, size):
    if len(data) != size:
        return False
    seq = int.from_bytes(data[:4], "little")
    start = (seq + 4) & 0xFF
    return data[4:] == _UDP_TABLE[start:start + size - 4]


# --- Host resources: network namespaces, a small tmpfs, the cleanup stack ---------------

class Cleanup:
    """What to undo, newest first, on every way out."""

    def __init__(self):
        self._lock = threading.Lock()
        self._steps = []

    def push(self, what, undo):
        with self._lock:
            self._steps.append((what, undo))
        return (what, undo)

    def done(self, step):
        """STEP was undone the normal way."""
        with self._lock:
            if step in self._steps:
                self._steps.remove(step)

    def run_all(self):
        while True:
            with self._lock:
                if not self._steps:
                    return
                what, undo = self._steps.pop()
            try:
                undo()
            except Exception as e:  # keep undoing the rest
                log(f"cleanup: {what}: {e}")


def run_ip(*args, check=True):
    return subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=check)


class NetNamespace:
    """A network namespace with the slot's TAP and the host address, as
    tests/net/with-tap-netns.sh makes it; every ip command names it (-n), so nothing
    in the root namespace changes."""

    def __init__(self, name):
        self.name = name

    def create(self):
        run_ip("netns", "add", self.name)
        run_ip("-n", self.name, "link", "set", "lo", "up")
        self.add_tap()

    def add_tap(self):
        run_ip("-n", self.name, "tuntap", "add", "dev", TAP, "mode", "tap")
        run_ip("-n", self.name, "addr", "add", HOST_CIDR, "dev", TAP)
        run_ip("-n", self.name, "link", "set", TAP, "up")

    def has_tap(self):
        return run_ip("-n", self.name, "link", "show", TAP, check=False).returncode == 0

    def remove_tap(self):
        run_ip("-n", self.name, "link", "del", TAP)

    def pids(self):
        out = run_ip("netns", "pids", self.name, check=False).stdout
        return [int(p) for p in out.split()]

    def destroy(self):
        for pid in self.pids():  # only ours run there; a brig left by an interrupted run
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run_ip("-n", self.name, "link", "del", TAP, check=False)
        run_ip("netns", "delete", self.name)

    def socket(self, family, kind):
        """A socket of this namespace: made on a thread of its own that joined it
        (setns moves only the calling thread), usable from any thread afterwards."""
        made = {}

        def make():
            try:
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns " + self.name)
                finally:
                    os.close(fd)
                made["socket"] = socket.socket(family, kind)
            except Exception as e:
                made["error"] = e

        thread = threading.Thread(target=make)
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        return made["socket"]


class SmallTmpfs:
    """A 2 MiB tmpfs behind one disk image, for the full-disk fault."""

    def __init__(self, path, cleanup):
        self.path = path
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FULL_DISK_TMPFS},mode=0700", "brig-soak", path],
                       check=True)
        self._step = cleanup.push("umount " + path, self._unmount)
        self._cleanup = cleanup

    def fill(self):
        """Takes every free page, so the guest's next write to a page not yet allocated
        fails with ENOSPC in the device."""
        fd = os.open(os.path.join(self.path, "filler"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            for block in (bytes(65536), bytes(4096)):  # big blocks, then the last pages
                try:
                    while os.write(fd, block) > 0:
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)

    def _unmount(self):
        subprocess.run(["umount", self.path], check=True)
        os.rmdir(self.path)

    def unmount(self):
        """Unmounts; fails (busy) if anything still holds the image."""
        self._unmount()
        self._cleanup.done(self._step)


# --- Host sides of the guest's modes ---------------------------------------------------

class HostSide:
    """A thread serving one side of a guest mode, with deadlines everywhere, stoppable."""

    def __init__(self):
        self.stopping = threading.Event()
        self.error = None
        self._thread = None
        self._sockets = []
        self._paths = []  # unix socket files to remove when done

    def start(self):
        self._thread = threading.Thread(target=self._guarded, daemon=True)
        self._thread.start()

    def _guarded(self):
        try:
            self.serve()
        except OSError as e:
            if not self.stopping.is_set():
                self.error = str(e)

    def serve(self):
        raise NotImplementedError

    def keep(self, sock):
        sock.settimeout(0.2)
        self._sockets.append(sock)
        return sock

    def close_all(self):
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def listen(self, path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        self._paths.append(path)
        sock.listen(8)
        return self.keep(sock)

    def stop(self):
        self.stopping.set()
        if self._thread:
            self._thread.join(10)
        self.close_all()
        for path in self._paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


class UdpSink(HostSide):
    """The host end of net-udp-tx: counts the distinct good datagrams (and bad ones)."""

    def __init__(self, netns, size):
        super().__init__()
        self.size = size
        self.seqs = set()
        self.bad = 0
        self.sock = self.keep(netns.socket(socket.AF_INET, socket.SOCK_DGRAM))
        # Root may go past rmem_max: the guest's burst must not overflow it.
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        self.sock.bind((HOST_IP, UDP_PORT))

    def serve(self):
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            if udp_payload_ok(data, self.size):
                self.seqs.add(int.from_bytes(data[:4], "little"))
            else:
                self.bad += 1


class VsockEchoServer(HostSide):
    """The host end of vsock-echo-client: brig connects PATH_5000 for the guest."""

    def __init__(self, path):
        super().__init__()
        self.listener = self.listen(path)
        self.echoed = 0

    def serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.keep(conn)
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                conn.sendall(data)
                self.echoed += len(data)
            conn.close()


class VsockSink(HostSide):
    """The host end of vsock-send: checks the stream and answers its checksum, or
    (cut) closes mid-stream, a peer that disappears."""

    def __init__(self, path):
        super().__init__()
        self.listener = self.listen(path)
        self.check = PatternCheck()
        self.connected = threading.Event()
        self.cut_now = threading.Event()
        self.finished = False

    def serve(self):
        conn = None
        while conn is None and not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                pass
        if conn is None:
            return
        self.keep(conn)
        self.connected.set()
        while not self.stopping.is_set():
            if self.cut_now.is_set():
                self.close_all()  # listener and connection, unread bytes and all
                return
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            self.check.feed(data)
        reply = vsock_pattern_sum(self.check.words()) if not self.check.bad else 0
        conn.sendall(struct.pack("<Q", reply))
        conn.close()
        self.finished = True

    def cut(self):
        self.cut_now.set()


class VsockFeeder(HostSide):
    """The host end of vsock-recv: once the guest listens, CONNECT, send the pattern,
    half-close and read the guest's checksum; or (cut) close mid-stream."""

    def __init__(self, path, port, nbytes, guest_listening):
        super().__init__()
        self.path, self.port, self.nbytes = path, port, nbytes
        self.guest_listening = guest_listening  # an Event the console reader sets
        self.connected = threading.Event()
        self.cut_now = threading.Event()
        self.sent = 0
        self.guest_sum = None

    def serve(self):
        while not self.guest_listening.wait(0.2):
            if self.stopping.is_set():
                return
        sock = self.keep(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        sock.settimeout(60)  # a stopped brig (stop-cont) or a loaded host may hold a send that long
        sock.connect(self.path)
        sock.sendall(f"CONNECT {self.port}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                raise OSError("the connection closed before OK")
            line += chunk
        if not line.startswith(b"OK "):
            raise OSError(f"CONNECT {self.port} answered {line!r}")
        self.connected.set()
        block_words = 16384
        while self.sent < self.nbytes:
            if self.cut_now.is_set() or self.stopping.is_set():
                self.close_all()
                return
            words = min(block_words, (self.nbytes - self.sent) // 4)
            sock.sendall(vsock_pattern(self.sent // 4, words))
            self.sent += words * 4
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.2)
        answer = b""
        while not self.stopping.is_set():
            try:
                chunk = sock.recv(64)
            except socket.timeout:
                continue
            if not chunk:
                break
            answer += chunk
        if len(answer) == 8:
            self.guest_sum = struct.unpack("<Q", answer)[0]

    def cut(self):
        self.cut_now.set()


# --- Workloads: a guest mode, its host side, and what its run must show ----------------

class Workload:
    """One test-guest mode. `busy` shows it is under way (a fault waits for it),
    `is_done` that its I/O is over (a fault after that is too late to count), and the
    check_* methods what its run must show, left alone or after each fault it suits."""

    name = ""
    busy = re.compile(r"^brig-test-guest: start")

    def cmdline(self):
        raise NotImplementedError

    def start_host(self, vm):
        pass

    def stop_host(self):
        for side in getattr(self, "sides", []):
            side.stop()

    def is_done(self, vm):
        return vm.seen(r"^poweroff: ")

    def check_clean(self, vm):
        return []

    def check_durable(self, vm):
        """What holds even when a device or brig died mid-run."""
        return []

    def __str__(self):
        return self.cmdline().replace("mode=", "", 1)


class BlkWriteLog(Workload):
    """blk-write-log on one disk: every sector in order, "blk: done N" after each."""

    name = "blk-write-log"
    busy = re.compile(r"^blk: done \d+$")

    def __init__(self, rng, disk):
        self.disk = disk
        self.seed = rng.randrange(256)

    def cmdline(self):
        return f"mode=blk-write-log seed={self.seed} disk={self.disk}"

    def done_sectors(self, vm):
        return [int(m.group(1)) for m in vm.matches(r"^blk: done (\d+)$")]

    def is_done(self, vm):
        return vm.seen(rf"^blk: done {SECTORS - 1}$") or vm.seen(r"^blk: write failed") or super().is_done(vm)

    def check_durable(self, vm):
        done = self.done_sectors(vm)
        if done != list(range(len(done))):
            return [f"blk-write-log: the sectors reported done are not 0..N in order: {done[:8]}..."]
        bad = first_bad_sector(vm.slot.image(self.disk), self.seed, done) if done else None
        if bad is not None:
            return [f"blk-write-log: sector {bad} was reported done but the image does not hold its pattern"]
        return []

    def check_clean(self, vm):
        failures = self.check_durable(vm)
        count = len(self.done_sectors(vm))
        if count != SECTORS:
            failures.append(f"blk-write-log: {count} of {SECTORS} sectors reported done")
        return failures

    def check_full_disk(self, vm):
        failures = self.check_durable(vm)
        if not vm.seen(r"^blk: write failed status=1$"):
            failures.append("full disk: the guest did not get IOERR (no 'blk: write failed status=1')")
        return failures


class BlkWrite(Workload):
    """blk-write: a run of sectors in 8-sector requests, 4 in flight, flushed, read back."""

    name = "blk-write"

    def __init__(self, rng, disk):
        self.disk = disk
        self.seed = rng.randrange(256)
        self.sectors = rng.choice((64, 128, 256))
        self.start = rng.randrange(SECTORS - self.sectors)

    def cmdline(self):
        return f"mode=blk-write disk={self.disk} seed={self.seed} sectors={self.sectors} start={self.start}"

    def check_clean(self, vm):
        failures = vm.expect_lines(f"blk: wrote {self.sectors} sectors", "blk: flush status=0", "blk: verify ok")
        bad = first_bad_sector(vm.slot.image(self.disk), self.seed, range(self.start, self.start + self.sectors))
        if bad is not None:
            failures.append(f"blk-write: sector {bad} on the image does not hold the pattern")
        return failures


class NetPing(Workload):
    name = "net-ping"

    def __init__(self, rng):
        self.count = rng.randrange(4, 21)

    def cmdline(self):
        return f"mode=net-ping net.count={self.count}"

    def check_clean(self, vm):
        return vm.expect_lines("net: arp ok", f"net: ping ok count={self.count}")


class NetUdpTx(Workload):
    """net-udp-tx to the UDP sink in the slot's namespace."""

    name = "net-udp-tx"
    busy = re.compile(r"^net: arp ok$")

    def __init__(self, rng, long=False):
        self.count = 10000 if long else rng.randrange(500, 3001)
        self.size = rng.choice((64, 256, 1024, 1472))

    def cmdline(self):
        return f"mode=net-udp-tx net.count={self.count} net.size={self.size}"

    def start_host(self, vm):
        self.sink = UdpSink(vm.slot.netns, self.size)
        self.sides = [self.sink]
        self.sink.start()

    def is_done(self, vm):
        return vm.seen(r"^net: udp-tx sent") or super().is_done(vm)

    def check_clean(self, vm):
        failures = vm.expect_lines("net: arp ok", f"net: udp-tx sent {self.count}")
        got = len(self.sink.seqs)
        if got != self.count or self.sink.bad:
            failures.append(f"net-udp-tx: the host got {got} of {self.count} datagrams, {self.sink.bad} bad")
        return failures

    def check_tap_removed(self, vm):
        """The guest goes on (what it sends is dropped) and powers off. The device logs
        "TAP read: ...; receiving stops" only if it reads the dead TAP at all, which it
        does not while a received frame waits for a guest buffer: counted, not required."""
        self.tap_error_logged = bool(
            re.search(r"\[virtio-net0\] device: error TAP read: .*; receiving stops", vm.stderr))
        return vm.expect_lines(f"net: udp-tx sent {self.count}")


class VsockEchoClient(Workload):
    name = "vsock-echo-client"
    busy = re.compile(r"^vsock: guest_cid=")

    def __init__(self, rng, long=False):
        self.count = 256 if long else rng.randrange(4, 33)
        self.size = 16384 if long else rng.choice((1024, 4096, 16384))

    def cmdline(self):
        return f"mode=vsock-echo-client vsock.count={self.count} vsock.size={self.size}"

    def start_host(self, vm):
        self.server = VsockEchoServer(f"{vm.slot.vsock_path}_{VSOCK_ECHO_PORT}")
        self.sides = [self.server]
        self.server.start()

    def is_done(self, vm):
        return vm.seen(r"^vsock: echo-client") or super().is_done(vm)

    def check_clean(self, vm):
        return vm.expect_lines(f"vsock: echo-client ok count={self.count} size={self.size}")


class VsockSend(Workload):
    """vsock-send guest to host; with the peer gone, the host's sink closes mid-stream."""

    name = "vsock-send"
    busy = re.compile(r"^vsock: guest_cid=")

    def __init__(self, rng, nbytes=None):
        self.nbytes = nbytes or rng.randrange(16, 513) * 4096

    def cmdline(self):
        return f"mode=vsock-send vsock.bytes={self.nbytes}"

    def start_host(self, vm):
        self.sink = VsockSink(f"{vm.slot.vsock_path}_{VSOCK_SEND_PORT}")
        self.sides = [self.sink]
        self.sink.start()

    def wait_streaming(self, timeout):
        return self.sink.connected.wait(timeout)

    def cut(self):
        self.sink.cut()

    def is_done(self, vm):
        return vm.seen(r"^vsock: (sent bytes|send ended early)") or super().is_done(vm)

    def check_clean(self, vm):
        failures = vm.expect_lines("vsock: send ok")
        if not self.sink.finished or self.sink.check.length != self.nbytes or self.sink.check.bad:
            failures.append(f"vsock-send: the host got {self.sink.check.length} of {self.nbytes} bytes"
                            f"{', not the pattern' if self.sink.check.bad else ''}")
        return failures

    def check_peer_gone(self, vm):
        return vm.expect_match(r"^vsock: send ended early bytes=\d+$", "vsock: send ended early bytes=N")


class VsockRecv(Workload):
    """vsock-recv host to guest; with the peer gone, the host's feeder closes mid-stream."""

    name = "vsock-recv"
    busy = re.compile(r"^vsock: listening port=")

    def __init__(self, rng, nbytes=None):
        self.nbytes = nbytes or rng.randrange(16, 513) * 4096

    def cmdline(self):
        return f"mode=vsock-recv vsock.bytes={self.nbytes}"

    def start_host(self, vm):
        listening = vm.event_on_line(rf"^vsock: listening port={VSOCK_RECV_PORT}$")
        self.feeder = VsockFeeder(vm.slot.vsock_path, VSOCK_RECV_PORT, self.nbytes, listening)
        self.sides = [self.feeder]
        self.feeder.start()

    def wait_streaming(self, timeout):
        return self.feeder.connected.wait(timeout)

    def cut(self):
        self.feeder.cut()

    def is_done(self, vm):
        return vm.seen(r"^vsock: (received bytes|recv ended early)") or super().is_done(vm)

    def check_clean(self, vm):
        failures = vm.expect_lines("vsock: recv ok")
        if self.feeder.error:
            failures.append("vsock-recv: host side: " + self.feeder.error)
        elif self.feeder.guest_sum != vsock_pattern_sum(self.nbytes // 4):
            failures.append(f"vsock-recv: the guest's checksum {self.feeder.guest_sum} is not the pattern's")
        return failures

    def check_peer_gone(self, vm):
        return vm.expect_match(r"^vsock: recv ended early bytes=\d+$", "vsock: recv ended early bytes=N")


class Console(Workload):
    name = "console"

    def cmdline(self):
        return "mode=console"

    def check_clean(self, vm):
        failures = vm.expect_lines("console: sent")
        if "hello from hvc0" not in (read_text(vm.slot.console_path) or ""):
            failures.append("console: the console file lacks 'hello from hvc0'")
        return failures


class Rng(Workload):
    name = "rng"

    def cmdline(self):
        return "mode=rng"

    def check_clean(self, vm):
        return vm.expect_lines("rng: nonzero=1")


class Demo(Workload):
    """demo: info, virtio-info, rng, console and blk-write (seed 0, 64 sectors, disk 0)."""

    name = "demo"

    def cmdline(self):
        return "mode=demo"

    def check_clean(self, vm):
        failures = vm.expect_lines("virtio: devices=6", "rng: nonzero=1", "console: sent", "blk: verify ok",
                                   "demo: done, powering off through ACPI")
        if first_bad_sector(vm.slot.image(0), 0, range(64)) is not None:
            failures.append("demo: its blk-write pattern is not on disk 0")
        if "hello from hvc0" not in (read_text(vm.slot.console_path) or ""):
            failures.append("demo: the console file lacks 'hello from hvc0'")
        return failures


def any_workload(rng):
    """A VM left alone: any I/O mode, short or long."""
    makers = [lambda: BlkWriteLog(rng, 0), lambda: BlkWriteLog(rng, 1), lambda: BlkWrite(rng, 0),
              lambda: BlkWrite(rng, 1), lambda: NetPing(rng), lambda: NetUdpTx(rng), lambda: VsockEchoClient(rng),
              lambda: VsockSend(rng), lambda: VsockRecv(rng), Console, Rng, Demo]
    return rng.choice(makers)()


def long_workload(rng):
    """A mode that keeps its devices busy for seconds, for a fault to land inside."""
    makers = [lambda: BlkWriteLog(rng, rng.randrange(2)), lambda: NetUdpTx(rng, long=True),
              lambda: VsockEchoClient(rng, long=True), lambda: VsockSend(rng, 16 << 20)]
    return rng.choice(makers)()


def workload_for(fault, rng):
    if fault == "full-disk":
        return BlkWriteLog(rng, 1)  # disk 1 is the one on the tmpfs
    if fault == "tap-removed":
        return NetUdpTx(rng, long=True)
    if fault == "vsock-peer-gone":
        return VsockSend(rng, 64 << 20) if rng.random() < 0.5 else VsockRecv(rng, 64 << 20)
    return long_workload(rng)


# --- A run's plan, from the seed -------------------------------------------------------

@dataclass
class Plan:
    workload: Workload
    fault: str = None
    delay: float = 0.0  # after the workload is busy
    target: str = None  # kill-device, stop-cont: a device name or "brig"
    stops: list = field(default_factory=list)  # stop-cont: (stopped s, running s) pairs


def run_rng(seed, slot, run, owed=""):
    return random.Random(f"{seed}/{slot}/{run}{'/' + owed if owed else ''}")


def plan_run(seed, slot, run, vms, fault_rate):
    """Run RUN of SLOT, the same for the same seed. Round 0 (the start of all N) runs
    long modes without faults; then the first len(FAULT_KINDS) runs take one kind
    each, so even a short soak has every kind, and later runs a fault with
    probability FAULT_RATE."""
    rng = run_rng(seed, slot, run)
    if run == 0:
        return Plan(long_workload(rng))
    order = (run - 1) * vms + slot
    fault = None
    if order < len(FAULT_KINDS):
        fault = FAULT_KINDS[order]
    elif rng.random() < fault_rate:
        fault = rng.choice(FAULT_KINDS)
    if fault is None:
        return Plan(any_workload(rng))
    return plan_fault(fault, rng)


def plan_fault(fault, rng):
    plan = Plan(workload_for(fault, rng), fault, delay=rng.uniform(0.1, 1.5))
    if fault == "kill-device":
        plan.target = rng.choice(DEVICE_NAMES)
    if fault == "stop-cont":
        plan.target = "brig" if rng.random() < 0.5 else rng.choice(DEVICE_NAMES)
        # A device stopped past brig's 1 s answer deadline is a device that failed
        # (exit 33 by design), so devices stop for less; brig may stop for longer.
        longest = 3.0 if plan.target == "brig" else 0.4
        plan.stops = [(rng.uniform(0.05, longest), rng.uniform(0.1, 0.5)) for _ in range(rng.randrange(1, 4))]
    return plan


# --- One VM run ------------------------------------------------------------------------

@dataclass
class Device:
    name: str
    pid: int
    start_time: int
    uid: int


@dataclass
class Fault:
    kind: str
    injected: bool = False
    target: str = ""
    pid: int = 0
    note: str = ""  # why it was not injected, or what it did


class VmRun:
    """One brig process: launched in the slot's namespace, its console read line by line."""

    def __init__(self, soak, slot, index, plan):
        self.soak, self.slot, self.index, self.plan = soak, slot, index, plan
        self.workload = plan.workload
        self.lines = []  # (monotonic time, text)
        self.changed = threading.Condition()
        self.eof = False
        self.line_events = []  # (regex, Event)
        self.unfinished_line = None
        self._known_devices = set()
        self.devices = {}
        self.fds_start = self.fds_end = None
        self.launched = self.first_line_at = None
        self.stderr = ""
        self.record = None
        self.fault = None
        self.proc = None
        self.timed_out = False

    def argv(self):
        slot, bins = self.slot, self.soak.bins
        return ["ip", "netns", "exec", slot.netns.name, bins["brig"], "run", "--kernel", bins["guest"],
                "--mem", str(MEM_MIB), "--cmdline", self.workload.cmdline(),
                "--disk", slot.image(0), "--disk", slot.image(1), "--rng",
                "--console", "file=" + slot.console_path, "--net", "tap-name=" + TAP,
                "--vsock", f"cid={GUEST_CID},socket={slot.vsock_path}",
                "--jail-ids", self.soak.jail_ids, "--failure-file", slot.failure_path]

    def launch(self):
        with open(self.slot.stderr_path, "wb") as err:
            self.launched = time.monotonic()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        threading.Thread(target=self._read_console, daemon=True).start()
        threading.Thread(target=self._watch_devices, daemon=True).start()

    def _read_console(self):
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            if not raw.endswith(b"\n"):
                # The guest was stopped mid-line (a device died, brig was killed): "blk:
                # done 1" may be the start of "blk: done 12", so it is no line to go by.
                self.unfinished_line = text
                break
            now = time.monotonic()
            if self.first_line_at is None and text.startswith("brig-test-guest: start"):
                self._census_start()
                self.first_line_at = now  # after the census: whoever sees it sees the devices
            with self.changed:
                self.lines.append((now, text))
                self.changed.notify_all()
            for regex, event in self.line_events:
                if re.search(regex, text):
                    event.set()
        self.proc.stdout.close()
        with self.changed:
            self.eof = True
            self.changed.notify_all()

    def _census_start(self):
        """brig starts every device before the guest's first instruction, so its fds
        are at their steady count when the first line comes."""
        self.fds_start = fd_census(self.proc.pid)

    def _watch_devices(self):
        """Notes each brig-device child as it appears. A loaded host may read the
        guest's first line only once a short mode is over and brig is reaping its
        devices, so they are looked for from the launch on, in brig's own lists of
        children (cheap enough to read every few ms)."""
        pid = self.proc.pid
        while self.proc.poll() is None and len(self.devices) < len(DEVICE_NAMES):
            for child in task_children(pid):
                if child in self._known_devices:
                    continue
                # A child seen between fork and exec still shows brig's argv: look again
                # on the next turn until it is brig-device.
                argv, status, start = proc_argv(child), proc_status(child), proc_start_time(child)
                if len(argv) >= 3 and os.path.basename(argv[0]) == "brig-device" and status and start:
                    self._known_devices.add(child)
                    self.devices[argv[2]] = Device(argv[2], child, start, int(status["Uid"].split()[0]))
            time.sleep(DEVICE_WATCH_EVERY)

    def event_on_line(self, regex):
        event = threading.Event()
        self.line_events.append((regex, event))
        return event

    def seen(self, regex):
        with self.changed:
            return any(re.search(regex, text) for _, text in self.lines)

    def matches(self, regex):
        with self.changed:
            texts = [text for _, text in self.lines]
        return [m for m in (re.search(regex, t) for t in texts) if m]

    def wait_line(self, regex, timeout):
        """True once a line matches; False on EOF or after TIMEOUT."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if any(re.search(regex, text) for _, text in self.lines):
                    return True
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return False
                self.changed.wait(min(left, 0.5))

    def expect_lines(self, *wanted):
        with self.changed:
            texts = {text for _, text in self.lines}
        return [f"the guest did not print '{w}'" for w in wanted if w not in texts]

    def expect_match(self, regex, what):
        return [] if self.seen(regex) else [f"the guest did not print '{what}'"]

    def sample_fds(self):
        """brig's fds and memfds while the guest still runs its mode. The guest's
        "poweroff:" line comes out after brig has begun to close things, so the last
        sample before that line is the one "just before exit"."""
        if self.first_line_at is None or self.seen(r"^poweroff: "):
            return
        census = fd_census(self.proc.pid)
        if census and not self.seen(r"^poweroff: "):
            self.fds_end = census

    def wait_exit(self):
        deadline = self.launched + RUN_TIMEOUT
        while self.proc.poll() is None:
            if time.monotonic() >= deadline:
                self.timed_out = True
                self.proc.kill()
                break
            self.sample_fds()
            try:
                self.proc.wait(FD_SAMPLE_EVERY)
            except subprocess.TimeoutExpired:
                pass
        self.proc.wait()
        with self.changed:
            self.changed.wait_for(lambda: self.eof, 10)
        self.stderr = read_text(self.slot.stderr_path) or ""
        self.record = (read_text(self.slot.failure_path) or "").strip()

    def final_line(self):
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def last_console_line(self):
        if self.unfinished_line is not None:
            return self.unfinished_line + " (unfinished)"
        with self.changed:
            return self.lines[-1][1] if self.lines else ""

    def injected(self):
        return self.fault.kind if self.fault and self.fault.injected else None

    def label(self):
        return f"vm{self.slot.index} run{self.index} [{self.workload}]"


# --- Faults ----------------------------------------------------------------------------

def sleep_unless_exited(vm, seconds):
    try:
        vm.proc.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        return True


def inject(vm, plan, tmpfs):
    """Waits until the guest is busy and PLAN's delay has passed, then does the fault,
    unless the guest's I/O is over by then (too late: not counted, the run is checked
    as one left alone)."""
    fault = Fault(plan.fault, target=plan.target or "")
    if not vm.wait_line(vm.workload.busy.pattern, LINE_TIMEOUT):
        fault.note = "the guest never got busy"
        return fault
    if plan.fault == "vsock-peer-gone" and not vm.workload.wait_streaming(LINE_TIMEOUT):
        fault.note = "the stream never started"
        return fault
    if not sleep_unless_exited(vm, plan.delay) or vm.workload.is_done(vm):
        fault.note = "the guest was done first"
        return fault
    ACTIONS[plan.fault](vm, plan, fault, tmpfs)
    return fault


def kill_device(vm, plan, fault, tmpfs):
    device = vm.devices.get(plan.target)
    if device is None:
        fault.note = f"no {plan.target} process"
        return
    try:
        os.kill(device.pid, signal.SIGKILL)
    except ProcessLookupError:  # the guest powered off and brig reaped it meanwhile
        fault.note = "the guest was done first"
        return
    fault.injected, fault.pid = True, device.pid


def stop_and_continue(vm, plan, fault, tmpfs):
    if plan.target == "brig":
        pid = vm.proc.pid
    elif plan.target in vm.devices:
        pid = vm.devices[plan.target].pid
    else:
        fault.note = f"no {plan.target} process"
        return
    for stopped, running in plan.stops:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:  # a device brig reaped as the guest powered off
            break
        fault.injected, fault.pid = True, pid
        try:
            time.sleep(stopped)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)  # whatever happens, nothing stays stopped
            except ProcessLookupError:
                pass
        time.sleep(running)
    if not fault.injected:
        fault.note = "the guest was done first"
        return
    fault.note = "stopped " + ", ".join(f"{s:.2f} s" for s, _ in plan.stops)


def kill_brig(vm, plan, fault, tmpfs):
    os.kill(vm.proc.pid, signal.SIGKILL)
    fault.injected, fault.target, fault.pid = True, "brig", vm.proc.pid


def fill_disk(vm, plan, fault, tmpfs):
    tmpfs.fill()
    fault.injected, fault.target = True, "virtio-blk1"


def remove_tap(vm, plan, fault, tmpfs):
    vm.slot.netns.remove_tap()
    fault.injected, fault.target = True, TAP


def cut_vsock_peer(vm, plan, fault, tmpfs):
    vm.workload.cut()
    fault.injected, fault.target = True, vm.workload.name + " host side"


ACTIONS = {"kill-device": kill_device, "stop-cont": stop_and_continue, "kill-brig": kill_brig,
           "full-disk": fill_disk, "tap-removed": remove_tap, "vsock-peer-gone": cut_vsock_peer}


# --- Checks after every VM -------------------------------------------------------------

def check_exit(vm):
    """brig's exit status, last line and record, as the fault (or none) says they must be."""
    kind, rc = vm.injected(), vm.proc.returncode
    if vm.timed_out:
        return [f"brig did not exit within {RUN_TIMEOUT} s (killed)"]
    if kind == "kill-brig":
        return [] if rc == -signal.SIGKILL else [f"brig was killed by SIGKILL, yet its status is {describe_status(rc)}"]
    if kind == "kill-device":
        name, pid = vm.fault.target, vm.fault.pid
        want_line = f"brig: DEVICE_CRASHED: {name} (pid {pid}) killed by SIGKILL"
        want_record = f"DEVICE_CRASHED {name} pid={pid} signal=SIGKILL"
    else:
        want_line, want_record = SHUTDOWN_LINE, "SHUTDOWN"
    want_rc = 33 if kind == "kill-device" else 0
    if rc == want_rc and vm.final_line() == want_line and vm.record == want_record:
        return []
    # One line for the three: a wrong ending shows in all of them at once.
    return [f"expected exit {want_rc}, '{want_line}', record '{want_record}'; got {describe_status(rc)}, "
            f"'{vm.final_line()}', record '{vm.record}'"]


def check_workload(vm):
    kind, w = vm.injected(), vm.workload
    if kind in ("kill-device", "kill-brig"):
        return w.check_durable(vm)
    if kind in (None, "stop-cont"):
        return [f"the guest printed '{line}'" for line in guest_complaints(vm)] + w.check_clean(vm)
    failures = []
    if kind == "full-disk":
        return failures + w.check_full_disk(vm)
    if kind == "tap-removed":
        return failures + w.check_tap_removed(vm)
    return failures + w.check_peer_gone(vm)


def guest_complaints(vm):
    with vm.changed:
        texts = [text for _, text in vm.lines]
    return [t for t in texts if re.search(r"FAIL| failed|error:|timeout", t)]


def reap_if_child(pid):
    """A device orphaned by brig's death is ours to reap (we are the child subreaper)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


def same_process(device):
    return proc_start_time(device.pid) == device.start_time


def check_processes(vm):
    """No device outlives its brig, neither running (an orphan) nor unreaped (a
    zombie). After kill -9 of brig each device gets its parent-death signal: it is
    then reparented to this script, which reaps it."""
    failures = []
    brig_killed = vm.injected() == "kill-brig"
    deadline = time.monotonic() + (5 if brig_killed else 0)
    for device in vm.devices.values():
        while same_process(device):
            state = (proc_status(device.pid) or {}).get("State", "?")[:1]
            if state == "Z" and brig_killed and reap_if_child(device.pid):
                break
            if time.monotonic() >= deadline:
                what = "a zombie" if state == "Z" else "still running (an orphan)"
                failures.append(f"{device.name} (pid {device.pid}) is {what} after brig ended")
                try:
                    os.kill(device.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.1)
                reap_if_child(device.pid)
                break
            time.sleep(0.05)
    if brig_killed:
        left = [pid for pid in vm.slot.netns.pids() if pid != vm.proc.pid]
        if left:
            failures.append(f"processes left in the VM's namespace: {left}")
        cgroups = brig_cgroups(vm.proc.pid)
        if cgroups:
            failures.append(f"cgroups left by the killed brig: {cgroups}")
    return failures


def brig_cgroups(brig_pid):
    """Device cgroups (brig-BRIGPID-DEVICE) of one brig anywhere in the cgroup trees.
    brig makes them only under --cgroup-parent, which the soak does not give: any is a leak."""
    found = []
    prefix = f"brig-{brig_pid}-"
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(root, d) for d in dirs if d.startswith(prefix)]
    return found


def check_locks(vm):
    """The uid locks of the VM's devices are free or held by another live brig (the
    allocator hands a free id to the next VM at once), and its images are unlocked.
    Probed with flock, not read from /proc/locks: reading that file blocks every file
    lock on the host for an RCU grace period, seconds on a loaded host, and the soak
    must not slow brig's own locking down."""
    failures = []
    held = [d for d in vm.devices.values() if not flock_is_free(uid_lock_path(d.uid))]
    if held:
        by_brigs = lock_files_of_live_brigs(vm.soak)
        for device in held:
            path = uid_lock_path(device.uid)
            if path not in by_brigs and not flock_is_free(path):  # again: it may just have been let go
                failures.append(f"uid lock {device.uid} ({device.name}) is held, and by no live brig")
    for disk in (0, 1):
        if not flock_is_free(vm.slot.image(disk)):
            failures.append(f"disk {disk}'s image is still locked")
    return failures


def lock_files_of_live_brigs(soak):
    """The uid lock files the running brigs of this soak hold open (the lock lives on
    brig's fd, which is close-on-exec and reaches no device)."""
    paths = set()
    for vm in soak.running_vms.snapshot():
        fd_dir = f"/proc/{vm.proc.pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target.startswith("/run/brig/ids/"):
                paths.add(target)
    return paths


def check_fds(vm):
    """brig's fds and memfds just before it exited against those when the guest started."""
    if vm.fds_start is None or vm.fds_end is None:
        return []  # the guest was done within one sample, or brig died: nothing to compare
    (fds0, mem0), (fds1, mem1) = vm.fds_start, vm.fds_end
    failures = []
    if fds1 > fds0:
        failures.append(f"brig held {fds1} fds just before exit, {fds0} when the guest started")
    if mem1 > mem0:
        failures.append(f"brig held {mem1} memfds just before exit, {mem0} when the guest started")
    return failures


def check_files(vm, before):
    """Nothing new in the slot's directory but what it is given to write; brig leaves
    its vsock socket by design (its filters allow no unlink once the guest runs)."""
    allowed = set(before) | {os.path.basename(vm.slot.vsock_path), "console.txt", "failure.txt", "brig.err"}
    left = sorted(set(os.listdir(vm.slot.dir)) - allowed)
    return [f"files left in the VM's directory: {left}"] if left else []


def check_run(vm, files_before):
    if vm.first_line_at is None and vm.injected() is None:
        return [f"the guest never started ({describe_status(vm.proc.returncode)}; "
                f"brig's last line: '{vm.final_line()}')"]
    ending = check_exit(vm)
    # After a wrong ending the mode's own lines are missing as a consequence: only what
    # must hold whatever happened (the writes the guest saw complete) is checked then.
    failures = ending + (vm.workload.check_durable(vm) if ending else check_workload(vm))
    failures += check_processes(vm) + check_locks(vm) + check_fds(vm)
    failures += check_files(vm, files_before)
    if vm.first_line_at is not None and set(vm.devices) != set(DEVICE_NAMES):
        failures.append(f"devices found: {sorted(vm.devices)}, expected {list(DEVICE_NAMES)}")
    return failures


# --- A slot: one VM after another -------------------------------------------------------

class Slot:
    """One VM after another, each in the slot's own directory and network namespace."""

    def __init__(self, soak, index):
        self.soak, self.index = soak, index
        self.dir = os.path.join(soak.tmp, f"vm{index:02d}")
        os.mkdir(self.dir)
        self.netns = NetNamespace(f"brig-soak-{os.getpid()}-{index}")
        self.vsock_path = os.path.join(self.dir, "vsock.sock")
        self.console_path = os.path.join(self.dir, "console.txt")
        self.failure_path = os.path.join(self.dir, "failure.txt")
        self.stderr_path = os.path.join(self.dir, "brig.err")
        self.tmpfs = None
        self.current = None

    def image(self, disk):
        if disk == 1 and self.tmpfs:
            return os.path.join(self.tmpfs.path, "disk1.img")
        return os.path.join(self.dir, f"disk{disk}.img")

    def setup(self):
        self.netns.create()
        self.soak.cleanup.push("delete network namespace " + self.netns.name, self.netns.destroy)

    def prepare(self, plan):
        """Fresh, sparse, zeroed images (so a check never passes on an earlier run's
        data), the TAP back if a fault removed it, no stale output files."""
        if plan.fault == "full-disk":
            self.tmpfs = SmallTmpfs(os.path.join(self.dir, "full"), self.soak.cleanup)
        for disk in (0, 1):
            with open(self.image(disk), "wb") as f:
                f.truncate(DISK_BYTES)
        for path in (self.console_path, self.failure_path):
            if os.path.exists(path):
                os.unlink(path)
        if not self.netns.has_tap():
            self.netns.add_tap()

    def finish(self):
        failures = []
        if self.tmpfs:
            try:
                self.tmpfs.unmount()
            except subprocess.CalledProcessError:
                failures.append("the full disk's tmpfs could not be unmounted (still in use)")
            self.tmpfs = None
        return failures

    def run_once(self, index, plan, barrier=None):
        self.prepare(plan)
        vm = VmRun(self.soak, self, index, plan)
        self.current = vm
        files_before = os.listdir(self.dir)
        try:
            plan.workload.start_host(vm)
            if barrier:
                try:
                    barrier.wait(60)  # all N launched together, for the start time of all
                except threading.BrokenBarrierError:
                    pass
                with self.soak.lock:
                    self.soak.first_vms.append(vm)
            vm.launch()
            self.soak.running_vms.add(vm)
            if plan.fault:
                vm.fault = inject(vm, plan, self.tmpfs)
            vm.wait_exit()
        finally:
            self.soak.running_vms.discard(vm)
            plan.workload.stop_host()
            if vm.proc and vm.proc.poll() is None:
                vm.proc.kill()
                vm.proc.wait()
        failures = [] if self.soak.stopping.is_set() else check_run(vm, files_before)
        failures += self.finish()
        self.current = None
        return vm, failures

    def loop(self, barrier):
        index = 0
        while not self.soak.stopping.is_set() and (index == 0 or time.monotonic() < self.soak.end_at):
            plan = plan_run(self.soak.seed, self.index, index, self.soak.vms, self.soak.fault_rate)
            owed = self.soak.take_owed() if index > 0 and plan.fault is None else None
            if owed:  # a fault that came too late to count, tried again
                plan = plan_fault(owed, run_rng(self.soak.seed, self.index, index, owed))
            vm, failures = self.run_once(index, plan, barrier if index == 0 else None)
            if not self.soak.stopping.is_set():
                self.soak.record(vm, failures)
            index += 1

    def kill_current(self):
        vm = self.current
        if vm and vm.proc and vm.proc.poll() is None:
            vm.proc.kill()


# --- The soak ---------------------------------------------------------------------------

class RunningSet:
    def __init__(self):
        self._lock = threading.Lock()
        self._vms = set()

    def add(self, vm):
        with self._lock:
            self._vms.add(vm)

    def discard(self, vm):
        with self._lock:
            self._vms.discard(vm)

    def snapshot(self):
        with self._lock:
            return list(self._vms)


def host_census(tmp, netns_prefix, jail_ids):
    """What the soak could leave on the host, counted across the whole of it."""
    first, last = (int(x) for x in jail_ids.split("-"))
    jailed = brigs = memfds = 0
    for pid in all_pids():
        status = proc_status(pid)
        if not status:
            continue
        jailed += first <= int(status["Uid"].split()[0]) <= last
        brigs += any(tmp in a for a in proc_argv(pid))
        census = fd_census(pid)
        memfds += census[1] if census else 0
    held = 0
    holders = flock_holders()
    for uid in range(first, last + 1):
        key = file_key(uid_lock_path(uid))
        held += bool(key and holders.get(key))
    mounts = sum(tmp in line for line in (read_text("/proc/self/mountinfo") or "").splitlines())
    run_brig = [e for e in (os.listdir("/run/brig") if os.path.isdir("/run/brig") else []) if e != "ids"]
    namespaces = sum(name.startswith(netns_prefix) for name in run_ip("netns", "list").stdout.split())
    return {
        "processes running as a jail uid": jailed,
        "brig processes of this soak": brigs,
        "uid locks held in the jail range": held,
        "network namespaces of this soak": namespaces,
        "mounts under the soak's directory": mounts,
        "files in /dev/shm": len(os.listdir("/dev/shm")),
        "files in /run/brig besides ids/": len(run_brig),
        "children of this script": len(children_of(os.getpid())),
        "fds of this script": len(os.listdir("/proc/self/fd")),
        "memfds on the whole host (others' too)": memfds,
    }


class Soak:
    def __init__(self, args, cleanup):
        self.vms, self.seed, self.fault_rate = args.vms, args.seed, args.fault_rate
        self.minutes, self.verbose, self.jail_ids = args.minutes, args.verbose, args.jail_ids
        self.log_dir = args.log_dir
        self.bins = {k: os.path.abspath(v) for k, v in binaries(args.build).items()}
        self.cleanup = cleanup
        self.stopping = threading.Event()
        self.running_vms = RunningSet()
        self.lock = threading.Lock()
        self.failures = []
        self.runs = 0
        self.by_mode = {}
        self.faults = {k: 0 for k in FAULT_KINDS}
        self.faults_late = {k: 0 for k in FAULT_KINDS}
        self.fault_targets = {"kill-device": {}, "stop-cont": {}}
        self.owed = []  # kinds whose planned fault came too late, for a later run
        self.tap_error_logged = 0  # tap-removed runs whose device logged the dead TAP
        self.expected_poweroff = self.powered_off = 0
        self.first_vms = []  # round 0: all N launched at once
        self.pss_samples = []  # (VMs running, total KiB, brig KiB, devices KiB)
        self.tmp = tempfile.mkdtemp(prefix="brig-soak-")
        cleanup.push("remove " + self.tmp, lambda: shutil.rmtree(self.tmp))
        self.slots = []

    def take_owed(self):
        with self.lock:
            return self.owed.pop(0) if self.owed else None

    # Results, from every slot's thread.
    def fail(self, vm, text):
        with self.lock:
            self.failures.append(text)
        fault = f" fault={vm.fault.kind}({vm.fault.target}{' pid %d' % vm.fault.pid if vm.fault.pid else ''})" \
            if vm.injected() else ""
        log(f"FAIL {vm.label()}{fault}: {text} [last guest line '{vm.last_console_line()}'; "
            f"brig's last line '{vm.final_line()}']")

    def record(self, vm, failures):
        kind = vm.injected()
        with self.lock:
            self.runs += 1
            self.by_mode[vm.workload.name] = self.by_mode.get(vm.workload.name, 0) + 1
            if kind:
                self.faults[kind] += 1
                if kind in self.fault_targets:
                    targets = self.fault_targets[kind]
                    targets[vm.fault.target] = targets.get(vm.fault.target, 0) + 1
            elif vm.fault:
                self.faults_late[vm.fault.kind] += 1
                self.owed.append(vm.fault.kind)
            if kind == "tap-removed" and getattr(vm.workload, "tap_error_logged", False):
                self.tap_error_logged += 1
            if kind not in ("kill-device", "kill-brig"):
                self.expected_poweroff += 1
                self.powered_off += vm.proc.returncode == 0 and SHUTDOWN_LINE == vm.final_line()
        for text in failures:
            self.fail(vm, text)
        if failures and self.log_dir:
            self.keep_logs(vm, failures)
        if self.verbose:
            fault = f" {vm.fault.kind}{'' if vm.fault.injected else ' (not injected: ' + vm.fault.note + ')'}" \
                if vm.fault else ""
            log(f"{vm.label()}{fault}: {describe_status(vm.proc.returncode)} after "
                f"{time.monotonic() - vm.launched:.1f} s{', ' + str(len(failures)) + ' failures' if failures else ''}")

    def keep_logs(self, vm, failures):
        """The failed run's console and brig's stderr, for a closer look afterwards."""
        os.makedirs(self.log_dir, exist_ok=True)
        base = os.path.join(self.log_dir, f"vm{vm.slot.index:02d}-run{vm.index:04d}")
        with vm.changed:
            console = [f"{t - vm.launched:9.3f} {text}" for t, text in vm.lines]
        with open(base + ".console", "w") as f:
            f.write(f"{' '.join(vm.argv())}\nfault: {vm.fault}\n" + "\n".join(failures + console) + "\n")
        with open(base + ".stderr", "w") as f:
            f.write(vm.stderr)

    def sample_pss(self):
        brig_kib = devices_kib = count = 0
        for vm in self.running_vms.snapshot():
            devices = list(vm.devices.values())  # a copy: its watcher may still add to it
            if len(devices) < len(DEVICE_NAMES):
                continue
            own = pss_kib(vm.proc.pid)
            parts = [pss_kib(d.pid) for d in devices if same_process(d)]
            if own is None or None in parts or len(parts) < len(devices):
                continue  # it ended meanwhile
            brig_kib += own
            devices_kib += sum(parts)
            count += 1
        if count:
            self.pss_samples.append((count, brig_kib + devices_kib, brig_kib, devices_kib))

    def start(self):
        for i in range(self.vms):
            slot = Slot(self, i)
            slot.setup()
            self.slots.append(slot)
        self.end_at = time.monotonic() + self.minutes * 60
        barrier = threading.Barrier(self.vms)
        self.threads = [threading.Thread(target=self._slot_main, args=(slot, barrier), daemon=True)
                        for slot in self.slots]
        for thread in self.threads:
            thread.start()

    def _slot_main(self, slot, barrier):
        try:
            slot.loop(barrier)
        except Exception as e:  # the harness itself broke: say so, and fail the soak
            barrier.abort()
            with self.lock:
                self.failures.append(f"vm{slot.index}: harness error: {e!r}")
            log(f"FAIL vm{slot.index}: harness error: {e!r}")

    def wait_first_round(self):
        """The start time of all N: from the first launch until every guest printed its
        first line; and the PSS of them all at that moment."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and not self.stopping.is_set():
            with self.lock:
                firsts = list(self.first_vms)
            started = [vm for vm in firsts if vm.first_line_at is not None]
            if len(started) == self.vms:
                self.sample_pss()
                launched = min(vm.launched for vm in firsts)
                return max(vm.first_line_at for vm in firsts) - launched, self.pss_samples[-1:]
            if any(vm.proc and vm.proc.poll() is not None and vm.first_line_at is None for vm in firsts):
                break  # one never started: no figure (its failure is reported)
            time.sleep(0.005)
        return None, []

    def watch(self):
        """Samples PSS and prints progress until every slot is done."""
        next_sample = time.monotonic() + PSS_EVERY
        next_progress = time.monotonic() + 60
        while any(t.is_alive() for t in self.threads):
            time.sleep(0.5)
            now = time.monotonic()
            if now >= next_sample:
                self.sample_pss()
                next_sample = now + PSS_EVERY
            if now >= next_progress:
                with self.lock:
                    log(f"{(self.minutes * 60 - (self.end_at - now)) / 60:.1f} min: {self.runs} runs, "
                        f"{sum(self.faults.values())} faults, {len(self.failures)} failures")
                next_progress = now + 60

    def stop(self):
        self.stopping.set()
        for slot in self.slots:
            slot.kill_current()
        for thread in getattr(self, "threads", []):
            thread.join(30)


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def print_summary(soak, start_time, first_pss, census_before, census_after, elapsed):
    log("summary")
    print(f"  VMs at once: {soak.vms} (serial, 2 x virtio-blk, virtio-rng, virtio-console, virtio-net, "
          f"virtio-vsock; every device jailed); seed {soak.seed}; {elapsed / 60:.1f} minutes")
    if start_time is None:
        print(f"  start time of all {soak.vms}: not measured (a VM ended before the last one started)")
    else:
        print(f"  start time of all {soak.vms} (launch until every guest printed its first line): "
              f"{start_time * 1000:.0f} ms")
    if first_pss:
        count, total, brig, devices = first_pss[0]
        print(f"  total PSS with all {count} running (brig + device processes, smaps_rollup as "
              f"bench/footprint.py; brig's includes the guest pages it touched): {mib(total)} "
              f"(brig {mib(brig)}, devices {mib(devices)}; {mib(total / count)} per VM)")
    if len(soak.pss_samples) > 1:
        per_vm = [total / count for count, total, _, _ in soak.pss_samples]
        print(f"  PSS per running VM over {len(per_vm)} samples, every {PSS_EVERY} s: median {mib(statistics.median(per_vm))}, "
              f"max {mib(max(per_vm))}; total at most {mib(max(s[1] for s in soak.pss_samples))}")
    first = soak.first_vms
    first_ok = sum(vm.proc.returncode == 0 for vm in first)
    print(f"  the first {soak.vms}: {first_ok} of {len(first)} powered off with exit 0")
    print(f"  runs: {soak.runs} ({', '.join(f'{k} {v}' for k, v in sorted(soak.by_mode.items()))})")
    print(f"  runs expected to power off: {soak.expected_poweroff}, powered off with exit 0: {soak.powered_off}"
          f"{' (all)' if soak.powered_off == soak.expected_poweroff else ''}")
    print(f"  faults injected: {', '.join(f'{k} {v}' for k, v in soak.faults.items())} "
          f"(total {sum(soak.faults.values())})")
    for kind, targets in soak.fault_targets.items():
        if targets:
            print(f"    {kind} targets: {', '.join(f'{t} {n}' for t, n in sorted(targets.items()))}")
    if soak.faults["tap-removed"]:
        print(f"    tap-removed: virtio-net0 logged 'TAP read: ...; receiving stops' in {soak.tap_error_logged} "
              f"of {soak.faults['tap-removed']}")
    late = {k: v for k, v in soak.faults_late.items() if v}
    if late:
        print(f"  faults not injected, the guest being done first: {', '.join(f'{k} {v}' for k, v in late.items())}")
    print("  host, before -> after:")
    for key, before in census_before.items():
        print(f"    {key}: {before} -> {census_after[key]}")
    print(f"  failures: {len(soak.failures)}")


def reap_strays():
    """Whatever the census found among our children (devices brig left, reparented to
    us as the subreaper) is counted already: end it, so nothing outlives the soak."""
    for pid in children_of(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def census_failures(before, after):
    informational = "memfds on the whole host (others' too)"
    return [f"{key}: {before[key]} before the soak, {after[key]} after" for key in before
            if key != informational and after[key] != before[key]]


def preflight():
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root (network namespaces, TAPs, mounts)")
    if not os.path.exists("/dev/kvm"):
        problems.append("/dev/kvm is missing")
    if not os.path.exists("/dev/net/tun"):
        problems.append("/dev/net/tun is missing")
    if shutil.which("ip") is None:
        problems.append("ip (iproute2) is not installed")
    return problems


def parse_args():
    ap = argparse.ArgumentParser(description="Many VMs at once under injected faults (numbers only).")
    ap.add_argument("--vms", type=int, help="VMs at once (default 20; --ci: 4)")
    ap.add_argument("--minutes", type=float, help="how long new VMs are started (default 30; --ci: 1.25)")
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="the build directory (default: build)")
    ap.add_argument("--seed", type=int, default=1, help="the seed for modes, faults and their times (default 1)")
    ap.add_argument("--fault-rate", type=float, default=0.2,
                    help="the chance that a run gets a fault, once every kind had one (default 0.2)")
    ap.add_argument("--jail-ids", default=DEFAULT_JAIL_IDS, help=f"brig's --jail-ids (default {DEFAULT_JAIL_IDS})")
    ap.add_argument("--ci", action="store_true", help="the short version: 4 VMs for 75 s, every fault kind")
    ap.add_argument("--verbose", action="store_true", help="a line per VM run")
    ap.add_argument("--log-dir", help="keep the console output and brig's stderr of every run with a failure here")
    args = ap.parse_args()
    if args.vms is None:
        args.vms = 4 if args.ci else 20
    if args.minutes is None:
        args.minutes = 1.25 if args.ci else 30
    if args.vms < 1 or args.minutes <= 0:
        ap.error("--vms and --minutes must be positive")
    return args


def raise_interrupted(signum, frame):
    raise Interrupted()


def main():
    args = parse_args()
    problems = preflight()
    if problems:
        log("cannot run: " + "; ".join(problems))
        return 2
    ensure_built(args.build)
    # Devices orphaned by a killed brig come to us, not to pid 1: we see and reap them.
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # SIGINT too: a shell without job control starts background jobs with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_interrupted)
    cleanup = Cleanup()
    soak = None
    status = 0
    try:
        soak = Soak(args, cleanup)
        netns_prefix = f"brig-soak-{os.getpid()}-"
        census_before = host_census(soak.tmp, netns_prefix, args.jail_ids)
        log(f"{args.vms} VMs for {args.minutes:g} minutes, seed {args.seed}, build {args.build}")
        began = time.monotonic()
        soak.start()
        start_time, first_pss = soak.wait_first_round()
        if start_time is not None:
            log(f"all {args.vms} started in {start_time * 1000:.0f} ms")
        soak.watch()
        elapsed = time.monotonic() - began
        soak.stop()
        cleanup.run_all()
        census_after = host_census(soak.tmp, netns_prefix, args.jail_ids)
        reap_strays()
        missing = [kind for kind, count in soak.faults.items() if count == 0]
        if args.ci and missing:
            soak.failures.append("no fault of these kinds landed: " + ", ".join(missing))
            log("FAIL " + soak.failures[-1])
        for text in census_failures(census_before, census_after):
            soak.failures.append(text)
            log("FAIL host: " + text)
        print_summary(soak, start_time, first_pss, census_before, census_after, elapsed)
        status = 1 if soak.failures else 0
    except (KeyboardInterrupt, Interrupted):
        log("interrupted: stopping every VM and cleaning up")
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if soak:
            soak.stop()
        cleanup.run_all()
    return status


if __name__ == "__main__":
    sys.exit(main())
