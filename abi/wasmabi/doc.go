// Package wasmabi holds the constants of the gnrhost WASM page ABI (abi/wasm-abi.md):
// export and import names, feature bits, error codes and limits. The host and the Go SDK
// both use them, so a renamed function cannot drift between the two.
package wasmabi
