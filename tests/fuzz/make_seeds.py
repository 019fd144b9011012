#!/usr/bin/env python3
"""Writes the structured seed inputs of tests/fuzz/corpus/ (committed; rerun after
changing a target's input format). Each seed is a well-formed scenario in the
target's own input language (fuzz_input.h, hostile_driver.h): a virtio handshake and
real requests, mailbox exchanges; the control path's are a recorded real exchange.
The loader's seeds are real kernels' headers, cut from the Debian guest kit and the
test guest (see kernel_header_seeds); the policy target's seeds are policies/ itself.

usage: tests/fuzz/make_seeds.py [--kit DIR] [--guest-build DIR]
"""
import argparse
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
RAM = 256 << 10
BUFFERS = 0x10000
STEPS = 12


def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


class Driver:
    """The steps of hostile_driver.h, spelled out."""

    def __init__(self, op_bound=STEPS):
        self.out = b""
        self.op_bound = op_bound

    def op(self, n):
        self.out += u8(n)

    def handshake(self, features=(1 << 32) | (1 << 28)):
        self.op(7); self.out += u64(features)

    def queue(self, q, size_log2, ready=True):
        self.op(8); self.out += u8(q) + u8(size_log2) + u8(1 if ready else 0)

    def desc(self, q, index, addr, length, flags, nxt=0):
        self.op(5); self.out += u8(q) + u16(index) + u8(1) + u64(addr - BUFFERS) + u32(length) + u8(flags) + u16(nxt)

    def poke(self, addr, data):
        self.op(4); self.out += u64(addr) + u16(len(data)) + data

    def avail(self, q, head):
        self.op(6); self.out += u8(q) + u16(head)

    def driver_ok(self):
        self.op(9)

    def notify(self, q):
        self.op(3); self.out += u8(q)

    def host(self, step, payload=b""):
        self.op(STEPS + 1); self.out += u8(step) + payload


def chain(d, q, first, segs):
    """Descriptors first.. for [(addr, len, writable)], linked, and made available."""
    for i, (addr, length, writable) in enumerate(segs):
        flags = (2 if writable else 0) | (1 if i + 1 < len(segs) else 0)
        d.desc(q, first + i, addr, length, flags, first + i + 1)
    d.avail(q, first)


def echo_seed():
    d = Driver()
    d.handshake()
    for q in range(3):
        d.queue(q, 3)
    d.driver_ok()
    chain(d, 0, 0, [(0x11000, 64, False), (0x12000, 128, True)])
    d.notify(0)
    chain(d, 1, 0, [(0x13000, 4096, True)])
    d.notify(1)
    return d.out


def blk_seed(kind_byte=0):
    d = Driver(STEPS + 2)
    d.out = u8(kind_byte) + u8(0)  # virtio-blk, writable
    d.handshake((1 << 32) | (1 << 9))
    d.queue(0, 4)
    d.driver_ok()
    for i, (req_type, sector) in enumerate([(1, 0), (0, 0), (4, 0), (8, 0), (0, 200)]):
        header = 0x11000 + 0x100 * i
        d.poke(header, u32(req_type) + u32(0) + u64(sector))
        data = 0x20000 + 0x1000 * i
        chain(d, 0, 3 * i, [(header, 16, False), (data, 512, req_type != 1), (0x30000 + i, 1, True)])
    d.notify(0)
    return d.out


def net_seed():
    d = Driver(STEPS + 2)
    d.out = u8(1)
    d.handshake()
    d.queue(0, 4)
    d.queue(1, 4)
    d.driver_ok()
    chain(d, 0, 0, [(0x20000, 1526, True)])
    d.notify(0)
    frame = bytes(12) + b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x06" + bytes(28)
    d.poke(0x11000, frame)
    chain(d, 1, 0, [(0x11000, len(frame), False)])
    d.notify(1)
    d.host(0, u16(len(frame)) + frame)
    d.host(4)
    return d.out


def vsock_seed():
    d = Driver(STEPS + 2)
    d.out = u8(2)
    d.handshake()
    for q in range(3):
        d.queue(q, 4)
    d.driver_ok()
    # OP_REQUEST (1) from guest cid 3 port 1234 to host cid 2 port 5678, stream type 1.
    hdr = u64(3) + u64(2) + u32(1234) + u32(5678) + u32(0) + u16(1) + u16(1) + u32(0) + u32(65536) + u32(0)
    d.poke(0x11000, hdr)
    chain(d, 1, 0, [(0x11000, len(hdr), False)])
    chain(d, 0, 0, [(0x20000, 4096, True)])
    d.notify(1)
    d.host(2, u16(1234) + u16(5678) + u8(0))
    d.notify(0)
    return d.out


def console_seed():
    d = Driver(STEPS + 2)
    d.out = u8(3)
    d.handshake()
    d.queue(0, 3)
    d.queue(1, 3)
    d.driver_ok()
    d.poke(0x11000, b"hello from the guest\n")
    chain(d, 1, 0, [(0x11000, 21, False)])
    d.notify(1)
    chain(d, 0, 0, [(0x20000, 256, True)])
    d.host(0, u16(6) + b"input\n")
    d.host(4)
    d.notify(0)
    return d.out


