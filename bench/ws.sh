#!/usr/bin/env bash
# WebSocket push benchmarks against a real gnrhost process (bench/wsload):
# fan-out of one dbevent to N subscribed pages, memory per idle connection, and RPC over
# WebSocket vs HTTP.   bench/ws.sh [CONNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-10000}
rounds=${2:-5}
ulimit -n "$(ulimit -Hn)"
go build -o bin/gnrhost ./cmd/gnrhost
go run ./bench/wsload -gnrhost bin/gnrhost -conns "$conns" -rounds "$rounds"
