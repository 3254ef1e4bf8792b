#!/usr/bin/env bash
# The local balancer (phase 7), every side in one run, with ratios (bench/balancerload):
#  - a CPU-bound WASM RPC (bench/spin) through the balancer with 1 vs 2 host processes;
#  - a cheap RPC straight to one host vs through the balancer to one process;
#  - the share of users moved by `gnrhost scale 4` from 3 processes.
#   bench/balancer.sh [balancerload flags, e.g. -rounds 3 -duration 4s -conc 8 -child-gomaxprocs 1]
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The committed spin.wasm must be what spin.wat builds to (wat2wasm's output is stable).
if command -v wat2wasm >/dev/null; then
  wat2wasm bench/spin/spin.wat -o "$tmp/spin.wasm"
  cmp -s "$tmp/spin.wasm" bench/spin/spin.wasm || { echo "bench/spin/spin.wasm is stale: wat2wasm bench/spin/spin.wat -o bench/spin/spin.wasm" >&2; exit 1; }
fi
go build -o "$tmp/gnrhost" ./cmd/gnrhost
go build -o "$tmp/balancerload" ./bench/balancerload
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$tmp/balancerload" -gnrhost "$tmp/gnrhost" -root . "$@"
