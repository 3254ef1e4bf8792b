#!/usr/bin/env bash
# A hello-world WSGI app with the same gunicorn worker count, measured with wrk in one run:
# gunicorn direct, through gnrhost (legacy-wsgi), and through nginx (the production path
# today). The three are measured ROUNDS times, in rotating order, so that load from other
# work on the machine hits all three alike; the figures are the medians of the rounds.
# Besides requests/s and p99 it prints the CPU each request cost the proxy (gnrhost, or
# nginx's master and workers), the Python workers and wrk, from /proc (10 ms ticks).
#   bench/legacy.sh [SECONDS] [WORKERS] [CONNECTIONS] [sync|gthread] [ROUNDS]
# GNRHOST_GOGC sets gnrhost's GOGC (default 100), GNRHOST_GOMAXPROCS its GOMAXPROCS.
# GNRHOST_COMPARE=BINARY adds a fourth setup, "compare": another gnrhost build (an older
# commit, say) with the same plugin set, measured in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
workers=${2:-4}
conns=${3:-32}
class=${4:-sync}   # gunicorn worker class for all three: sync or gthread
rounds=${5:-3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
go build -o bin/gnrhost ./cmd/gnrhost
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
show_logs() { cat "$tmp"/nginx-error.log "$tmp"/gnrhost.log 2>/dev/null | tail -5; }
app_dir=$(pwd)/bench/legacy
tck=$(getconf CLK_TCK)

wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
# ticks PID...: user+system CPU ticks of the processes (fields 14 and 15 of /proc/PID/stat).
ticks() { local t=0 p v; for p in "$@"; do v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) || v=0; t=$((t + ${v:-0})); done; echo "$t"; }
# tree PID: the process and its children (gunicorn master and workers, nginx master and workers).
tree() { echo "$1" $(pgrep -P "$1" | tr '\n' ' '); }
us_per_req() { awk -v t="$1" -v n="$2" -v hz="$tck" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() { # name url proxy-pids python-pids
  local name=$1 url=$2 proxy=$3 python=$4 p0 y0 p1 y1 n rps p99 wu
  p0=$(ticks $proxy); y0=$(ticks $python)
  /usr/bin/time -f '%U %S' -o "$tmp/wrk.time" wrk -t2 -c"$conns" -d"${secs}s" --latency "$url" > "$tmp/$name.txt"
  p1=$(ticks $proxy); y1=$(ticks $python)
  n=$(awk '/requests in/ {print $1}' "$tmp/$name.txt")
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/$name.txt")
  wu=$(awk -v n="$n" '{ if (n > 0) printf "%.0f", ($1 + $2) * 1e6 / n }' "$tmp/wrk.time")
  if [ -n "$proxy" ]; then proxy=$(us_per_req $((p1 - p0)) "$n"); else proxy=-; fi
  printf '  %-18s %10s req/s   p99 %-9s CPU per request: proxy %4s us, python %4s us, wrk %4s us\n' \
    "$name" "$rps" "$p99" "$proxy" "$(us_per_req $((y1 - y0)) "$n")" "$wu"
  echo "$rps" >> "$tmp/$name.rps"
  awk -v v="$p99" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); x = v + 0; printf "%.2f\n", u == "us" ? x / 1000 : u == "s" ? x * 1000 : x }' >> "$tmp/$name.p99"
  echo "$proxy" >> "$tmp/$name.cpu"
}

# 1. gunicorn direct on TCP.
/usr/bin/python3 -m gunicorn --chdir "$app_dir" --workers "$workers" --worker-class "$class" --bind 127.0.0.1:18301 --log-level warning hello:application &
direct_pid=$!
pids+=($direct_pid)
# 2. gnrhost with legacy-wsgi (its own gunicorn on a unix socket).
cat > "$tmp/set.yaml" <<YAML
registry: {plugin: registry-mem}
legacy:
  plugin: legacy-wsgi
  config: {app: "hello:application", chdir: "$app_dir", workers: $workers, worker_class: $class}
