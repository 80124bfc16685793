#!/usr/bin/env bash
# The README's test command: installs the dependencies, then builds and runs every test
# (release), the same tests under ASan+UBSan, and the GGUF reader fuzzer for a bounded time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs="${HEARTH_JOBS:-$(nproc)}"

ci/install-deps.sh

echo "== release build and tests"
cmake --preset release
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

echo "== ASan+UBSan build and tests"
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

if [ -x ci/fuzz.sh ]; then
  echo "== GGUF reader fuzzing (${FUZZ_SECONDS:-60} s)"
  ci/fuzz.sh
fi
echo "== all tests passed"
