#!/usr/bin/env bash
# Rebuilds every example page module (examples/pages/<page>/<lang>/build.sh).
#   scripts/build-wasm.sh          rebuild in place
#   scripts/build-wasm.sh --check  rebuild, then fail if any committed .wasm differs from
#                                  what its sources build to (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[ "${1:-}" = "--check" ] && check=true

status=0
for script in examples/pages/*/*/build.sh; do
  dir=$(dirname "$script")
  # Native page plugins are executables, built by their tests, not WASM modules.
  case "$dir" in */goplugin) continue ;; esac
  echo "build-wasm: $dir"
  if ! "$script"; then
    echo "build-wasm: $script failed" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit $status

if $check; then
  if ! git diff --quiet --exit-code -- 'examples/pages/*.wasm'; then
    echo "build-wasm: these committed modules do not match their sources:" >&2
    git diff --stat -- 'examples/pages/*.wasm' >&2
    exit 1
  fi
  untracked=$(git ls-files --others --exclude-standard -- 'examples/pages/*.wasm')
  if [ -n "$untracked" ]; then
    echo "build-wasm: built modules not committed: $untracked" >&2
    exit 1
  fi
  echo "build-wasm: every module matches its sources"
fi
