#!/usr/bin/env bash
# registry-pyro's GetItem against Python's Pyro4.Proxy doing the same get_item on the same
# daemon (testdata/gnrdaemon, Debian python3-pyro4), alternating ROUNDS times in one run.
# Prints microseconds per call for each and the ratio (target: Go not slower, ratio >= 1).
#   bench/registry-pyro.sh [ROUNDS] [CALLS_PER_PYTHON_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
calls=${2:-20000}
key=bench-key
tmp=$(mktemp -d)
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

/usr/bin/python3 -u testdata/gnrdaemon/gnrdaemon.py --host 127.0.0.1 --port 0 --hmac "$key" > "$tmp/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do grep -q '^PORT=' "$tmp/daemon.out" && break; sleep 0.05; done
port=$(sed -n 's/^PORT=//p' "$tmp/daemon.out")
[ -n "$port" ] || { cat "$tmp/daemon.out"; exit 1; }

go test -c -o "$tmp/pyro.test" ./plugins/registry-pyro/
for r in $(seq "$rounds"); do
  py=$(/usr/bin/python3 testdata/gnrdaemon/bench_proxy.py "PYRO:GnrDaemon@127.0.0.1:$port" "$key" "$calls" | sed -n 's/.*calls, \([0-9.]*\) us\/call/\1/p')
  go_ns=$(GNRHOST_BENCH_PYRO_DAEMON="127.0.0.1:$port" GNRHOST_BENCH_PYRO_KEY="$key" \
    "$tmp/pyro.test" -test.run '^$' -test.bench 'BenchmarkGetItem$' -test.benchtime 3s | awk '/^BenchmarkGetItem/ {print $3}')
  awk -v r="$r" -v py="$py" -v g="$go_ns" 'BEGIN { printf "round %d: Pyro4.Proxy %.1f us/call, registry-pyro %.1f us/call, Python/Go = %.2f\n", r, py, g/1000, py/(g/1000) }'
done
