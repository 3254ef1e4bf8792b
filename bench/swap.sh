#!/usr/bin/env bash
# Swap duration, p50 and p99 (host/swap_bench_test.go), in one run:
#   - registry-mem -> registry-mem (the registry kept running), no live pages;
#   - resident -> ephemeral with 10,000 live resident pages (their stores written into
#     the registry during the swap).
#   bench/swap.sh [SAME_ROUNDS] [10K_ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
same=${1:-50}
big=${2:-5}
go test -run '^$' -bench 'BenchmarkSwapSameRegistry$' -benchtime "${same}x" ./host/ | grep -E '^(Benchmark|cpu)'
go test -run '^$' -bench 'BenchmarkSwapResidentToEphemeral10k$' -benchtime "${big}x" -timeout 30m ./host/ | grep -E '^Benchmark'
