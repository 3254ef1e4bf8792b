// Command counter-plugin is the counter example page (examples/pages/README.md) as a
// native page plugin: an ordinary Go program the host runs as a child process and calls
// over gRPC (abi/pagerpc), instead of a WebAssembly module. It answers byte for byte what
// the WASM builds answer.
//
// Build it with ./build.sh and name the binary in a plugin set (the path is relative to
// the set file's directory; this one is for a set at the checkout's root):
//
//	pages:
//	  - {route: /counter, plugin: examples/pages/counter/goplugin/counter-plugin}
package main

import (
	"encoding/json"
	"strconv"

	"github.com/gnrhost/gnrhost/abi/pagerpc"
)

// counts is the RPC result; the field order gives the JSON key order.
type counts struct {
	Count int64 `json:"count"`
	Total int64 `json:"total"`
}

// get reads the page's count and the user's total (0 when unset).
func get(p *pagerpc.Page) (counts, error) {
	var c counts
	if _, err := p.StoreGet("count", &c.Count); err != nil {
		return c, err
	}
	_, err := p.UserGet("total", &c.Total)
	return c, err
}

func load(p *pagerpc.Page) (string, error) {
	c, err := get(p)
	if err != nil {
		return "", err
	}
	return `<!doctype html>
<html><head><meta charset="utf-8"><title>Counter</title></head>
<body data-gnr-example="counter">
<h1>Counter</h1>
<p>This page: <span id="count">` + strconv.FormatInt(c.Count, 10) +
		`</span> &middot; all your pages: <span id="total">` + strconv.FormatInt(c.Total, 10) + `</span></p>
<button id="inc">+1</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/counter.js"></script>
</body></html>
`, nil
}

func rpc(p *pagerpc.Page, method string, _ json.RawMessage) (any, error) {
	switch method {
	case "get":
		return get(p)
	case "increment":
		c, err := get(p)
		if err != nil {
			return nil, err
		}
		c.Count++
		c.Total++
		if err := p.StoreSet("count", c.Count); err != nil {
			return nil, err
		}
		if err := p.UserSet("total", c.Total); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, pagerpc.UnknownMethod(method)
}

func main() {
	// No events, no close, no push: features 0, as the README specifies.
	pagerpc.Serve(pagerpc.NewHandler(0, pagerpc.Entries{Load: load, RPC: rpc}))
}
