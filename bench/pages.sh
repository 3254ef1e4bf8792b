#!/usr/bin/env bash
# Page handler benchmarks in one run, with ratios:
#  - one `increment` RPC over HTTP: native Go handler vs each language's WASM build,
#    resident and ephemeral (BenchmarkCounterRPC, host/pages);
#  - one `increment` call straight into each module (BenchmarkCounterIncrement, host/wasm);
#  - loading a module without and with the on-disk compilation cache, and instantiating
#    it (BenchmarkLoad, BenchmarkInstantiate, host/wasm).
#   bench/pages.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
rpc=$(go test -run '^$' -bench 'BenchmarkCounterRPC' -benchtime 2s -count "$count" ./host/pages/)
call=$(go test -run '^$' -bench 'BenchmarkCounterIncrement|BenchmarkInstantiate' -benchtime 2s -count "$count" ./host/wasm/)
load=$(go test -run '^$' -bench 'BenchmarkLoad' -benchtime 5x -count "$count" ./host/wasm/)
printf '%s\n%s\n%s\n' "$rpc" "$call" "$load" | grep -E '^(Benchmark|cpu)'
printf '%s\n%s\n%s\n' "$rpc" "$call" "$load" | awk '
  function name(s) { sub(/-[0-9]+$/, "", s); return s }
  /^Benchmark/ { n = name($1); sum[n] += $3; cnt[n]++ }
  function mean(k) { return cnt[k] ? sum[k] / cnt[k] : 0 }
  END {
    split("go c rust assemblyscript wat goplugin", langs, " ")
    for (l = 0; l < 2; l++) {
      life = l ? "ephemeral" : "resident"
      base = mean("BenchmarkCounterRPC/" life "/native")
      printf "\nRPC over HTTP, %s counter: native Go handler %.1f us/op\n", life, base/1000
      for (i = 1; i <= 6; i++) {
        k = "BenchmarkCounterRPC/" life "/" langs[i]
        if (cnt[k]) printf "  %-15s %8.1f us/op  %.2fx native\n", langs[i], mean(k)/1000, mean(k)/base
      }
    }
    printf "\nephemeral vs resident, RPC over HTTP (cost of reconstruction):\n"
    for (i = 0; i <= 6; i++) {
      lang = i ? langs[i] : "native"
      r = mean("BenchmarkCounterRPC/resident/" lang); e = mean("BenchmarkCounterRPC/ephemeral/" lang)
      if (r && e) printf "  %-15s resident %7.1f us, ephemeral %7.1f us, %.2fx\n", lang, r/1000, e/1000, e/r
    }
    printf "\nper call, increment straight into the module:\n"
    for (i = 1; i <= 5; i++) { k = "BenchmarkCounterIncrement/" langs[i]; if (cnt[k]) printf "  %-15s %8.2f us\n", langs[i], mean(k)/1000 }
    printf "\nload (compile + check + first instance) and instantiate:\n"
    for (i = 1; i <= 5; i++) {
      n = mean("BenchmarkLoad/" langs[i] "/nocache"); c = mean("BenchmarkLoad/" langs[i] "/diskcache"); s = mean("BenchmarkInstantiate/" langs[i])
      printf "  %-15s no cache %9.2f ms, disk cache %8.2f ms (%.0fx faster), instantiate %7.3f ms\n", langs[i], n/1e6, c/1e6, (c ? n/c : 0), s/1e6
    }
  }'
