#!/bin/sh
# Builds todo.wasm next to this script: a Go wasip1 reactor without debug info, build id,
# paths or custom sections, so rebuilding with the same Go gives the same bytes.
set -e
cd "$(dirname "$0")"
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
	go build -buildmode=c-shared -trimpath -ldflags='-s -w -buildid=' -o todo.wasm .
wasm-strip todo.wasm
