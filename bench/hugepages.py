"""Huge pages for a benchmark's --hugepages runs: reserves them in
/proc/sys/vm/nr_hugepages for the duration and gives the host its own count back."""
import contextlib


def _total():
    with open("/proc/sys/vm/nr_hugepages") as f:
        return int(f.read())


def _set(pages):
    with open("/proc/sys/vm/nr_hugepages", "w") as f:
        f.write(f"{pages}\n")


@contextlib.contextmanager
def reserved(mib):
    """2 MiB pages enough for `mib` MiB of guest RAM, on top of the host's own."""
    before = _total()
    _set(before + mib // 2)
    try:
        if _total() < before + mib // 2:
            raise SystemExit(f"hugepages: the kernel would not reserve {mib // 2} more 2 MiB pages")
        yield
    finally:
        _set(before)
