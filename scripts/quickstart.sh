#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs nfjit's main jobs
# on the bundled example ruleset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
nfjit="$root/build/nfjit"
ex="$root/examples"
echo
echo "== nfjit fmt examples/gateway.rules (parsed into the IR, printed in canonical iptables-save form)"
"$nfjit" fmt "$ex/gateway.rules"
echo
echo "== nfjit check examples/gateway.rules (static analysis with Z3; exit 1 when it finds something)"
"$nfjit" check "$ex/gateway.rules" || true
echo
echo "== nfjit compile --stats examples/edge-acl.rules (the JIT classifier)"
"$nfjit" compile --stats "$ex/edge-acl.rules"
echo
echo "== nfjit replay examples/edge-acl.rules over examples/lan-traffic.pcap (per-packet trace, final counters)"
"$nfjit" replay "$ex/edge-acl.rules" --pcap "$ex/lan-traffic.pcap" --in-iface lan0 --out-iface wan0 \
  --iface-addr lan0=192.0.2.1 --iface-addr wan0=198.51.100.1 --route 192.0.2.0/24=lan0 \
  --trace --counters -
echo
echo "== nfjit fmt examples/broken.rules (precise diagnostics, exit code 2)"
set +e
"$nfjit" fmt "$ex/broken.rules"
echo "exit code: $?"
