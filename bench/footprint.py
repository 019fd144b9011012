#!/usr/bin/env python3
"""Memory footprint and device-spawn time of a running brig.

Boots the test guest in its `spin` mode, waits for it to print, then reads
/proc/PID/smaps_rollup of brig and of each device process (RSS and PSS), and the
device-spawn time brig logs at debug level. Numbers only; nothing is asserted.

usage: bench/footprint.py [--build build] [--mem 128] [--runs 5]
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import time


def rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(Rss|Pss):\s+(\d+) kB", line)
            if m:
                fields[m.group(1)] = int(m.group(2))
    return fields


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    if re.search(rf"^PPid:\s+{pid}$", f.read(), re.M):
                        out.append(int(entry))
            except OSError:
                pass
    return out


def one_run(brig, guest, mem):
    proc = subprocess.Popen([brig, "run", "--kernel", guest, "--cmdline", "mode=spin", "--mem", str(mem),
                             "--log-level", "debug"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = ""
    while "spin: 1" not in out:
        out += os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
    brig_mem = rollup(proc.pid)
    devices = {pid: rollup(pid) for pid in children(proc.pid)}
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    spawn = [int(m) for m in re.findall(r"jailed and active in (\d+) us", err)]
    return brig_mem, devices, spawn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    brig = os.path.join(args.build, "vmm", "brig")
    guest = os.path.join(args.build, "tests", "guest", "brig-test-guest.elf")
    rss, pss, drss, dpss, spawn = [], [], [], [], []
    for _ in range(args.runs):
        b, devs, s = one_run(brig, guest, args.mem)
        rss.append(b["Rss"])
        pss.append(b["Pss"])
        for d in devs.values():
            drss.append(d["Rss"])
            dpss.append(d["Pss"])
        spawn += s
    med = statistics.median
    print(f"median of {args.runs} runs, {args.mem} MiB guest (spin test guest), devices: serial and virtio-rng:")
    print(f"  brig (VMM)             RSS {med(rss):7.0f} KiB   PSS {med(pss):7.0f} KiB   (includes guest pages touched)")
    print(f"  each device process    RSS {med(drss):7.0f} KiB   PSS {med(dpss):7.0f} KiB")
    print(f"  device spawn (fork+exec, jail, activate) {med(spawn):7.0f} us")


if __name__ == "__main__":
    main()
