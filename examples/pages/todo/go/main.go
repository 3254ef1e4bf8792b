// Command todo is the todo example page (examples/pages/README.md) in Go: a shared list
// in the global register, copied into each page's store and kept fresh by dbevents.
package main

import (
	"encoding/json"

	"github.com/gnrhost/gnrhost/sdk/go/gnr"
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

type todo struct{}

// shared returns the global list (empty when unset).
func shared(p *gnr.Page) (items, error) {
	list := items{}
	_, err := p.GlobalGet("todo.items", &list)
	return list, err
}

// refresh copies the global list into the page store.
func refresh(p *gnr.Page) (items, error) {
	list, err := shared(p)
	if err != nil {
		return nil, err
	}
	return list, p.StoreSet("items", list)
}

func (todo) Load(p *gnr.Page) (string, error) {
	if err := p.Subscribe(table); err != nil {
		return "", err
	}
	if _, err := refresh(p); err != nil {
		return "", err
	}
	return html, nil
}

func (todo) RPC(p *gnr.Page, method string, params json.RawMessage) (any, error) {
	switch method {
	case "add":
		// Look the key up exactly: encoding/json matches struct fields case-insensitively.
		var args map[string]json.RawMessage
		var text string
		if json.Unmarshal(params, &args) != nil || json.Unmarshal(args["text"], &text) != nil || text == "" {
			return nil, gnr.BadParams("add needs a non-empty text")
		}
		list, err := shared(p)
		if err != nil {
			return nil, err
		}
		it, err := gnr.Marshal(item{Text: text})
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
		if err := p.Publish(table, gnr.DBEvent{Action: "I"}); err != nil {
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
	return nil, gnr.UnknownMethod(method)
}

func (todo) Event(p *gnr.Page, ev gnr.Event) error {
	list, err := refresh(p)
	if err != nil {
		return err
	}
	return p.Push(push{Type: "todo.items", Items: list})
}

func (todo) Close(p *gnr.Page, reason string) error {
	p.Log(gnr.LogDebug, "todo page closed")
	return nil
}

func init() {
	gnr.Register(todo{}, gnr.FeatureEvents|gnr.FeatureClose|gnr.FeaturePush)
}

// main is never run: the module is built with -buildmode=c-shared (a WASI reactor).
func main() {}
