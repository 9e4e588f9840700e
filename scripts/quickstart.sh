#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs nfjit's main jobs
# on the bundled example ruleset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
nfjit="$root/build/nfjit"
example="$root/examples/gateway.rules"
echo
echo "== nfjit fmt $example (canonical iptables-save form)"
"$nfjit" fmt "$example"
echo
echo "== nfjit fmt on a broken ruleset (precise diagnostics, exit code 2)"
set +e
"$nfjit" fmt "$root/examples/broken.rules"
echo "exit code: $?"
