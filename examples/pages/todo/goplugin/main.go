// Command todo-plugin is the todo example page (examples/pages/README.md) as a native
// page plugin (abi/pagerpc): a shared list in the global register, copied into each
// page's store and kept fresh by dbevents. It answers byte for byte what the WASM builds
// answer.
//
// Build it with ./build.sh and name the binary in a plugin set (the path is relative to
// the set file's directory; this one is for a set at the checkout's root):
//
//	pages:
//	  - {route: /todo, plugin: examples/pages/todo/goplugin/todo-plugin}
package main

import (
	"encoding/json"

	"github.com/gnrhost/gnrhost/abi/pagerpc"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>Todo</title></head>
<body data-gnr-example="todo">
<h1>Todo</h1>
<ul id="items"></ul>
<input id="text" placeholder="New item"> <button id="add">Add</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/todo.js"></script>
</body></html>
`

const table = "todo.item"

// item is one entry of the list.
type item struct {
	Text string `json:"text"`
}

// Items are kept as raw JSON, so items written by pages in other languages are passed
// on byte for byte.
type items []json.RawMessage

type result struct {
	Items items `json:"items"`
}

type push struct {
	Type  string `json:"type"`
	Items items  `json:"items"`
}

// shared returns the global list (empty when unset).
func shared(p *pagerpc.Page) (items, error) {
	list := items{}
	_, err := p.GlobalGet("todo.items", &list)
	return list, err
}

// refresh copies the global list into the page store.
func refresh(p *pagerpc.Page) (items, error) {
	list, err := shared(p)
	if err != nil {
		return nil, err
	}
	return list, p.StoreSet("items", list)
}

func load(p *pagerpc.Page) (string, error) {
	if err := p.Subscribe(table); err != nil {
		return "", err
	}
	if _, err := refresh(p); err != nil {
		return "", err
	}
	return html, nil
}

func rpc(p *pagerpc.Page, method string, params json.RawMessage) (any, error) {
	switch method {
	case "add":
		// Look the key up exactly: encoding/json matches struct fields case-insensitively.
		var args map[string]json.RawMessage
		var text string
		if json.Unmarshal(params, &args) != nil || json.Unmarshal(args["text"], &text) != nil || text == "" {
			return nil, pagerpc.BadParams("add needs a non-empty text")
		}
		list, err := shared(p)
		if err != nil {
			return nil, err
		}
		it, err := pagerpc.Marshal(item{Text: text})
		if err != nil {
			return nil, err
		}
		list = append(list, it)
		if err := p.GlobalSet("todo.items", list); err != nil {
			return nil, err
		}
		if err := p.StoreSet("items", list); err != nil {
			return nil, err
		}
		if err := p.Publish(table, pagerpc.DBEvent{Action: "I"}); err != nil {
			return nil, err
		}
		return result{Items: list}, nil
	case "list":
		list := items{}
		if _, err := p.StoreGet("items", &list); err != nil {
			return nil, err
		}
		return result{Items: list}, nil
	}
	return nil, pagerpc.UnknownMethod(method)
}

func event(p *pagerpc.Page) error {
	list, err := refresh(p)
	if err != nil {
		return err
	}
	return p.Push(push{Type: "todo.items", Items: list})
}

func closePage(p *pagerpc.Page, _ string) error {
	p.Log(wasmabi.LogDebug, "todo page closed")
	return nil
}

func main() {
	pagerpc.Serve(pagerpc.NewHandler(wasmabi.FeatureEvents|wasmabi.FeatureClose|wasmabi.FeaturePush,
		pagerpc.Entries{Load: load, RPC: rpc, Event: event, Close: closePage}))
}
