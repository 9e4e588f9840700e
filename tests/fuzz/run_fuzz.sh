#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS — short libFuzzer runs, SECONDS
# each: the rules-file parser, seeded with the corpus rulesets and the
# examples, and the packet pipeline (interpreter against JIT), seeded with
# tests/fuzz/pipeline-seeds. Fails on any crash or disagreement.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
secs=${2:-60}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/parser" "$seeds/pipeline"
shared="$root/../shared"
if [ -d "$shared/corpus" ]; then
  find "$shared/corpus" -type f ! -name '*.md' ! -name '*.tsv' ! -name 'LICENSE*' ! -name 'info' ! -name 'src' -size -64k \
    -exec cp --backup=numbered -t "$seeds/parser" {} + 2>/dev/null || true
fi
cp "$root"/examples/*.rules "$seeds/parser"/ 2>/dev/null || true
# Inputs that once crashed the parser: each run checks them first.
cp "$root"/tests/fuzz/regressions/* "$seeds/parser"/ 2>/dev/null || true
cp "$root"/tests/fuzz/pipeline-seeds/* "$seeds/pipeline"/
mkdir -p "$build/fuzz-findings"
run() {  # TARGET SEED_DIR MAX_LEN
  echo "-- $1, $secs s"
  "$build/tests/fuzz/$1" -max_total_time="$secs" -max_len="$3" -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/fuzz-findings/" "$2" 2>&1 | tail -15
}
run fuzz_restore_parser "$seeds/parser" 65536
run fuzz_packet_pipeline "$seeds/pipeline" 16384
