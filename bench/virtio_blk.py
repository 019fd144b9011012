#!/usr/bin/env python3
"""virtio-blk throughput: the test guest's blk-bench mode under brig and under QEMU
microvm, same guest file, same 256 MiB raw image, same run.

The guest prints markers (bench: seqwrite start/done, seqread start/done, randread
start/done); this script timestamps them as they arrive on the console and turns
the intervals into MB/s and IOPS. Guest kernel mode is emulated on kvm_pvm hosts,
so the guest driver's own loops are part of what is measured, for both VMMs.
Numbers only, nothing asserted.

With --hugepages, brig also runs with its guest RAM on 2 MiB huge pages (reserved for
the run, then given back), reported against QEMU and against brig on normal pages.

usage: bench/virtio_blk.py [--build build] [--mib 16] [--runs 3] [--hugepages]
"""
import argparse
import contextlib
import os
import re
import statistics
import tempfile

import hugepages
from markers import qemu_microvm, timed_markers

RANDREADS = 1000  # the guest's blk-bench mode does this many 4 KiB random reads
MARKERS = ["seqwrite", "seqread", "randread"]


STATS = re.compile(rb"\[virtio-blk0\] device: (?:debug )?(\d+) queue notifies \(ioeventfd\), (\d+) interrupts")


def timed_run(cmd):
    """Returns ({phase: seconds}, (notifies, interrupts) or None, wall seconds)."""
    phases, err, wall = timed_markers(cmd, MARKERS)
    stats = STATS.search(err)
    return phases, (int(stats.group(1)), int(stats.group(2))) if stats else None, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mib", type=int, default=16, help="MiB moved by each sequential phase")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hugepages", action="store_true")
    args = ap.parse_args()
    brig = os.path.join(args.build, "vmm", "brig")
    guest = os.path.join(args.build, "tests", "guest", "brig-test-guest.elf")
    append = f"mode=blk-bench mib={args.mib}"
    with tempfile.NamedTemporaryFile(prefix="brig-bench-", suffix=".img") as img:
        img.truncate(256 << 20)
        img.flush()
        brig_cmd = [brig, "run", "--kernel", guest, "--cmdline", append, "--mem", "128", "--disk", img.name,
                    "--no-rng", "--log-level", "debug"]
        qemu_cmd = qemu_microvm(guest, append, 128, [
            "-drive", f"id=d0,file={img.name},format=raw,if=none,cache=writeback",
            "-device", "virtio-blk-device,drive=d0"])
        # The same devices in brig's own process: what the jail itself costs.
        in_process_cmd = brig_cmd + ["--disable-sandbox"]
        results = {"brig": [], "in-process": [], "qemu": [], "huge": []}
        with hugepages.reserved(128) if args.hugepages else contextlib.nullcontext():
            for _ in range(args.runs):
                results["brig"].append(timed_run(brig_cmd))
                results["in-process"].append(timed_run(in_process_cmd))
                if args.hugepages:
                    results["huge"].append(timed_run(brig_cmd + ["--hugepages"]))
                results["qemu"].append(timed_run(qemu_cmd))

    def med(vmm, m):
        vals = [r[0][m] for r in results[vmm] if m in r[0] and r[0][m] > 0]
        return statistics.median(vals) if vals else float("nan")

    print(f"virtio-blk, 256 MiB image, test guest blk-bench ({args.mib} MiB sequential, {RANDREADS} x 4 KiB random reads), "
          f"median of {args.runs} runs")
    for m in MARKERS:
        work = RANDREADS if m == "randread" else args.mib
        unit = "IOPS" if m == "randread" else "MB/s"
        bv, iv, qv = (work / med(vmm, m) for vmm in ("brig", "in-process", "qemu"))
        print(f"  {m:9s} brig (jailed) {bv:9.1f} {unit:4s}  brig in-process {iv:9.1f} {unit:4s}  "
              f"qemu-microvm {qv:9.1f} {unit:4s}  jailed/in-process {bv / iv:5.2f}  jailed/qemu {bv / qv:5.2f}")
    if args.hugepages:
        for m in MARKERS:
            work = RANDREADS if m == "randread" else args.mib
            unit = "IOPS" if m == "randread" else "MB/s"
            hv, bv, qv = (work / med(vmm, m) for vmm in ("huge", "brig", "qemu"))
            print(f"  {m:9s} brig --hugepages {hv:9.1f} {unit:4s}  hugepages/normal pages {hv / bv:5.2f}  "
                  f"hugepages/qemu {hv / qv:5.2f}")
    counted = [(r[1], r[2]) for r in results["brig"] if r[1]]
    if counted:
        (notifies, interrupts), wall = counted[-1]
        print(f"  brig virtio-blk0, whole run: {notifies} queue notifies ({notifies / wall:.0f}/s), "
              f"{interrupts} interrupts ({interrupts / wall:.0f}/s) over {wall:.1f} s")


if __name__ == "__main__":
    main()
