// Command counter is the counter example page (examples/pages/README.md) in Go.
package main

import (
	"encoding/json"
	"strconv"

	"github.com/gnrhost/gnrhost/sdk/go/gnr"
)

type counter struct{}

// counts is the RPC result; the field order gives the JSON key order.
type counts struct {
	Count int64 `json:"count"`
	Total int64 `json:"total"`
}

// get reads the page's count and the user's total (0 when unset).
func get(p *gnr.Page) (counts, error) {
	var c counts
	if _, err := p.StoreGet("count", &c.Count); err != nil {
		return c, err
	}
	_, err := p.UserGet("total", &c.Total)
	return c, err
}

func (counter) Load(p *gnr.Page) (string, error) {
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

func (counter) RPC(p *gnr.Page, method string, params json.RawMessage) (any, error) {
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
	return nil, gnr.UnknownMethod(method)
}

func init() { gnr.Register(counter{}, 0) }

// main is never run: the module is built with -buildmode=c-shared (a WASI reactor).
func main() {}
