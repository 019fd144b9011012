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

# The sanitizer build: ASan + UBSan, in a build directory of its own, built only for
# what it runs. Any report fails: ASan stops at its first report (halt_on_error=1),
# UBSan is compiled with -fno-sanitize-recover=all, and a process a sanitizer stops
# ends with an exit code or signal its test does not expect.
# The sanitizer runtimes do not fit inside brig's jails, and the shipped jails are not
# widened for them:
# - a jailed device has RLIMIT_DATA 64-80 MiB; ASan's allocator maps more than that,
#   so a sanitized brig-device dies at once ("ERROR: Failed to mmap", exit 1);
# - the runtimes make syscalls of their own under brig's thread filters (pipe2 on a
#   vCPU thread, sigaltstack and readlink in a filtered child, clone and ptrace for
#   LeakSanitizer at exit).
# So the integration subset is the --disable-sandbox cases of the virtio and sandbox
# suites: every device (serial, virtio-blk, rng, console) runs in brig's own process
# through the same device code (device-procs/device_registry.cpp), with brig's own
# thread filters still on, and that code meets the sanitizers with a real guest
# driving it. The unit tests run whole, leak checking included, except the seven that
# run a forked child under a seccomp filter to prove the filter bites (the runtime's
# own syscalls in the child are refused there); the normal build runs those.
# -O0 and -g1 (line tables, enough for a report's stack) rather than -O2 -g: a cold
# build is what a fresh CI machine pays. -Wmaybe-uninitialized is off there only: GCC
# 12 reports false positives in Cap'n Proto's kj headers once code is instrumented
# (GCC's manual warns that sanitizers cause spurious warnings).
ASAN_BUILD=${BRIG_ASAN_BUILD_DIR:-build-asan}
ASAN_CFLAGS="-g1 -fno-sanitize-recover=all -Wno-maybe-uninitialized"
ASAN_TARGETS=(tests/unit/brig-unit-tests tests/integration/brig-integration-tests vmm/brig-test
              tests/guest/brig-test-guest.elf tests/guest/brig-test-guest.bzimage)
# The fuzz replay ([fuzz]) is skipped too: it runs threads under brig's filters, where
# UBSan's vptr check cannot read what it needs and calls kj's objects invalid; the fuzz
# stage below replays the same seeds and regressions under ASan and UBSan anyway.
ASAN_UNIT_SKIP='"~enforcement:*" "~*thread signals only*" "~*thread kills devices*" "~*entered the jail is confined*" "~[fuzz]"'
asan_start=$SECONDS
rm -f "$ASAN_BUILD"/meson-logs/testlog-*.json  # a build that fails counts its tests as failed
if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
  meson setup "$ASAN_BUILD" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Doptimization=0 -Ddebug=false -Dcpp_args="$ASAN_CFLAGS" -Dc_args="$ASAN_CFLAGS" \
    -Dguest_kit="${BRIG_KIT_DIR:-/var/cache/brig/guest-kit}" >/dev/null
fi
if ninja -C "$ASAN_BUILD" "${ASAN_TARGETS[@]}" >"$ASAN_BUILD/ninja.log" 2>&1; then
  export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=0:print_stacktrace=1 \
    meson test -C "$ASAN_BUILD" --no-rebuild --print-errorlogs --logbase testlog-integration \
      integration-virtio integration-sandbox --test-args '"*--disable-sandbox*"'
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1 \
    meson test -C "$ASAN_BUILD" --no-rebuild --print-errorlogs --logbase testlog-unit unit \
      --test-args "$ASAN_UNIT_SKIP"
else
  echo "test: the sanitizer build in $ASAN_BUILD failed:" >&2
  tail -n 40 "$ASAN_BUILD/ninja.log" >&2
fi
echo "test: the sanitizer build and its tests took $((SECONDS - asan_start)) s"

# The fuzz targets (tests/fuzz/), each for a short fixed time from its committed seeds
# (meson test --suite fuzz), in the clang build bench/fuzz.sh makes; bench/fuzz.sh
# runs one for longer.
FUZZ_BUILD=${BRIG_FUZZ_BUILD_DIR:-build-fuzz}
fuzz_targets=$(bench/fuzz.sh --list | wc -l)
fuzz_start=$SECONDS
rm -f "$FUZZ_BUILD"/meson-logs/testlog-fuzz*.json
if BRIG_FUZZ_BUILD_DIR="$FUZZ_BUILD" bench/fuzz.sh --build; then
  meson test -C "$FUZZ_BUILD" --no-rebuild --print-errorlogs --logbase testlog-fuzz --suite fuzz --num-processes 2
fi
echo "test: the fuzz build and its short runs took $((SECONDS - fuzz_start)) s"

python3 scripts/test-summary.py "$BUILD/meson-logs/testlog.json" "$expected" \
  "$ASAN_BUILD/meson-logs/testlog-integration.json" 2 "$ASAN_BUILD/meson-logs/testlog-unit.json" 1 \
  "$FUZZ_BUILD/meson-logs/testlog-fuzz.json" "$fuzz_targets"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
