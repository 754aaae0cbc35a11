#!/usr/bin/env bash
# Installs every Debian (bookworm) package that building, testing and benchmarking replikv
# needs. Idempotent: packages already present are not fetched again, and apt-get update runs
# only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake g++ pkg-config git
  libasio-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libxxhash-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev libhiredis-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  redis-tools redis-server etcd-server etcd-client wrk
  python3 python3-redis curl iproute2 iptables procps openssl
  chromium chromium-driver
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian redis-server and etcd-server packages start system services; the project starts
# its own peers on demand, so stop those (when a service manager is running at all).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${sudo_cmd[@]}" systemctl disable --now redis-server etcd >/dev/null 2>&1 || true
fi
