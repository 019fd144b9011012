#!/usr/bin/env python3
"""virtio-vsock: throughput each way and the round trip of one byte, brig (device
jailed, host side on unix sockets) against the limit of this host measured in the
same run: two host processes copying through a unix socket. No peer VMM runs vsock
here (there is no /dev/vhost-vsock), so the ratio is to that limit.

- guest -> host: mode=vsock-send; the host receives BYTES through PATH_5001, checks
  the pattern and sums it (tests/vsock/vsock-test.py's StreamCheck), first byte to
  end-of-file.
- host -> guest: mode=vsock-recv; the host CONNECTs and sends BYTES of the pattern;
  timed from the first byte sent to the guest's checksum reply, which it sends once
  it has read and checked everything.
- round trip: mode=vsock-echo-server; one byte sent, its echo awaited, COUNT times;
  the median.
- the unix-socket limit: the same host code on both sides of a socketpair between two
  processes (the sender a child process), the same sizes.

The guest's driver runs in emulated ring 0 on kvm_pvm hosts, so these are
small-guest figures. Numbers only, nothing asserted.

usage: bench/vsock.py [--build build] [--bytes 16777216] [--runs 3] [--count 200]
"""
import argparse
import importlib.util
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("vsock_test", os.path.join(ROOT, "tests", "vsock", "vsock-test.py"))
vt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vt)  # the pattern and its checksum have one home: the harness

CHUNK = 65536


def receive_all(conn, check):
    """Reads to end-of-file into `check`; returns (bytes, seconds from the first byte)."""
    first = None
    total = 0
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        if first is None:
            first = time.monotonic()
        check.feed(data)
        total += len(data)
    check.finish()
    return total, time.monotonic() - (first or time.monotonic())


def send_pattern(conn, total):
    for block in vt.pattern_stream(total):
        conn.sendall(block)


class Brig:
    def __init__(self, build, cmdline, sock):
        guest = os.path.join(build, "tests", "guest", "brig-test-guest.elf")
        env = dict(os.environ, BRIG_POLICY_DIR=os.path.join(ROOT, "policies"))
        self.proc = subprocess.Popen(
            [os.path.join(build, "vmm", "brig"), "run", "--kernel", guest, "--mem", "256", "--no-rng", "--vsock",
             f"cid=3,socket={sock}", "--cmdline", cmdline], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env)
        self.lines = []
        self.seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.seen:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.seen.notify_all()

    def wait_line(self, prefix, timeout=120):
        deadline = time.monotonic() + timeout
        with self.seen:
            while not any(l.startswith(prefix) for l in self.lines):
                if not self.seen.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"no '{prefix}' line from the guest")

    def finish(self, timeout=120):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("brig did not exit")
        if self.proc.returncode != 0 or any("vsock: FAIL" in l for l in self.lines):
            raise RuntimeError(f"brig exited {self.proc.returncode}: " + " | ".join(self.lines[-5:]))


def connect(sock, port):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        byte = s.recv(1)
        if not byte:
            raise RuntimeError(f"CONNECT {port}: closed")
        line += byte
    if not line.startswith(b"OK "):
        raise RuntimeError(f"CONNECT {port}: {line!r}")
    return s


