// Package gnr is the Go SDK for gnrhost WASM page handlers (ABI v1, abi/wasm-abi.md).
//
// A handler is a package main built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s -o page.wasm .
//
// It defines a type with Load and RPC methods (and optionally Event and Close) and
// registers it from init:
//
//	type counter struct{}
//
//	func (counter) Load(p *gnr.Page) (string, error) { return "<p>hi</p>", nil }
//	func (counter) RPC(p *gnr.Page, method string, params json.RawMessage) (any, error) {
//		return nil, gnr.UnknownMethod(method)
//	}
//
//	func init() { gnr.Register(counter{}, 0) }
//	func main() {}
//
// Register must be called from init: a c-shared (reactor) module never runs main. The
// package exports the ABI entry points (gnr_abi_v1, gnr_page_load, gnr_page_rpc,
// gnr_page_event, gnr_page_close, gnr_features) and wraps the host functions of import
// module "gnr" as methods of Page.
//
// Outside GOOS=wasip1 the package still compiles, so handlers can be built, vetted and
// unit-tested natively, but every host call returns ErrUnavailable.
package gnr
