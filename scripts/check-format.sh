#!/bin/bash
# Checks that every C++ file git tracks is formatted as .clang-format says (the freestanding
# test guest, in C with its own style, is not). Prints the files that are not and exits 1.
# Fix with: git ls-files '*.cpp' '*.h' | grep -v '^tests/guest/' | xargs clang-format -i
set -uo pipefail
cd "${1:-$(dirname "$0")/..}"
command -v clang-format >/dev/null || { echo "format: clang-format is not installed" >&2; exit 1; }
bad=0
while IFS= read -r file; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "format: $file is not clang-formatted"
    bad=$((bad + 1))
  fi
done < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/guest/')
echo "format: $bad file(s) to reformat"
[ "$bad" -eq 0 ]
