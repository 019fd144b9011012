#!/usr/bin/env python3
"""virtio-net: the test guest's net modes under brig (device jailed) and under QEMU
microvm (-accel kvm, -netdev tap), alternating, in the same run, on a TAP in a
network namespace of the benchmark's own (tests/net/with-tap-netns.sh; it re-runs
itself there, as root).

- guest -> host UDP: mode=net-udp-tx sends COUNT datagrams of SIZE bytes; a receiver
  here counts them and times the first to the last.
- host -> guest UDP: mode=net-udp-rx; once the guest says "ready", datagrams
  0..COUNT-1 are sent here as fast as the socket takes them, round after round, until
  the guest has all COUNT; frames/s is COUNT over that time (what it dropped is resent).
- ping, host -> guest: mode=net-responder, `ping -i 0.05` from here; its avg RTT.
- ping, guest -> host: mode=net-ping; the time between the guest's first and last
  "ping seq=K ok" lines over the count: one round trip each, plus the console line.
- CPU per frame: the VMM's whole CPU time (its threads and, for brig, its reaped
  device processes: wait4's rusage) over the frames of the two UDP runs; and, for
  brig, the virtio-net device process's own CPU time (from its shutdown log line).

The guest's driver loops run in emulated ring 0 on kvm_pvm hosts, for both VMMs,
so these are small-guest figures. Numbers only, nothing asserted.

usage: bench/net.py [--build build] [--count 2000] [--size 1024] [--runs 3]
"""
import argparse
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

from markers import qemu_microvm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST_IP, HOST_IP, PORT, MAC = "10.77.0.2", "10.77.0.1", 5001, "52:54:00:12:34:56"
DEVICE_CPU = re.compile(rb"\[virtio-net0\] device: (?:debug )?cpu time (\d+) us")


def vmm_commands(build, tap, append):
    guest = os.path.join(build, "tests", "guest", "brig-test-guest.elf")
    brig = [os.path.join(build, "vmm", "brig"), "run", "--kernel", guest, "--cmdline", append, "--mem", "128",
            "--no-rng", "--net", f"tap-name={tap},mac={MAC}", "--log-level", "debug"]
    qemu = qemu_microvm(guest, append, 128, ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                                             "-device", f"virtio-net-device,netdev=n0,mac={MAC}"])
    return {"brig": brig, "qemu": qemu}


