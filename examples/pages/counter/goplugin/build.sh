#!/bin/sh
# Builds counter-plugin next to this script: the counter page as a native page plugin (a
# go-plugin child process, not WebAssembly). The binary is not committed (.gitignore).
set -e
cd "$(dirname "$0")"
go build -o counter-plugin .
