// Command pageplugin is a page plugin for host/pages tests that breaks the page ABI on
// request. It implements abi.PageHandler directly rather than through pagerpc.Page,
// whose checks would stop it: the host must catch all of this on its own.
//
// rpc methods:
//
//	set, get      store "k" = params / reply store "k" (null when unset)
//	pid           reply {"pid": N}, so a test can kill the process
//	sleep         sleep 2 s ignoring the deadline
//	panic         panic
//	status7       status 7 with no reply
//	badcode       status 1 with an error reply whose code is not [a-z0-9_.]
//	baduserset    user_set with a value that is not JSON; reply whether the host refused it
//	bigreply, badpush, bigpush, manypushes, badstore, badkey, storefull, badpublish,
//	manypublishes, badtable: a result over a limit or malformed, after a valid store write
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/pagerpc"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

type plugin struct{}

func (plugin) Features(context.Context) (uint64, error) { return wasmabi.FeaturePush, nil }

// valid is a store write that a broken result carries along: it must not reach the page.
var valid = abi.PageStoreChange{Key: "k", Value: []byte(`"overwritten"`)}

func (plugin) Call(ctx context.Context, c abi.PageCall, host abi.PageHost) (abi.PageResult, error) {
	if c.Entry == abi.PageEntryLoad {
		return abi.PageResult{Reply: []byte("<html><body>plugin</body></html>")}, nil
	}
	ok := func(reply string) (abi.PageResult, error) { return abi.PageResult{Reply: []byte(reply)}, nil }
	broken := func(r abi.PageResult) (abi.PageResult, error) {
		r.Changes = append([]abi.PageStoreChange{valid}, r.Changes...)
		if r.Reply == nil {
			r.Reply = []byte("{}")
		}
		return r, nil
	}
	mb := strings.Repeat("x", 1<<20-2)
	switch c.Method {
	case "set":
		return abi.PageResult{Reply: c.Input, Changes: []abi.PageStoreChange{{Key: "k", Value: c.Input}}}, nil
	case "get":
		if v, found := c.Store["k"]; found {
			return ok(string(v))
		}
		return ok("null")
	case "pid":
		return ok(fmt.Sprintf(`{"pid":%d}`, os.Getpid()))
	case "sleep":
		time.Sleep(2 * time.Second)
		return ok("{}")
	case "panic":
		panic("test plugin panics on request")
	case "status7":
		return abi.PageResult{Status: 7}, nil
	case "badcode":
		return abi.PageResult{Status: 1, Reply: []byte(`{"code":"Not A Code","message":"m"}`)}, nil
	case "baduserset":
		err := host.UserSet(ctx, "k", []byte("{not json"))
		return ok(fmt.Sprintf(`{"invalid":%v}`, errors.Is(err, abi.ErrInvalid)))
	case "bigreply":
		return broken(abi.PageResult{Reply: []byte(`"` + strings.Repeat("x", wasmabi.MaxReplyBytes) + `"`)})
	case "badpush":
		return broken(abi.PageResult{Pushes: [][]byte{[]byte("{not json")}})
	case "bigpush":
		return broken(abi.PageResult{Pushes: [][]byte{[]byte(`"` + strings.Repeat("x", wasmabi.MaxPushBytes) + `"`)}})
	case "manypushes":
		pushes := make([][]byte, wasmabi.MaxPushesPerCall+1)
		for i := range pushes {
			pushes[i] = []byte("{}")
		}
		return broken(abi.PageResult{Pushes: pushes})
	case "badstore":
		return broken(abi.PageResult{Changes: []abi.PageStoreChange{{Key: "j", Value: []byte("{not json")}}})
	case "badkey":
		return broken(abi.PageResult{Changes: []abi.PageStoreChange{{Key: "a\nb", Value: []byte("1")}}})
	case "storefull":
		var changes []abi.PageStoreChange
		for i := range wasmabi.MaxStoreBytes>>20 + 1 {
			changes = append(changes, abi.PageStoreChange{Key: fmt.Sprint("big", i), Value: []byte(`"` + mb + `"`)})
		}
		return broken(abi.PageResult{Changes: changes})
	case "badpublish":
		return broken(abi.PageResult{Publishes: []abi.PagePublish{{Table: "t.x", Event: []byte("[1]")}}})
	case "manypublishes":
		pubs := make([]abi.PagePublish, wasmabi.MaxPublishPerCall+1)
		for i := range pubs {
			pubs[i] = abi.PagePublish{Table: "t.x", Event: []byte("{}")}
		}
		return broken(abi.PageResult{Publishes: pubs})
	case "badtable":
		return broken(abi.PageResult{Tables: []abi.PageTableChange{{Table: "no table", Subscribe: true}}})
	}
	return abi.PageResult{Status: 1, Reply: []byte(`{"code":"unknown_method","message":"unknown method: ` + c.Method + `"}`)}, nil
}

func main() { pagerpc.Serve(plugin{}) }
