"""Times the test guest's "bench: PHASE start" / "bench: PHASE done" console lines as
they arrive: the one way every guest-driven benchmark here measures a phase."""
import os
import select
import subprocess
import tempfile
import time


def timed_markers(cmd, phases, timeout=600):
    """Runs `cmd` and returns ({phase: seconds}, stderr bytes, wall seconds)."""
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
        for phase in phases:
            for edge in ("start", "done"):
                key = f"bench: {phase} {edge}"
                if key not in seen and key.encode() in out:
                    seen[key] = now
    try:
        proc.wait(timeout=30)  # the guest powers off after its last phase
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    wall = time.monotonic() - start
    err_file.seek(0)
    times = {p: seen[f"bench: {p} done"] - seen.get(f"bench: {p} start", 0)
             for p in phases if f"bench: {p} done" in seen}
    return times, err_file.read(), wall


def qemu_microvm(guest, append, mem, extra):
    """QEMU microvm with KVM, the reference every benchmark compares against."""
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", str(mem), "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-global", "virtio-mmio.force-legacy=false"] + extra + ["-kernel", guest, "-append", append]
