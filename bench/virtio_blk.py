#!/usr/bin/env python3
"""virtio-blk throughput: the test guest's blk-bench mode under brig and under QEMU
microvm, same guest file, same 256 MiB raw image, same run.

The guest prints markers (bench: seqwrite start/done, seqread start/done, randread
start/done); this script timestamps them as they arrive on the console and turns
the intervals into MB/s and IOPS. Guest kernel mode is emulated on kvm_pvm hosts,
so the guest driver's own loops are part of what is measured, for both VMMs.
Numbers only, nothing asserted.

usage: bench/virtio_blk.py [--build build] [--mib 16] [--runs 3]
"""
import argparse
import os
import re
import select
import statistics
import subprocess
import tempfile
import time

RANDREADS = 1000  # the guest's blk-bench mode does this many 4 KiB random reads
MARKERS = ["seqwrite", "seqread", "randread"]


STATS = re.compile(rb"\[virtio-blk0\] (\d+) queue notifies \(ioeventfd\), (\d+) interrupts")


def timed_markers(cmd, timeout=600):
    """Returns ({phase: seconds}, (notifies, interrupts) or None, wall seconds)."""
    start = time.monotonic()
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file)
    seen, out, fd = {}, b"", proc.stdout.fileno()
    while time.monotonic() - start < timeout:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
        now = time.monotonic()
        for m in MARKERS:
            for edge in ("start", "done"):
                key = f"bench: {m} {edge}"
                if key not in seen and key.encode() in out:
                    seen[key] = now
    try:
        proc.wait(timeout=30)  # the guest powers off after its last phase
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    wall = time.monotonic() - start
    err_file.seek(0)
    stats = STATS.search(err_file.read())
    phases = {m: seen.get(f"bench: {m} done", 0) - seen.get(f"bench: {m} start", 0)
              for m in MARKERS if f"bench: {m} done" in seen}
    return phases, (int(stats.group(1)), int(stats.group(2))) if stats else None, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mib", type=int, default=16, help="MiB moved by each sequential phase")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    brig = os.path.join(args.build, "vmm", "brig")
    guest = os.path.join(args.build, "tests", "guest", "brig-test-guest.elf")
    append = f"mode=blk-bench mib={args.mib}"
    with tempfile.NamedTemporaryFile(prefix="brig-bench-", suffix=".img") as img:
        img.truncate(256 << 20)
        img.flush()
        brig_cmd = [brig, "run", "--kernel", guest, "--cmdline", append, "--mem", "128", "--disk", img.name,
                    "--no-rng", "--log-level", "debug"]
        qemu_cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", "128", "-nodefaults",
                    "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                    "-global", "virtio-mmio.force-legacy=false",
                    "-drive", f"id=d0,file={img.name},format=raw,if=none,cache=writeback",
                    "-device", "virtio-blk-device,drive=d0", "-kernel", guest, "-append", append]
        results = {"brig": [], "qemu": []}
        for _ in range(args.runs):
            results["brig"].append(timed_markers(brig_cmd))
            results["qemu"].append(timed_markers(qemu_cmd))

    def med(vmm, m):
        vals = [r[0][m] for r in results[vmm] if m in r[0] and r[0][m] > 0]
        return statistics.median(vals) if vals else float("nan")

    print(f"virtio-blk, 256 MiB image, test guest blk-bench ({args.mib} MiB sequential, {RANDREADS} x 4 KiB random reads), "
          f"median of {args.runs} runs")
    for m in MARKERS:
        b, q = med("brig", m), med("qemu", m)
        if m == "randread":
            bv, qv, unit = RANDREADS / b, RANDREADS / q, "IOPS"
        else:
            bv, qv, unit = args.mib / b, args.mib / q, "MB/s"
        print(f"  {m:9s} brig {bv:9.1f} {unit:4s}  qemu-microvm {qv:9.1f} {unit:4s}  brig/qemu {bv / qv:5.2f}")
    counted = [(r[1], r[2]) for r in results["brig"] if r[1]]
    if counted:
        (notifies, interrupts), wall = counted[-1]
        print(f"  brig virtio-blk0, whole run: {notifies} queue notifies ({notifies / wall:.0f}/s), "
              f"{interrupts} interrupts ({interrupts / wall:.0f}/s) over {wall:.1f} s")


if __name__ == "__main__":
    main()
