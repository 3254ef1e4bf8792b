#!/usr/bin/env bash
# Builds counter.wasm next to this script (compiler: sdk/assemblyscript, npm ci on first use).
set -euo pipefail
cd "$(dirname "$0")"
../../../../sdk/assemblyscript/asc.sh counter.ts -o counter.wasm
