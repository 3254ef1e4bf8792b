#!/bin/sh
# Builds todo.wasm from todo.wat with wabt's wat2wasm, the only tool needed. wat2wasm
# writes no custom sections unless asked (--debug-names), so the module carries no names
# and every build gives the same bytes.
set -eu
cd "$(dirname "$0")"
wat2wasm todo.wat -o todo.wasm
