#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS — a short libFuzzer run seeded with
# the corpus rulesets and the examples. Fails on any crash.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
secs=${2:-60}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
shared="$root/../shared"
if [ -d "$shared/corpus" ]; then
  find "$shared/corpus" -type f ! -name '*.md' ! -name '*.tsv' ! -name 'LICENSE*' ! -name 'info' ! -name 'src' -size -64k \
    -exec cp --backup=numbered -t "$seeds" {} + 2>/dev/null || true
fi
cp "$root"/examples/*.rules "$seeds"/ 2>/dev/null || true
# Inputs that once crashed the parser: each run checks them first.
cp "$root"/tests/fuzz/regressions/* "$seeds"/ 2>/dev/null || true
mkdir -p "$build/fuzz-findings"
"$build/tests/fuzz/fuzz_restore_parser" -max_total_time="$secs" -max_len=65536 -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/fuzz-findings/" "$seeds" 2>&1 | tail -15
