#!/usr/bin/env python3
"""A flood from the host side does not grow brig's virtio-net device: run inside
with-tap-netns.sh. The guest (mode=net-udp-rx, a count it never reaches) receives
as fast as its emulated driver can; this script sends UDP at it as fast as the
socket takes, for a few seconds, and checks that the device process's resident and
data memory, and brig's, stay where they were (the device holds at most one frame;
the rest is dropped by the TAP's queue). Then SIGTERM: brig must exit 0.

usage: flood-test.py BRIG GUEST
"""
import os
import signal
import socket
import subprocess
import sys
import time

GUEST_IP, HOST_IP, PORT = "10.77.0.2", os.environ.get("BRIG_HOST_IP", "10.77.0.1"), 5001
FLOOD_SECONDS = 4
MAX_GROWTH_KIB = 1024


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def device_pid(brig_pid):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if status_ppid(entry) == brig_pid and len(argv) > 2 and argv[2] == b"virtio-net0":
                return int(entry)
        except OSError:
            pass
    return None


def status_ppid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return -1


def main():
    brig, guest = sys.argv[1], sys.argv[2]
    tap = os.environ["BRIG_TAP"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST_IP, PORT))
    sock.settimeout(60)
    proc = subprocess.Popen([brig, "run", "--kernel", guest, "--mem", "64", "--net", f"tap-name={tap}",
                             "--cmdline", "mode=net-udp-rx net.count=60000"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    failures = []
    try:
        sock.recvfrom(64)  # the guest's "ready": it is receiving, and its MAC is known
        pid = device_pid(proc.pid)
        if pid is None:
            failures.append("no virtio-net0 device process")
            return 1
        before = {f: status_kib(pid, f) for f in ("VmRSS", "VmData")}
        brig_before = status_kib(proc.pid, "VmRSS")
        frame = bytes(4) + bytes(range(256)) * 4
        sent, end = 0, time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            for _ in range(256):
                try:
                    sock.sendto(frame, (GUEST_IP, PORT))
                    sent += 1
                except OSError:
                    pass
        after = {f: status_kib(pid, f) for f in ("VmRSS", "VmData")}
        brig_after = status_kib(proc.pid, "VmRSS")
        print(f"flood: sent {sent} datagrams in {FLOOD_SECONDS} s; device {before} -> {after}; "
              f"brig VmRSS {brig_before} -> {brig_after} KiB")
        for field in before:
            if after[field] - before[field] > MAX_GROWTH_KIB:
                failures.append(f"the device's {field} grew by {after[field] - before[field]} KiB")
        if brig_after - brig_before > MAX_GROWTH_KIB:
            failures.append(f"brig's VmRSS grew by {brig_after - brig_before} KiB")
        if proc.poll() is not None:
            failures.append(f"brig exited during the flood ({proc.returncode})")
    except socket.timeout:
        failures.append("the guest never said ready")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"brig exited {proc.returncode}: {err.decode(errors='replace').strip()}")
        for failure in failures:
            print("flood: FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
