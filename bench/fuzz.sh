#!/bin/bash
# Runs one fuzz target (tests/fuzz/) under libFuzzer with AddressSanitizer and UBSan,
# from its committed seeds, and prints executions, executions per second, coverage
# and crashes. Exits non-zero when the target crashed (the input is kept under
# $BUILD/crashes/TARGET/; minimise it and commit it to tests/fuzz/regressions/TARGET/).
#
#   bench/fuzz.sh --list                  the target names, one per line
#   bench/fuzz.sh TARGET SECONDS [RUNS]   run for SECONDS, or until RUNS executions
#   bench/fuzz.sh --build                 only build every target (scripts/test.sh then
#                                         runs each briefly: meson test --suite fuzz)
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
if [ "${1:-}" != "--build" ] && { [ $# -lt 2 ] || ! targets | grep -qx "$1"; }; then
  echo "usage: bench/fuzz.sh --list | --build | TARGET SECONDS [RUNS]   (TARGET one of: $(targets | tr '\n' ' '))" >&2
  exit 2
fi

if ! command -v clang++-14 >/dev/null || [ ! -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
   ! pkg-config --exists capnp libseccomp spdlog; then
  ./scripts/setup.sh >&2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # -fsanitize=fuzzer-no-link: coverage for all of brig's code, not only the target's file.
  # No UBSan vptr check: it misreads the dynamic type of objects from Debian's Cap'n
  # Proto libraries (built with GCC), and its memory probe calls pipe() inside brig's filters.
  # -O1 and line tables only: what libFuzzer's documentation suggests, and a cold
  # build is what a fresh CI machine pays.
  CC=clang-14 CXX=clang++-14 meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Doptimization=1 -Ddebug=false \
    -Dcpp_args="-fsanitize=fuzzer-no-link -fno-sanitize=vptr -fno-sanitize-recover=all -g1" >/dev/null
fi
if [ "$1" = "--build" ]; then
  wanted=($(targets | sed 's|^|tests/fuzz/brig-fuzz-|'))
  name=all
else
  wanted=("tests/fuzz/brig-fuzz-$1")
  name=$1
fi
if ! ninja -C "$BUILD" "${wanted[@]}" >"$BUILD/ninja-$name.log" 2>&1; then
  echo "fuzz: building ${wanted[*]} failed:" >&2
  tail -n 30 "$BUILD/ninja-$name.log" >&2
  exit 1
fi
[ "$1" = "--build" ] && exit 0
target=$1 seconds=$2 runs=${3:-0}

work="$BUILD/corpus/$target" crashes="$BUILD/crashes/$target"
mkdir -p "$work" "$crashes"
seeds=(tests/fuzz/corpus/"$target")  # libFuzzer reads it recursively: corpus/policy/shipped is policies/
log="$BUILD/fuzz-$target.log"
status=0
start=$SECONDS
# -timeout=60: an input that runs for a minute is a hang; 10 s also caught inputs that
# a loaded host (the soak's twenty VMs) merely starved of CPU.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$BUILD/tests/fuzz/brig-fuzz-$target" -max_total_time="$seconds" -runs="$((runs > 0 ? runs : -1))" \
  -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
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
