#!/usr/bin/env bash
# registry-pyro's GetItem against Python's Pyro4.Proxy doing the same get_item on the same
# daemon (testdata/gnrdaemon, Debian python3-pyro4), alternating ROUNDS times in one run.
# Both read the same page (the one BenchmarkGetItem seeds on site bench-go).
# Prints, per round and as medians, microseconds per call (wall) and the client's own CPU
# per call (user+system of the client process: steadier than wall on a loaded machine),
# and the ratios Python/Go (target: Go not slower, ratio >= 1).
#   bench/registry-pyro.sh [ROUNDS] [CALLS_PER_PYTHON_ROUND] [GO_BENCHTIME]
# BASELINE_TEST=path/to/an/older/registry-pyro.test adds that build of the benchmark to
# each round (before/after in one run); it must report cpu-ns/op (bench_test.go of
# 2026-11-28 or later, copied onto the older tree: see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
calls=${2:-20000}
benchtime=${3:-3s}
baseline=${BASELINE_TEST:-}
key=bench-key
tmp=$(mktemp -d)
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

/usr/bin/python3 -u testdata/gnrdaemon/gnrdaemon.py --host 127.0.0.1 --port 0 --hmac "$key" > "$tmp/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do grep -qs '^PORT=' "$tmp/daemon.out" && break; sleep 0.05; done
port=$(sed -n 's/^PORT=//p' "$tmp/daemon.out")
[ -n "$port" ] || { cat "$tmp/daemon.out"; exit 1; }

go test -c -o "$tmp/pyro.test" ./plugins/registry-pyro/
gobench() { # gobench BINARY BENCHTIME: prints "wall_us cpu_us"
  GNRHOST_BENCH_PYRO_DAEMON="127.0.0.1:$port" GNRHOST_BENCH_PYRO_KEY="$key" \
    "$1" -test.run '^$' -test.bench 'BenchmarkGetItem$' -test.benchtime "$2" |
    awk '/^BenchmarkGetItem/ { for (i = 1; i < NF; i++) { if ($(i+1) == "ns/op") w = $i; if ($(i+1) == "cpu-ns/op") c = $i }; print w/1000, c/1000 }'
}
gobench "$tmp/pyro.test" 1x > /dev/null # seeds site bench-go's page bench-page, which Python reads too
for r in $(seq "$rounds"); do
  py=$(/usr/bin/python3 testdata/gnrdaemon/bench_proxy.py "PYRO:GnrDaemon@127.0.0.1:$port" "$key" "$calls" bench-go bench-page |
    sed -n 's/.*calls, \([0-9.]*\) us\/call, \([0-9.]*\) us cpu\/call/\1 \2/p')
  base="- -"
  [ -n "$baseline" ] && base=$(gobench "$baseline" "$benchtime")
  echo "$r $py $(gobench "$tmp/pyro.test" "$benchtime") $base"
done | awk '
  function median(a, n,   i, j, t, b) { for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
    return n % 2 ? b[(n+1)/2] : (b[n/2] + b[n/2+1]) / 2 }
  function show(label, pw, pc, gw, gc, bw, bc) {
    printf "%s Pyro4.Proxy %.1f us/call (%.1f us cpu), registry-pyro %.1f us/call (%.1f us cpu), Python/Go wall %.2f, cpu %.2f", label, pw, pc, gw, gc, pw/gw, pc/gc
    if (bw != "-") printf "; baseline %.1f us/call (%.1f us cpu), Python/baseline wall %.2f, cpu %.2f", bw, bc, pw/bw, pc/bc
    printf "\n" }
  { pw[NR] = $2; pc[NR] = $3; gw[NR] = $4; gc[NR] = $5; bw[NR] = $6; bc[NR] = $7
    show(sprintf("round %d:", $1), $2, $3, $4, $5, $6, $7) }
  END { show("median: ", median(pw, NR), median(pc, NR), median(gw, NR), median(gc, NR),
    bw[1] == "-" ? "-" : median(bw, NR), bw[1] == "-" ? "-" : median(bc, NR)) }'
