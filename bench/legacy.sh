#!/usr/bin/env bash
# A hello-world WSGI app with the same gunicorn worker count, measured with wrk in one run:
# gunicorn direct, through gnrhost (legacy-wsgi), and through nginx (the production path
# today). Prints requests/s and p99 of each, and the ratios.
#   bench/legacy.sh [SECONDS] [WORKERS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
workers=${2:-4}
conns=${3:-32}
class=${4:-sync}   # gunicorn worker class for all three: sync or gthread
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }
go build -o bin/gnrhost ./cmd/gnrhost
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
show_logs() { cat "$tmp"/nginx-error.log "$tmp"/gnrhost.log 2>/dev/null | tail -5; }
app_dir=$(pwd)/bench/legacy

wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
measure() { # name url
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$2" > "$tmp/$1.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/$1.txt")
  printf '%-22s %10s req/s   p99 %s\n' "$1" "$rps" "$p99"
  echo "$rps" > "$tmp/$1.rps"
}

# 1. gunicorn direct on TCP.
/usr/bin/python3 -m gunicorn --chdir "$app_dir" --workers "$workers" --worker-class "$class" --bind 127.0.0.1:18301 --log-level warning hello:application &
pids+=($!)
# 2. gnrhost with legacy-wsgi (its own gunicorn on a unix socket).
cat > "$tmp/set.yaml" <<YAML
registry: {plugin: registry-mem}
legacy:
  plugin: legacy-wsgi
  config: {app: "hello:application", chdir: "$app_dir", workers: $workers, worker_class: $class}
YAML
GOGC=${GNRHOST_GOGC:-100} bin/gnrhost serve --plugins "$tmp/set.yaml" --listen 127.0.0.1:18302 --log-level warn 2>"$tmp/gnrhost.log" &
pids+=($!)
# 3. nginx in front of a gunicorn on a unix socket, keep-alive to it.
/usr/bin/python3 -m gunicorn --chdir "$app_dir" --workers "$workers" --worker-class "$class" --bind "unix:$tmp/nginx-up.sock" --log-level warning hello:application &
pids+=($!)
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
pids+=($!)

wait_http http://127.0.0.1:18301/ && wait_http http://127.0.0.1:18302/ && wait_http http://127.0.0.1:18303/ || { show_logs; exit 1; }
echo "wrk -t2 -c$conns -d${secs}s, gunicorn with $workers $class workers each"
measure gunicorn-direct http://127.0.0.1:18301/
measure gnrhost http://127.0.0.1:18302/
measure nginx http://127.0.0.1:18303/
awk -v d="$(cat "$tmp/gunicorn-direct.rps")" -v g="$(cat "$tmp/gnrhost.rps")" -v n="$(cat "$tmp/nginx.rps")" \
  'BEGIN { printf "gnrhost / gunicorn direct = %.2f (target >= 0.95); gnrhost / nginx = %.2f (target >= 1)\n", g/d, g/n }'