YAML
env GOGC="${GNRHOST_GOGC:-100}" ${GNRHOST_GOMAXPROCS:+GOMAXPROCS=$GNRHOST_GOMAXPROCS} \
  bin/gnrhost serve --plugins "$tmp/set.yaml" --listen 127.0.0.1:18302 --log-level warn 2>"$tmp/gnrhost.log" &
gnrhost_pid=$!
pids+=($gnrhost_pid)
# 3. nginx in front of a gunicorn on a unix socket, keep-alive to it.
/usr/bin/python3 -m gunicorn --chdir "$app_dir" --workers "$workers" --worker-class "$class" --bind "unix:$tmp/nginx-up.sock" --log-level warning hello:application &
nginx_up_pid=$!
pids+=($nginx_up_pid)
cat > "$tmp/nginx.conf" <<NGINX
user root;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream site { server unix:$tmp/nginx-up.sock; keepalive 64; }
  server {
    listen 127.0.0.1:18303;
    location / {
      proxy_pass http://site;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
NGINX
nginx -c "$tmp/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=($nginx_pid)

setups=3
if [ -n "${GNRHOST_COMPARE:-}" ]; then
  env GOGC="${GNRHOST_GOGC:-100}" ${GNRHOST_GOMAXPROCS:+GOMAXPROCS=$GNRHOST_GOMAXPROCS} \
    "$GNRHOST_COMPARE" serve --plugins "$tmp/set.yaml" --listen 127.0.0.1:18304 --log-level warn 2>"$tmp/compare.log" &
  compare_pid=$!
  pids+=($compare_pid)
  wait_http http://127.0.0.1:18304/ || { tail -5 "$tmp/compare.log"; exit 1; }
  compare_site=$(pgrep -P "$compare_pid" | head -1)
  setups=4
fi
wait_http http://127.0.0.1:18301/ && wait_http http://127.0.0.1:18302/ && wait_http http://127.0.0.1:18303/ || { show_logs; exit 1; }
gnrhost_site=$(pgrep -P "$gnrhost_pid" | head -1)
echo "wrk -t2 -c$conns -d${secs}s, gunicorn with $workers $class workers each, $rounds rounds"
for round in $(seq "$rounds"); do
  echo "round $round"
  # Rotate the order: whoever goes first does not always meet the same background load.
  for i in $(seq 0 $((setups - 1))); do
    case $(( (i + round - 1) % setups )) in
      0) measure gunicorn-direct http://127.0.0.1:18301/ "" "$(tree "$direct_pid")" ;;
      1) measure gnrhost http://127.0.0.1:18302/ "$gnrhost_pid" "$(tree "$gnrhost_site")" ;;
      2) measure nginx http://127.0.0.1:18303/ "$(tree "$nginx_pid")" "$(tree "$nginx_up_pid")" ;;
      3) measure compare http://127.0.0.1:18304/ "$compare_pid" "$(tree "$compare_site")" ;;
    esac
  done
done
echo "median of $rounds rounds"
names="gunicorn-direct gnrhost nginx"
[ "$setups" = 4 ] && names="$names compare"
for name in $names; do
  cpu=-
  [ "$name" = gunicorn-direct ] || cpu="$(median < "$tmp/$name.cpu") us"
  printf '%-22s %10s req/s   p99 %sms   proxy CPU per request %s\n' "$name" "$(median < "$tmp/$name.rps")" \
    "$(median < "$tmp/$name.p99")" "$cpu"
done
awk -v d="$(median < "$tmp/gunicorn-direct.rps")" -v g="$(median < "$tmp/gnrhost.rps")" -v n="$(median < "$tmp/nginx.rps")" \
  'BEGIN { printf "gnrhost / gunicorn direct = %.2f (target >= 0.95); gnrhost / nginx = %.2f (target >= 1)\n", g/d, g/n }'
if [ "$setups" = 4 ]; then
  awk -v d="$(median < "$tmp/gunicorn-direct.rps")" -v c="$(median < "$tmp/compare.rps")" -v n="$(median < "$tmp/nginx.rps")" \
    'BEGIN { printf "compare / gunicorn direct = %.2f; compare / nginx = %.2f\n", c/d, c/n }'
fi
