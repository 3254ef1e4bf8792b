#!/bin/sh
# Builds counter.wasm from counter.rs and the Rust SDK (sdk/rust) with plain rustc: no
# cargo, no crates.io. Needs rustc >= 1.63 with the wasm32-unknown-unknown std (Debian:
# /usr/bin/rustc from the rustc + libstd-rust-dev-wasm32 packages); set RUSTC to override.
set -eu
cd "$(dirname "$0")"
RUSTC=${RUSTC:-/usr/bin/rustc}
SDK=../../../../sdk/rust
FLAGS="--target wasm32-unknown-unknown --edition 2021 -C opt-level=z -C panic=abort -C codegen-units=1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$RUSTC" $FLAGS --crate-type rlib --crate-name gnr -o "$tmp/libgnr.rlib" "$SDK/src/lib.rs"
"$RUSTC" $FLAGS --crate-type cdylib -C lto -C strip=symbols --extern gnr="$tmp/libgnr.rlib" -o counter.wasm counter.rs
