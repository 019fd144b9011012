#!/usr/bin/env python3
"""Every Catch2 test case in BINARY runs in some meson suite: at least one of its tags
is among the TAGs the suites select. A test case no suite picks up would never run in
CI, and nothing would say so.

usage: check-test-tags.py BINARY TAG...   (TAG as meson passes it: "[guest]")
"""
import re
import subprocess
import sys


def main():
    binary, covered = sys.argv[1], set(sys.argv[2:])
    listing = subprocess.run([binary, "--list-tests"], capture_output=True, text=True, check=False).stdout
    uncovered, name = [], []
    for line in listing.splitlines()[1:]:
        if re.match(r"^ {6}\[", line):
            tags = set(re.findall(r"\[[^\]]+\]", line))
            if not tags & covered:
                uncovered.append(" ".join(name) + " " + line.strip())
            name = []
        elif line.startswith("  ") and line.strip():
            name.append(line.strip())
    for test in uncovered:
        print(f"no suite runs: {test}")
    total = listing.count("\n      [")
    print(f"{total - len(uncovered)} of {total} test cases are in a suite")
    return 1 if uncovered else 0


if __name__ == "__main__":
    sys.exit(main())
