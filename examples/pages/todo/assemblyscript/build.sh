#!/usr/bin/env bash
# Builds todo.wasm next to this script (compiler: sdk/assemblyscript, npm ci on first use).
set -euo pipefail
cd "$(dirname "$0")"
../../../../sdk/assemblyscript/asc.sh todo.ts -o todo.wasm
