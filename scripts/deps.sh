#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, and nothing when it is already
# there. Each later feature that needs a real peer (gunicorn, Pyro4, NATS, Chromium) adds
# its package here, so `make test` works on a fresh clone.
set -euo pipefail

need_apt=()
# command -> Debian package
need() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
need wat2wasm wabt           # WAT test modules and the WAT examples

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing ${need_apt[*]}; install them with apt-get (needs root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

go mod download
