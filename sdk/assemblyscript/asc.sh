#!/usr/bin/env bash
# Compiles an AssemblyScript page handler with this SDK's pinned compiler and flags:
#
#   sdk/assemblyscript/asc.sh page.ts -o page.wasm
#
# Installs the compiler (npm ci, from package-lock.json) the first time. Extra arguments
# go to asc after the SDK's flags.
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"

if [ ! -x "$sdk/node_modules/.bin/asc" ]; then
  # Two builds may start at once: one installs, the other waits for it.
  (
    if command -v flock >/dev/null; then flock 9; fi
    if [ ! -x "$sdk/node_modules/.bin/asc" ]; then
      (cd "$sdk" && npm ci --no-audit --no-fund >&2)
    fi
  ) 9>"$sdk/.npm-ci.lock"
fi

# -Oz                size first: handlers are small and called briefly
# --runtime minimal  TLSF allocator + mark & sweep run by serve() after each call (README)
# --use abort=...    no env.abort import: aborts are logged through gnr.log, then trap
exec "$sdk/node_modules/.bin/asc" "$@" \
  -Oz \
  --runtime minimal \
  --use abort=gnrAbort
