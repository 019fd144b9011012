#!/usr/bin/env python3
"""Boot-time benchmark: brig against QEMU microvm, same kernel, same machine, same run.

Measures wall time from process start to
  - the test guest's first serial byte, and to its ACPI power-off (process exit);
  - with --linux KIT_DIR: the Debian kernel's "smpboot:" line (PVH vmlinux + initramfs).
Prints medians and the brig/QEMU ratio. Numbers only, no pass/fail: this is a benchmark.

With --hugepages, brig also runs with its guest RAM on 2 MiB huge pages (reserved for
the run, then given back), reported against QEMU and against brig on normal pages.

usage: bench/boot_time.py [--build build] [--runs 10] [--hugepages] [--linux KIT_DIR] [--linux-runs 2]
"""
import argparse
import contextlib
import os
import select
import signal
import statistics
import subprocess
import time

import hugepages


def timed_run(cmd, marker=None, stop_on_marker=False, timeout=300):
    """Returns (ms to first stdout byte, ms to marker or None, ms to exit)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = seen = None
    out = b""
    fd = proc.stdout.fileno()
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            proc.kill()
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = (time.monotonic() - start) * 1000
        if first is None:
            first = now
        out += chunk
        if marker and seen is None and marker.encode() in out:
            seen = now
            if stop_on_marker:
                proc.send_signal(signal.SIGTERM)
    proc.wait()
    return first, seen, (time.monotonic() - start) * 1000


def qemu_cmd(kernel, append, mem, cpus, initrd=None):
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", str(mem), "-smp", str(cpus),
           "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none",
           "-no-reboot", "-kernel", kernel, "-append", append]
    if initrd:
        cmd += ["-initrd", initrd]
    return cmd


def brig_cmd(brig, kernel, append, mem, cpus, initrd=None):
    cmd = [brig, "run", "--kernel", kernel, "--cmdline", append, "--mem", str(mem), "--cpus", str(cpus),
           "--log-level", "warn"]
    if initrd:
        cmd += ["--initrd", initrd]
    return cmd


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def report(name, brig_values, qemu_values):
    b, q = median(brig_values), median(qemu_values)
    print(f"{name:44s} brig {b:9.1f} ms   qemu-microvm {q:9.1f} ms   brig/qemu {b / q:5.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--linux", metavar="KIT_DIR")
    ap.add_argument("--linux-runs", type=int, default=2)
    ap.add_argument("--hugepages", action="store_true")
    args = ap.parse_args()
    brig = os.path.join(args.build, "vmm", "brig")
    guest = os.path.join(args.build, "tests", "guest", "brig-test-guest.elf")

    results = {"brig": [], "qemu": [], "huge": []}
    with hugepages.reserved(128) if args.hugepages else contextlib.nullcontext():
        for _ in range(args.runs):
            results["brig"].append(timed_run(brig_cmd(brig, guest, "mode=poweroff", 128, 1)))
            if args.hugepages:
                results["huge"].append(timed_run(brig_cmd(brig, guest, "mode=poweroff", 128, 1) + ["--hugepages"]))
            results["qemu"].append(timed_run(qemu_cmd(guest, "mode=poweroff", 128, 1)))
    print(f"test guest (PVH ELF, 128 MiB, 1 vCPU), median of {args.runs} runs:")
    report("  first serial byte", [r[0] for r in results["brig"]], [r[0] for r in results["qemu"]])
    report("  ACPI power-off, process exit", [r[2] for r in results["brig"]], [r[2] for r in results["qemu"]])
    if args.hugepages:
        for name, i in (("first serial byte", 0), ("ACPI power-off, process exit", 2)):
            report(f"  {name}, --hugepages", [r[i] for r in results["huge"]], [r[i] for r in results["qemu"]])
            h, n = median([r[i] for r in results["huge"]]), median([r[i] for r in results["brig"]])
            print(f"{'':44s} hugepages/normal pages {h / n:5.2f}")

    if args.linux:
        vmlinux = os.path.join(args.linux, "vmlinux")
        initrd = os.path.join(args.linux, "initramfs.cpio.gz")
        append = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=-1"
        b, q = [], []
        for _ in range(args.linux_runs):
            b.append(timed_run(brig_cmd(brig, vmlinux, append, 256, 2, initrd), "smpboot:", True))
            q.append(timed_run(qemu_cmd(vmlinux, append, 256, 2, initrd), "smpboot:", True))
        print(f"Debian kernel (PVH vmlinux, 256 MiB, 2 vCPUs), median of {args.linux_runs} runs:")
        report("  first serial byte", [r[0] for r in b], [r[0] for r in q])
        report("  'smpboot:' line", [r[1] for r in b], [r[1] for r in q])


if __name__ == "__main__":
    main()
