#!/bin/sh
# Builds todo.wasm next to this script: a WASI reactor, no debug info or names.
set -e
cd "$(dirname "$0")"
clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wl,--strip-all \
	-I../../../../sdk/c -o todo.wasm todo.c ../../../../sdk/c/gnr.c
chmod 644 todo.wasm
