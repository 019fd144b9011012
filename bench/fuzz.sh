#!/bin/bash
# Runs one fuzz target (tests/fuzz/) under libFuzzer with AddressSanitizer and UBSan,
# from its committed seeds, and prints executions, executions per second, coverage
# and crashes. Exits non-zero when the target crashed (the input is kept under
# $BUILD/crashes/TARGET/; minimise it and commit it to tests/fuzz/regressions/TARGET/).
#
#   bench/fuzz.sh --list                  the target names, one per line
#   bench/fuzz.sh TARGET SECONDS [RUNS]   run for SECONDS, or until RUNS executions
#
# It builds what it needs from a clean checkout: the packages (scripts/setup.sh), then
# a clang build of its own in build-fuzz/ (BRIG_FUZZ_BUILD_DIR). What the fuzzer adds
# to the corpus stays in $BUILD/corpus/TARGET/, which later runs start from.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BRIG_FUZZ_BUILD_DIR:-build-fuzz}

targets() { grep -ho 'BRIG_FUZZ_TARGET([a-z_]*)' tests/fuzz/*_fuzz.cpp | sed 's/BRIG_FUZZ_TARGET(\(.*\))/\1/' | sort; }

if [ "${1:-}" = "--list" ]; then
  targets
  exit 0
fi
if [ $# -lt 2 ] || ! targets | grep -qx "$1"; then
  echo "usage: bench/fuzz.sh --list | TARGET SECONDS [RUNS]   (TARGET one of: $(targets | tr '\n' ' '))" >&2
  exit 2
fi
target=$1 seconds=$2 runs=${3:-0}

if ! command -v clang++ >/dev/null || [ ! -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
   ! pkg-config --exists capnp libseccomp spdlog; then
  ./scripts/setup.sh >&2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # -fsanitize=fuzzer-no-link: coverage for all of brig's code, not only the target's file.
  # No UBSan vptr check: it misreads the dynamic type of objects from Debian's Cap'n
  # Proto libraries (built with GCC), and its memory probe calls pipe() inside brig's filters.
  CC=clang CXX=clang++ meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args="-fsanitize=fuzzer-no-link -fno-sanitize=vptr -fno-sanitize-recover=all -g1" >/dev/null
fi
mkdir -p "$BUILD"
if ! ninja -C "$BUILD" "tests/fuzz/brig-fuzz-$target" >"$BUILD/ninja-$target.log" 2>&1; then
  echo "fuzz: building brig-fuzz-$target failed:" >&2
  tail -n 30 "$BUILD/ninja-$target.log" >&2
  exit 1
fi

work="$BUILD/corpus/$target" crashes="$BUILD/crashes/$target"
mkdir -p "$work" "$crashes"
seeds=(tests/fuzz/corpus/"$target")
[ "$target" = policy ] && seeds+=(policies)  # the shipped policies are the policy target's seeds
log="$BUILD/fuzz-$target.log"
status=0
start=$SECONDS
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$BUILD/tests/fuzz/brig-fuzz-$target" -max_total_time="$seconds" -runs="$((runs > 0 ? runs : -1))" \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
  "$work" "${seeds[@]}" >"$log" 2>&1 || status=$?

stat() { grep -o "^stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$' || echo 0; }
done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
echo "$target: $(stat number_of_executed_units) executions in $((SECONDS - start)) s, $(stat average_exec_per_sec)/s," \
  "coverage ${cov:-0} edges, ${ft:-0} features, $(stat new_units_added) new inputs, $found crashes"
if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
  echo "$target: FAILED (libFuzzer exit $status); inputs in $crashes/, log in $log:" >&2
  grep -E 'ERROR|invariant broken|runtime error|SUMMARY|refused' "$log" | head -n 20 >&2
  exit 1
fi