class Run:
    """A VMM run: its console lines with arrival times, its stderr, its rusage."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines, self.err, self.usage, self.exited = [], b"", None, False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\r\n")))

    def alive(self):
        """Reaps the VMM with wait4 (never Popen.poll, which would lose its rusage)."""
        if not self.exited:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid == self.proc.pid:
                self.exited, self.usage, self.proc.returncode = True, usage, status
        return not self.exited

    def wait_line(self, prefix, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for when, line in list(self.lines):
                if line.startswith(prefix):
                    return when, line
            if not self.alive() and not self._reader.is_alive():
                return None
            time.sleep(0.005)
        return None

    @staticmethod
    def cpu_seconds(usage):
        return (usage.ru_utime + usage.ru_stime) if usage else float("nan")


def wait_exit(run):
    """Waits for the VMM and returns its rusage (all of its threads and reaped children)."""
    end = time.monotonic() + 180
    while run.alive() and time.monotonic() < end:
        time.sleep(0.01)
    if run.alive():
        run.proc.kill()
        while run.alive():
            time.sleep(0.01)
    run._reader.join(5)
    run.err = run.proc.stderr.read()
    return run.usage


def device_cpu(run):
    m = DEVICE_CPU.search(run.err)
    return int(m.group(1)) / 1e6 if m else None


def guest_to_host(cmds, count, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST_IP, PORT))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    run = Run(cmds)
    got, first, last = set(), None, None
    while run.alive() or select.select([sock], [], [], 0)[0]:
        if not select.select([sock], [], [], 0.2)[0]:
            continue
        data = sock.recv(65536)
        now = time.monotonic()
        if len(data) == size and data != b"ready":
            got.add(int.from_bytes(data[:4], "little"))
            first = first or now
            last = now
    usage = wait_exit(run)
    sock.close()
    seconds = (last - first) if first and last and last > first else float("nan")
    return {"frames": len(got), "seconds": seconds, "cpu": run.cpu_seconds(usage), "device_cpu": device_cpu(run)}


def payload(seq, size):
    head = seq.to_bytes(4, "little")
    return head + bytes((seq + i) & 0xFF for i in range(4, size))


def host_to_guest(cmds, count, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST_IP, PORT))
    run = Run(cmds)
    sock.settimeout(60)
    try:
        _, peer = sock.recvfrom(64)  # the guest's "ready"
    except socket.timeout:
        peer = None
    frames = [payload(seq, size) for seq in range(count)]
    start = time.monotonic()
    done = None
    while peer and run.alive() and not done:
        for frame in frames:
            try:
                sock.sendto(frame, (GUEST_IP, PORT))
            except OSError:
                pass
        done = next((w for w, line in list(run.lines) if line.startswith("net: udp-rx got")), None)
    done = run.wait_line("net: udp-rx got", timeout=60)
    usage = wait_exit(run)
    sock.close()
    seconds = (done[0] - start) if done else float("nan")
    frames_got = int(done[1].split()[3]) if done else 0
    return {"frames": frames_got, "seconds": seconds, "cpu": run.cpu_seconds(usage), "device_cpu": device_cpu(run)}


def ping_host_to_guest(cmds, count):
    run = Run(cmds)
    rtt = float("nan")
    if run.wait_line("net: responder listening", timeout=60):
        ping = ["ping"] if subprocess.run(["which", "ping"], capture_output=True).returncode == 0 else [
            "busybox", "ping"]
        out = subprocess.run(ping + ["-c", str(count), "-i", "0.05", "-W", "2", GUEST_IP], capture_output=True,
                             text=True, timeout=120).stdout
        m = re.search(r"= [\d.]+/([\d.]+)/", out)
        rtt = float(m.group(1)) if m else float("nan")
    wait_exit(run)
    return rtt


def ping_guest_to_host(cmds, count):
    run = Run(cmds)
    run.wait_line("net: ping ok", timeout=120)
    wait_exit(run)
    times = [w for w, line in run.lines if re.match(r"net: ping seq=\d+ ok", line)]
    return (times[-1] - times[0]) / (len(times) - 1) * 1000 if len(times) > 1 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if "BRIG_TAP" not in os.environ:
        script = os.path.join(ROOT, "tests", "net", "with-tap-netns.sh")
        os.execv(script, [script, "--host-ip", HOST_IP + "/24", "--", sys.executable, os.path.abspath(__file__)]
                 + sys.argv[1:])
    tap = os.environ["BRIG_TAP"]
    build = os.path.abspath(args.build)
    c, s = args.count, args.size
    results = {vmm: {"tx": [], "rx": [], "ping_in": [], "ping_out": []} for vmm in ("brig", "qemu")}
    for _ in range(args.runs):
        for vmm in ("brig", "qemu"):
            r = results[vmm]
            r["tx"].append(guest_to_host(vmm_commands(build, tap, f"mode=net-udp-tx net.count={c} net.size={s}")[vmm],
                                         c, s))
            r["rx"].append(host_to_guest(vmm_commands(build, tap, f"mode=net-udp-rx net.count={c} net.size={s}")[vmm],
                                         c, s))
            r["ping_in"].append(ping_host_to_guest(vmm_commands(build, tap, "mode=net-responder net.replies=20")[vmm],
                                                   20))
            r["ping_out"].append(ping_guest_to_host(vmm_commands(build, tap, "mode=net-ping net.count=20")[vmm], 20))

    def med(values):
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    print(f"virtio-net on a TAP, test guest, {c} UDP datagrams of {s} bytes each way, median of {args.runs} runs")
    rows = []
    for direction, key in (("guest -> host", "tx"), ("host -> guest", "rx")):
        fps = {v: med([x["frames"] / x["seconds"] for x in results[v][key]]) for v in results}
        mbs = {v: fps[v] * s / 1e6 for v in results}
        cpu = {v: med([x["cpu"] / max(x["frames"], 1) * 1e6 for x in results[v][key]]) for v in results}
        dev = med([x["device_cpu"] / max(x["frames"], 1) * 1e6 for x in results["brig"][key]
                   if x["device_cpu"] is not None])
        rows.append((direction, fps, mbs, cpu, dev))
    for direction, fps, mbs, cpu, dev in rows:
        print(f"  UDP {direction}: brig {fps['brig']:8.0f} frames/s {mbs['brig']:6.2f} MB/s  "
              f"qemu {fps['qemu']:8.0f} frames/s {mbs['qemu']:6.2f} MB/s  brig/qemu {fps['brig'] / fps['qemu']:5.2f}")
        print(f"    CPU per frame (whole VMM): brig {cpu['brig']:7.1f} us  qemu {cpu['qemu']:7.1f} us  "
              f"brig/qemu {cpu['brig'] / cpu['qemu']:5.2f};  brig's virtio-net process alone {dev:6.1f} us")
    for name, key in (("host -> guest (ping -i 0.05)", "ping_in"), ("guest -> host (guest's loop)", "ping_out")):
        b, q = med(results["brig"][key]), med(results["qemu"][key])
        print(f"  ping RTT {name}: brig {b:6.3f} ms  qemu {q:6.3f} ms  brig/qemu {b / q:5.2f}")


if __name__ == "__main__":
    main()
