#!/usr/bin/env python3
"""virtio-net under job control, with every seccomp filter installed (brig's default):
run inside with-tap-netns.sh. While the host pings the guest (mode=net-responder),
brig is stopped and continued, then the virtio-net device process is. Every ping must
still be answered (late is fine), the guest must power off, and brig exit 0 with no
seccomp violation (a syscall the kernel restarts after SIGCONT is found only so).

usage: stop-cont-test.py BRIG GUEST
"""
import os
import signal
import subprocess
import sys
import time

PINGS = 8


def device_pid(brig_pid):
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/status") as f:
                if f"PPid:\t{brig_pid}\n" not in f.read():
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"\0virtio-net0\0" in f.read():
                    return int(entry)
        except OSError:
            pass
    return None


def main():
    brig, guest = sys.argv[1], sys.argv[2]
    proc = subprocess.Popen([brig, "run", "--kernel", guest, "--mem", "64", "--net", "tap-name=" + os.environ["BRIG_TAP"],
                             "--cmdline", f"mode=net-responder net.replies={PINGS}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    console = b""
    deadline = time.monotonic() + 60
    while b"responder listening" not in console and time.monotonic() < deadline:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        console += chunk
    device = device_pid(proc.pid)
    failures = [] if device else ["no virtio-net0 device process"]
    ping = subprocess.Popen(["busybox", "ping", "-c", str(PINGS), "-i", "0.5", "-W", "3", "10.77.0.2"],
                            stdout=subprocess.PIPE, text=True)
    for pid in filter(None, (proc.pid, device)):
        time.sleep(0.6)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(1)
        os.kill(pid, signal.SIGCONT)
    ping_out = ping.communicate(timeout=60)[0]
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    console += out
    print(console.decode(errors="replace") + err.decode(errors="replace") + ping_out)
    if f"{PINGS} packets received" not in ping_out:
        failures.append("not every ping was answered")
    if f"net: responder answered {PINGS}".encode() not in console:
        failures.append("the guest did not answer every ping")
    if proc.returncode != 0:
        failures.append(f"brig exited {proc.returncode}")
    for failure in failures:
        print("stop-cont: FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
