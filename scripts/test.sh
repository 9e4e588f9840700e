#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test
# (unit, iptables .t files, corpus with the kernel as judge when root), then
# the unit tests again under ASan+UBSan and a short libFuzzer run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"

echo "== build (RelWithDebInfo)"
"$root/scripts/build.sh" "$root/build"
echo "== tests"
ctest --test-dir "$root/build" --output-on-failure -j 2 -E 'Oracle'
echo "== kernel oracle (one at a time: it times packets through the kernel)"
ctest --test-dir "$root/build" --output-on-failure -R 'Oracle'

echo "== sanitizer build (clang, ASan+UBSan, libFuzzer targets)"
san="$root/build-asan"
CC=clang-19 CXX=clang++-19 "$root/scripts/build.sh" "$san" \
  -DCMAKE_BUILD_TYPE=Debug -DNFJIT_SANITIZE=ON -DNFJIT_FUZZ=ON
echo "== tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$san" --output-on-failure -j 2 -E 'Corpus|Oracle'
echo "== libFuzzer: rules-file parser and packet pipeline, 60 s each"
"$root/tests/fuzz/run_fuzz.sh" "$san" 60
echo "== all tests passed"