def brig_g2h(build, total, directory):
    sock = os.path.join(directory, "v.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock + "_5001")
    listener.listen(1)
    vm = Brig(build, f"mode=vsock-send vsock.port=5001 vsock.bytes={total}", sock)
    listener.settimeout(120)
    conn, _ = listener.accept()
    check = vt.StreamCheck()
    got, seconds = receive_all(conn, check)
    conn.sendall(check.sum().to_bytes(8, "little"))
    conn.close()
    listener.close()
    vm.finish()
    if got != total or check.bad:
        raise RuntimeError(f"guest -> host: {got} bytes, {check.bad} bad words")
    return total / seconds / 1e6


def brig_h2g(build, total, directory):
    sock = os.path.join(directory, "v.sock")
    vm = Brig(build, f"mode=vsock-recv vsock.port=6001 vsock.bytes={total}", sock)
    vm.wait_line("vsock: listening")
    s = connect(sock, 6001)
    start = time.monotonic()
    send_pattern(s, total)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while len(reply) < 8:
        data = s.recv(8 - len(reply))
        if not data:
            break
        reply += data
    seconds = time.monotonic() - start
    s.close()
    vm.finish()
    if int.from_bytes(reply, "little") != vt.pattern_sum(total // 4):
        raise RuntimeError("host -> guest: the guest's checksum differs")
    return total / seconds / 1e6


def round_trips(s, count):
    times = []
    for _ in range(count):
        start = time.monotonic()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise RuntimeError("echo: wrong byte")
        times.append(time.monotonic() - start)
    return statistics.median(times) * 1e6


def brig_rtt(build, count, directory):
    sock = os.path.join(directory, "v.sock")
    vm = Brig(build, "mode=vsock-echo-server vsock.port=6000 vsock.conns=1", sock)
    vm.wait_line("vsock: listening")
    s = connect(sock, 6000)
    rtt = round_trips(s, count)
    s.close()
    vm.finish()
    return rtt


def _sender(fd, total):
    s = socket.socket(fileno=fd)
    send_pattern(s, total)
    s.close()


def _echoer(fd):
    s = socket.socket(fileno=fd)
    while True:
        data = s.recv(1)
        if not data:
            return
        s.sendall(data)


def unix_throughput(total):
    ours, theirs = socket.socketpair()
    child = multiprocessing.Process(target=_sender, args=(theirs.detach(), total))
    child.start()
    check = vt.StreamCheck()
    got, seconds = receive_all(ours, check)
    child.join()
    if got != total or check.bad:
        raise RuntimeError("unix socket copy went wrong")
    return total / seconds / 1e6


def unix_rtt(count):
    ours, theirs = socket.socketpair()
    child = multiprocessing.Process(target=_echoer, args=(theirs.detach(),))
    child.start()
    rtt = round_trips(ours, count)
    ours.close()
    child.join()
    return rtt


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--bytes", type=int, default=16 << 20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=200, help="round trips per run")
    args = parser.parse_args()
    results = {k: [] for k in ("brig g2h", "unix g2h", "brig h2g", "unix h2g", "brig rtt", "unix rtt")}
    with tempfile.TemporaryDirectory(prefix="brig-bench-vsock.") as directory:
        for run in range(args.runs):
            # Alternating, so that a slow spell of the host hits both.
            results["brig g2h"].append(brig_g2h(args.build, args.bytes, directory))
            results["unix g2h"].append(unix_throughput(args.bytes))
            results["brig h2g"].append(brig_h2g(args.build, args.bytes, directory))
            results["unix h2g"].append(unix_throughput(args.bytes))
            results["brig rtt"].append(brig_rtt(args.build, args.count, directory))
            results["unix rtt"].append(unix_rtt(args.count))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nvirtio-vsock, {args.bytes >> 20} MiB each way, median of {args.runs} runs "
          f"(the host side checks and sums every byte, on both paths):")
    print(f"  guest -> host   brig {med['brig g2h']:8.1f} MB/s   unix socket {med['unix g2h']:8.1f} MB/s   "
          f"ratio {med['brig g2h'] / med['unix g2h']:.2f}")
    print(f"  host -> guest   brig {med['brig h2g']:8.1f} MB/s   unix socket {med['unix h2g']:8.1f} MB/s   "
          f"ratio {med['brig h2g'] / med['unix h2g']:.2f}")
    print(f"  1-byte RTT      brig {med['brig rtt']:8.1f} us     unix socket {med['unix rtt']:8.1f} us     "
          f"ratio {med['brig rtt'] / med['unix rtt']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
