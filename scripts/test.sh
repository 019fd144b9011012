#!/bin/bash
# Runs every brig test (unit, integration, QEMU reference runs) and ends with one
# plain line: "N passed, N failed", counting Catch2 test cases and other tests.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BRIG_BUILD_DIR:-build}

if [ ! -c /dev/kvm ]; then
  echo "test: /dev/kvm is missing: the integration tests cannot run and will fail" >&2
fi
meson test -C "$BUILD" --print-errorlogs --num-processes 2
status=$?
expected=$(meson test -C "$BUILD" --list 2>/dev/null | grep -c " / ")
python3 scripts/test-summary.py "$BUILD/meson-logs/testlog.json" "$expected"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
