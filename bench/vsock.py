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
- the unix-socket limit: a child process writing the same number of bytes into a
  socketpair, 64 KiB at a time, and this one reading and counting them; and the same
  one-byte round trip against a child that echoes.
- The guest polls its rings for 1 ms before it halts (vsock.poll=1), as a latency
  measurement must; the tests let it halt at once.

The guest's driver runs in emulated ring 0 on kvm_pvm hosts, so these are
small-guest figures. Numbers only, nothing asserted.

usage: bench/vsock.py [--build build] [--bytes 16777216] [--runs 3] [--count 200]
"""
import argparse
import importlib.util
import multiprocessing
import os
import re
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
DEVICE_CPU = re.compile(rb"\[virtio-vsock\] device: (?:debug )?cpu time (\d+) us")


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
             f"cid=3,socket={sock}", "--cmdline", cmdline, "--log-level", "debug"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = []
        self.stderr = b""
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.seen:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.seen.notify_all()

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def device_cpu_us(self):
        """The virtio-vsock device process's own CPU time, from its shutdown line."""
        found = DEVICE_CPU.findall(self.stderr)
        return int(found[-1]) if found else None

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
    if os.path.exists(sock + "_5001"):
        os.unlink(sock + "_5001")
    listener.bind(sock + "_5001")
    listener.listen(1)
    vm = Brig(build, f"mode=vsock-send vsock.port=5001 vsock.bytes={total} vsock.poll=1", sock)
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
    return total / seconds / 1e6, vm.device_cpu_us()


def brig_h2g(build, total, directory):
    sock = os.path.join(directory, "v.sock")
    vm = Brig(build, f"mode=vsock-recv vsock.port=6001 vsock.bytes={total} vsock.poll=1", sock)
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
    return total / seconds / 1e6, vm.device_cpu_us()


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
    vm = Brig(build, "mode=vsock-echo-server vsock.port=6000 vsock.conns=1 vsock.poll=1", sock)
    vm.wait_line("vsock: listening")
    s = connect(sock, 6000)
    rtt = round_trips(s, count)
    s.close()
    vm.finish()
    return rtt


def _sender(fd, parent_fd, total):
    os.close(parent_fd)  # forked with the parent's end, which must end with the parent
    s = socket.socket(fileno=fd)
    block = b"".join(vt.pattern_stream(CHUNK))
    for _ in range(total // CHUNK):
        s.sendall(block)
    s.close()


def _echoer(fd, parent_fd):
    os.close(parent_fd)  # forked with the parent's end, which must end with the parent
    s = socket.socket(fileno=fd)
    while True:
        data = s.recv(1)
        if not data:
            return
        s.sendall(data)


def unix_throughput(total):
    ours, theirs = socket.socketpair()
    fd = theirs.detach()
    child = multiprocessing.Process(target=_sender, args=(fd, ours.fileno(), total))
    child.start()
    os.close(fd)  # the child's now: end-of-file comes when it closes
    # The socket's own limit: bytes copied and counted, not checked (the checks of the
    # brig runs cost far less than the guest's own rate).
    buffer = bytearray(1 << 20)
    got, first = 0, None
    while True:
        n = ours.recv_into(buffer)
        if n == 0:
            break
        first = first or time.monotonic()
        got += n
    seconds = time.monotonic() - first
    child.join()
    if got != total:
        raise RuntimeError("unix socket copy went wrong")
    return total / seconds / 1e6


def unix_rtt(count):
    ours, theirs = socket.socketpair()
    fd = theirs.detach()
    child = multiprocessing.Process(target=_echoer, args=(fd, ours.fileno()))
    child.start()
    os.close(fd)
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
    device_cpu = {"g2h": [], "h2g": []}
    with tempfile.TemporaryDirectory(prefix="brig-bench-vsock.") as directory:
        for run in range(args.runs):
            # Alternating, so that a slow spell of the host hits both.
            rate, cpu = brig_g2h(args.build, args.bytes, directory)
            results["brig g2h"].append(rate)
            device_cpu["g2h"].append(cpu)
            results["unix g2h"].append(unix_throughput(args.bytes))
            rate, cpu = brig_h2g(args.build, args.bytes, directory)
            results["brig h2g"].append(rate)
            device_cpu["h2g"].append(cpu)
            results["unix h2g"].append(unix_throughput(args.bytes))
            results["brig rtt"].append(brig_rtt(args.build, args.count, directory))
            results["unix rtt"].append(unix_rtt(args.count))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    mib = args.bytes / (1 << 20)
    cpu = {k: statistics.median(v) / mib if all(x is not None for x in v) else float("nan")
           for k, v in device_cpu.items()}
    print(f"\nvirtio-vsock, {args.bytes >> 20} MiB each way, median of {args.runs} runs (brig: the host side checks "
          f"and sums every byte; the unix socket: copied and counted):")
    print(f"  guest -> host   brig {med['brig g2h']:8.1f} MB/s   unix socket {med['unix g2h']:8.1f} MB/s   "
          f"ratio {med['brig g2h'] / med['unix g2h']:.2g}   device CPU {cpu['g2h']:.0f} us/MiB")
    print(f"  host -> guest   brig {med['brig h2g']:8.1f} MB/s   unix socket {med['unix h2g']:8.1f} MB/s   "
          f"ratio {med['brig h2g'] / med['unix h2g']:.2g}   device CPU {cpu['h2g']:.0f} us/MiB")
    print(f"  1-byte RTT      brig {med['brig rtt']:8.1f} us     unix socket {med['unix rtt']:8.1f} us     "
          f"ratio {med['brig rtt'] / med['unix rtt']:.3g}")


if __name__ == "__main__":
    sys.exit(main())
