#!/usr/bin/env bash
# Registry get_item through the host's registry slot: in-process vs out-of-process (with
# Go's default GOMAXPROCS in the child and with max_procs: 1), one caller and 32 callers
# at once; and the start time of an out-of-process plugin. One run; prints the ratios.
#   bench/registry.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
out=$(go test -run '^$' -bench 'BenchmarkRegistryGetItem|BenchmarkPluginStartup' -benchtime 2s -count "$count" ./cmd/gnrhost/)
echo "$out" | grep -E '^(Benchmark|cpu)'
echo "$out" | awk '
  function name(s) { sub(/-[0-9]+$/, "", s); return s }
  /^Benchmark/ { n = name($1); sum[n] += $3; cnt[n]++ }
  END {
    for (p = 0; p < 2; p++) {
      base = p ? "BenchmarkRegistryGetItemParallel" : "BenchmarkRegistryGetItem"
      label = p ? "32 callers" : "1 caller"
      inp = sum[base "/inprocess"] / cnt[base "/inprocess"]
      printf "get_item, %s: in-process %.0f ns/op\n", label, inp
      split("process process-maxprocs1", modes, " ")
      for (i = 1; i <= 2; i++) {
        k = base "/" modes[i]
        if (cnt[k]) printf "  %-18s %9.0f ns/op  ratio %.0fx\n", modes[i], sum[k]/cnt[k], (sum[k]/cnt[k])/inp
      }
    }
    k = "BenchmarkPluginStartup"
    if (cnt[k]) printf "plugin start to first healthy answer: mean %.1f ms (target <= 100 ms)\n", sum[k]/cnt[k]/1e6
  }'
