#!/usr/bin/env bash
# Installs what nfjit needs to build and test, from Debian 12 packages.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  antlr4 libantlr4-runtime-dev default-jre-headless
  llvm-19-dev clang-19 libclang-rt-19-dev
  libz3-dev libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libdpdk-dev
  iptables iproute2 conntrack netbase procps
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "setup: all build and test dependencies are installed"
