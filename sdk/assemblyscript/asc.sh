#!/usr/bin/env bash
# Compiles an AssemblyScript page handler with this SDK's pinned compiler and flags:
#
#   sdk/assemblyscript/asc.sh page.ts -o page.wasm
#
# Installs the compiler (npm ci, from package-lock.json) the first time. Extra arguments
# go to asc before the SDK's flags. Afterwards the module is checked to import nothing
# but `gnr` functions (std APIs such as Math.random, Date.now or console.log import from
# `env`, which the host refuses).
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"

if [ ! -x "$sdk/node_modules/.bin/asc" ]; then
  # Two builds may start at once: one installs, the other waits for it.
  (
    if command -v flock >/dev/null; then flock 9; fi
    if [ ! -x "$sdk/node_modules/.bin/asc" ]; then
      (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
  ) 9>"$sdk/.npm-ci.lock"
fi

# -Oz                size first: handlers are small and each call is short
# --runtime minimal  TLSF allocator + mark & sweep run by serve() after each call (README)
# --use abort=...    no env.abort import: aborts are logged through gnr.log, then trap
"$sdk/node_modules/.bin/asc" "$@" \
  -Oz \
  --runtime minimal \
  --use abort=gnrAbort

out=""
prev=""
for a in "$@"; do
  case "$prev" in -o|--outFile) out="$a" ;; esac
  case "$a" in --outFile=*) out="${a#--outFile=}" ;; esac
  prev="$a"
done
if [ -n "$out" ] && [ -f "$out" ]; then
  node -e '
    const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
    const bad = WebAssembly.Module.imports(m).filter((i) => i.module !== "gnr");
    if (bad.length) {
      console.error(process.argv[1] + ": imports outside gnr: " + bad.map((i) => i.module + "." + i.name).join(", "));
      process.exit(1);
    }' "$out"
fi
