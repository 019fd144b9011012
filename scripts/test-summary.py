#!/usr/bin/env python3
"""Counts test results from meson's testlog.json and prints 'N passed, N failed'.

A Catch2 runner counts as its test cases (from its own summary line); any other test
counts as one. A runner that crashed or timed out before its summary, an unreadable
log entry, and a registered test missing from the log each count as one failure, so
nothing passes silently.

Several runs (the normal build and the sanitizer build) are counted into one line:
each TESTLOG_JSON EXPECTED_TEST_COUNT pair after the first is shown under its log's
build directory.

usage: test-summary.py TESTLOG_JSON EXPECTED_TEST_COUNT [TESTLOG_JSON EXPECTED_TEST_COUNT]..."""
import json
import os
import re
import sys

ALL_PASSED = re.compile(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)")
MIXED = re.compile(r"test cases:\s+(\d+) \|\s+(\d+) passed \|\s+(\d+) failed")


def count(entry):
    out = entry.get("stdout", "") or ""
    ok = entry.get("result") == "OK"
    m = ALL_PASSED.search(out)
    if m and ok:
        return int(m.group(1)), 0
    m = MIXED.search(out)
    if m:
        failed = int(m.group(3))
        return int(m.group(2)), failed if failed or not ok else 1
    return (1, 0) if ok else (0, 1)


def tally(path, expected, prefix=""):
    passed = failed = seen = 0
    with open(path, "rb") as log:
        for raw in log:
            line = raw.strip(b"\x00 \r\n")
            if not line:
                continue
            seen += 1
            try:
                entry = json.loads(line.decode("utf-8", errors="replace"))
            except json.JSONDecodeError:
                print("  (unreadable log entry): FAIL")
                failed += 1
                continue
            p, f = count(entry)
            passed += p
            failed += f
            print(f"  {prefix}{entry['name']}: {entry['result']} ({p} passed, {f} failed)")
    if seen < expected:
        print(f"  {prefix}{expected - seen} registered test(s) missing from the log: FAIL")
        failed += expected - seen
    return passed, failed


def build_dir(path):
    # BUILD/meson-logs/testlog.json -> BUILD
    return os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path))))


def main(args):
    if len(args) < 2 or len(args) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    passed = failed = 0
    for i in range(0, len(args), 2):
        path, expected = args[i], int(args[i + 1])
        prefix = f"{build_dir(path)}: " if i else ""
        try:
            p, f = tally(path, expected, prefix)
        except OSError as e:
            print(f"  {prefix}cannot read {path}: {e.strerror}: FAIL")
            p, f = 0, max(expected, 1)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
