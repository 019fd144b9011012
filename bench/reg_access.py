#!/usr/bin/env python3
"""Register access from the guest: the test guest's reg-bench mode under brig with
its devices jailed, under brig with the same devices in its own process
(--disable-sandbox), and under QEMU microvm, alternating, in the same run.

Three kinds of read, N each: a virtio-mmio register and a config-space word of the
virtio-blk device (both forwarded to the device process when jailed), and the UART's
line status register (served by brig from a mailbox shadow when jailed). The guest's
loop runs in emulated ring 0 on kvm_pvm hosts, for all three alike, so the figures
are per read including that loop. Numbers only, nothing asserted.

usage: bench/reg_access.py [--build build] [--reads 8192] [--runs 5]
"""
import argparse
import os
import statistics
import tempfile

from markers import qemu_microvm, timed_markers

KINDS = ["mmio", "config", "lsr"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reads", type=int, default=8192)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    brig = os.path.join(args.build, "vmm", "brig")
    guest = os.path.join(args.build, "tests", "guest", "brig-test-guest.elf")
    append = f"mode=reg-bench reads={args.reads}"
    with tempfile.NamedTemporaryFile(prefix="brig-bench-", suffix=".img") as img:
        img.truncate(1 << 20)
        img.flush()
        jailed = [brig, "run", "--kernel", guest, "--cmdline", append, "--mem", "128", "--disk", img.name, "--no-rng"]
        commands = {
            "jailed": jailed,
            "in-process": jailed + ["--disable-sandbox"],
            "qemu": qemu_microvm(guest, append, 128, [
                "-drive", f"id=d0,file={img.name},format=raw,if=none,cache=writeback",
                "-device", "virtio-blk-device,drive=d0"]),
        }
        results = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                results[name].append(timed_markers(cmd, KINDS, timeout=300)[0])

    def per_read_us(name, kind):
        vals = [r[kind] for r in results[name] if kind in r]
        return statistics.median(vals) / args.reads * 1e6 if vals else float("nan")

    print(f"register reads from the test guest, {args.reads} per kind, median of {args.runs} runs (µs per read)")
    for kind in KINDS:
        j, i, q = (per_read_us(name, kind) for name in ("jailed", "in-process", "qemu"))
        print(f"  {kind:7s} jailed {j:7.2f}  in-process {i:7.2f}  qemu-microvm {q:7.2f}  "
              f"jailed/in-process {j / i:5.2f}  jailed/qemu {j / q:5.2f}")


if __name__ == "__main__":
    main()
