#!/usr/bin/env bash
# WebSocket push benchmarks against a real gnrhost process (bench/wsload), each in one
# run of its own:
#   1. fan-out of one dbevent to CONNS subscribed todo pages (Rust: the event entry runs
#      for every page), memory per idle connection, and RPC over WebSocket vs HTTP;
#   2. the same fan-out with the WAT todo, which asks for SHARED_EVENTS (its event entry
#      runs once per dbevent for all the pages);
#   3. the transport floor: the same sockets and client, written by a server that does
#      nothing but write a ready-made frame to each.
#   bench/ws.sh [CONNS] [ROUNDS]
# GNRHOST=path runs another gnrhost binary (an older build, to compare) instead of
# building this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-10000}
rounds=${2:-5}
ulimit -n "$(ulimit -Hn)"
gnrhost=${GNRHOST:-bin/gnrhost}
[ -n "${GNRHOST:-}" ] || go build -o bin/gnrhost ./cmd/gnrhost
go build -o bin/wsload ./bench/wsload
echo "== todo (Rust), event entry per page"
bin/wsload -gnrhost "$gnrhost" -conns "$conns" -rounds "$rounds"
echo "== todo (WAT), SHARED_EVENTS"
bin/wsload -gnrhost "$gnrhost" -conns "$conns" -rounds "$rounds" -calls 0 \
  -event-page examples/pages/todo/wat/todo.wasm
echo "== transport floor"
bin/wsload -floor -conns "$conns" -rounds "$rounds"
