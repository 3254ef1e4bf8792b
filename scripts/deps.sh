#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, and nothing when it is already
# there. Each later feature that needs a real peer (gunicorn, Pyro4, NATS, Chromium) adds
# its package here, so `make test` works on a fresh clone.
set -euo pipefail

need_apt=()
# command -> Debian package
need() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
need wat2wasm wabt           # WAT test modules and the WAT examples; wasm-strip
need clang clang             # C page handlers (wasm32-wasi)
need wasm-ld lld
[ -e /usr/include/wasm32-wasi ] || need_apt+=(wasi-libc)
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || need_apt+=(libclang-rt-dev-wasm32)
[ -x /usr/bin/rustc ] || need_apt+=(rustc)   # Debian's rustc: it has the wasm32 std below
[ -d /usr/lib/rustlib/wasm32-unknown-unknown ] || need_apt+=(libstd-rust-dev-wasm32)
need node nodejs
need npm npm
need chromium chromium       # browser tests of the pages and the WebSocket client
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)   # the production recipe (examples/deploy/nginx.conf)
need nats-server nats-server   # cross-process dbevents (host/ipc) against the real server
# Debian's Python sees Debian's packages; the python3 first on PATH may not.
[ -x /usr/bin/python3 ] || need_apt+=(python3)
/usr/bin/python3 -c 'import gunicorn' 2>/dev/null || need_apt+=(gunicorn)        # legacy-wsgi
/usr/bin/python3 -c 'import Pyro4' 2>/dev/null || need_apt+=(python3-pyro4)      # the gnrdaemon stand-in

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing ${need_apt[*]}; install them with apt-get (needs root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

go mod download

# AssemblyScript's compiler, pinned by sdk/assemblyscript/package-lock.json.
if [ -f sdk/assemblyscript/package-lock.json ] && [ ! -d sdk/assemblyscript/node_modules ]; then
  (cd sdk/assemblyscript && npm ci --no-audit --no-fund --loglevel=error)
fi