def rng_seed():
    d = Driver(STEPS + 2)
    d.out = u8(4)
    d.handshake()
    d.queue(0, 3)
    d.driver_ok()
    chain(d, 0, 0, [(0x20000, 64, True), (0x21000, 4096, True)])
    d.notify(0)
    return d.out


def serial_seed():
    out = b""
    def write(offset, value): return u8(0) + u8(offset) + u8(0) + u8(value)
    def read(offset): return u8(1) + u8(offset) + u8(0)
    out += write(3, 0x80) + write(0, 1) + write(1, 0) + write(3, 0x03)  # 115200 8N1
    out += write(1, 0x0f) + write(4, 0x0b)                             # IER, MCR
    out += b"".join(write(0, c) for c in b"hi\n") + read(5) + read(2)
    out += u8(2) + u16(3) + b"abc" + read(0) + read(5) + u8(4) + write(4, 0x10) + write(0, 0x55) + read(0) + u8(3)
    return out


def mailbox_seed():
    out = b""
    for i in range(4):  # an honest write, then an honest read
        out += u8(0) + u8(0) + u8(2) + u8(0) + u64(0x10 + i) + u64(i)
        out += u8(2) + u8(2) + u8(4) + u32(4) + u64(0xabcd)
        out += u8(0) + u8(1) + u8(2) + u8(1) + u64(0x20)
    out += u8(3) + u8(1) + u64(5) + u8(0) + u8(2) + u8(1)
    return out


def acpi_seeds():
    return {
        "one-cpu": u8(1) + u8(0) + u8(1) + u8(0) + u8(0) + u8(0) + u8(0) + u8(0),
        "four-cpus-virtio": u8(1) + u8(3) + u8(1) + u8(1) + u8(1) + u8(1) + u8(4) + u8(0) + u8(0)
                            + u8(3) + u8(2) + u8(3) + u8(4) + u8(4) + b"".join(u8(1) + u8(s) for s in range(4)),
    }


def cli_seeds():
    base = ["run", "--kernel", "/dev/null"]
    return {
        "run-minimal": base,
        "run-devices": base + ["--mem", "128M", "--cpus", "2,sockets=1,cores=2", "--rng", "--disk", "/tmp/disk.img,ro=true",
                               "--serial", "type=file,path=/tmp/out,hardware=serial,num=2", "--console", "stdout",
                               "--net", "tap=tap0,mac=52:54:00:12:34:56", "--vsock", "cid=3", "--on-reboot", "restart"],
        "run-sandbox": base + ["--seccomp", "log", "--jail-ids", "100000:1000", "--log-level", "debug",
                               "--failure-file", "/tmp/f", "--socket", "/tmp/s", "--cmdline", "console=ttyS0 quiet"],
        "policy-show": ["policy", "show", "virtio-blk"],
        "control": ["status", "/tmp/brig.sock"],
        "help": ["--help"],
    }


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def kernel_header_seeds(kit, guest_build):
    """The first 16 KiB of real kernels: setup header, ELF header, program headers and
    the PVH note of the test guest (its whole ELF is small)."""
    sources = {"debian-vmlinuz-head": os.path.join(kit, "vmlinuz"),
               "test-guest-bzimage": os.path.join(guest_build, "brig-test-guest.bzimage"),
               "test-guest-elf": os.path.join(guest_build, "brig-test-guest.elf")}
    for name, path in sources.items():
        if not os.path.exists(path):
            print(f"make_seeds: {path} is missing; {name} not written")
            continue
        with open(path, "rb") as f:
            head = f.read(16384)
        # loader input: flag (no initrd), empty command line, then the kernel bytes.
        write("loader", name, u8(0) + u16(0) + head)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", default="/var/cache/brig/guest-kit")
    ap.add_argument("--guest-build", default=os.path.join(HERE, "..", "..", "build", "tests", "guest"))
    args = ap.parse_args()
    write("virtio_mmio", "echo-two-queues", echo_seed())
    write("virtio_devices", "blk-requests", blk_seed())
    write("virtio_devices", "net-arp", net_seed())
    write("virtio_devices", "vsock-request", vsock_seed())
    write("virtio_devices", "console-io", console_seed())
    write("virtio_devices", "rng-read", rng_seed())
    write("serial", "init-and-echo", serial_seed())
    write("mailbox", "honest-device", mailbox_seed())
    for name, data in acpi_seeds().items():
        write("acpi", name, data)
    for name, words in cli_seeds().items():
        write("cli", name, "\0".join(words).encode())
    kernel_header_seeds(args.kit, args.guest_build)
    # The control path's seeds are a recorded real exchange (control_seeds_test.cpp).
    unit = os.path.join(args.guest_build, "..", "unit", "brig-unit-tests")
    subprocess.run([unit, "[.make-control-seeds]"], check=True, env=dict(os.environ, BRIG_FUZZ_SEED_DIR=os.path.join(HERE, "corpus")))


if __name__ == "__main__":
    main()
