package pagerpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// echoEntries exercise every part of a call: the store snapshot and overlay, every
// callback, and every kind of output.
func echoEntries() Entries {
	return Entries{
		Load: func(p *Page) (string, error) {
			if err := p.Subscribe("t.x"); err != nil {
				return "", err
			}
			return "<p>" + p.Query("q") + " " + p.Info().PageID + "</p>\n", nil
		},
		RPC: func(p *Page, method string, params json.RawMessage) (any, error) {
			switch method {
			case "all":
				var n int
				if _, err := p.StoreGet("n", &n); err != nil {
					return nil, err
				}
				var total int
				if _, err := p.UserGet("total", &total); err != nil {
					return nil, err
				}
				if err := p.StoreSet("n", n+1); err != nil {
					return nil, err
				}
				if err := p.StoreDelete("gone"); err != nil {
					return nil, err
				}
				if err := p.UserSet("total", total+1); err != nil {
					return nil, err
				}
				if err := p.GlobalSet("seen", params); err != nil {
					return nil, err
				}
				var seen json.RawMessage
				if _, err := p.GlobalGet("seen", &seen); err != nil {
					return nil, err
				}
				p.Log(wasmabi.LogWarn, "hello from "+p.Info().Route)
				if err := p.Push(map[string]string{"msg": "<&>"}); err != nil {
					return nil, err
				}
				if err := p.Publish("t.x", DBEvent{Action: "I", PKey: "k"}); err != nil {
					return nil, err
				}
				if err := p.Unsubscribe("t.y"); err != nil {
					return nil, err
				}
				return map[string]any{"n": n + 1, "total": total + 1, "seen": seen, "keys": p.StoreKeys()}, nil
			case "fail":
				_ = p.StoreSet("n", 99)
				return nil, BadParams("nope")
			case "plain":
				return nil, errors.New("plain failure")
			case "registry":
				_, _, err := p.UserGetRaw("x")
				return nil, err
			case "panic":
				panic("boom")
			case "sleep":
				<-p.Context().Done()
				return nil, p.Context().Err()
			}
			return nil, UnknownMethod(method)
		},
		Event: func(p *Page) error { return p.Push(json.RawMessage(p.Input())) },
		Close: func(p *Page, reason string) error {
			p.Log(wasmabi.LogDebug, "closed: "+reason)
			return nil
		},
	}
}

const allFeatures = wasmabi.FeatureEvents | wasmabi.FeatureClose | wasmabi.FeaturePush

func TestCallRoundTrip(t *testing.T) {
	for _, multiplex := range []bool{false, true} {
		t.Run(fmt.Sprintf("multiplex=%v", multiplex), func(t *testing.T) {
			h := connect(t, NewHandler(allFeatures, echoEntries()), multiplex)
			ctx := t.Context()
			if f, err := h.Features(ctx); err != nil || f != allFeatures {
				t.Fatalf("Features = %d, %v; want %d", f, err, allFeatures)
			}
			host := newFakeHost("a")
			host.user["total"] = []byte("41")
			page := abi.PageInfo{PageID: "p1", ConnectionID: "c1", User: "alice", Route: "/r", Lifecycle: "resident"}

			res, err := h.Call(ctx, abi.PageCall{Entry: abi.PageEntryLoad, Input: []byte(`{"query":{"q":"hi"}}`), Page: page}, host)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			want := abi.PageResult{Reply: []byte("<p>hi p1</p>\n"), Tables: []abi.PageTableChange{{Table: "t.x", Subscribe: true}}}
			mustEqual(t, "load", res, want)

			res, err = h.Call(ctx, abi.PageCall{
				Entry: abi.PageEntryRPC, Method: "all", Input: []byte(`{"a":[1, 2]}`), Page: page,
				Store: map[string]json.RawMessage{"n": []byte("1"), "gone": []byte(`"x"`), "kept": []byte("true")},
			}, host)
			if err != nil {
				t.Fatalf("rpc: %v", err)
			}
			want = abi.PageResult{
				Reply: []byte(`{"keys":["kept","n"],"n":2,"seen":{"a":[1,2]},"total":42}`),
				Changes: []abi.PageStoreChange{
					{Key: "n", Value: []byte("2")},
					{Key: "gone", Delete: true},
				},
				Pushes:    [][]byte{[]byte(`{"msg":"<&>"}`)},
				Publishes: []abi.PagePublish{{Table: "t.x", Event: []byte(`{"action":"I","pkey":"k"}`)}},
				Tables:    []abi.PageTableChange{{Table: "t.y", Subscribe: false}},
			}
			mustEqual(t, "rpc", res, want)
			user, global, logs := host.snapshot()
			mustEqual(t, "user store", user, map[string]string{"total": "42"})
			mustEqual(t, "global store", global, map[string]string{"seen": `{"a":[1,2]}`})
			mustEqual(t, "logs", logs, []string{"2 hello from /r"})

			res, err = h.Call(ctx, abi.PageCall{Entry: abi.PageEntryEvent, Input: []byte(`{"kind":"dbevent"}`)}, host)
			if err != nil {
				t.Fatalf("event: %v", err)
			}
			mustEqual(t, "event", res, abi.PageResult{Pushes: [][]byte{[]byte(`{"kind":"dbevent"}`)}})

			if _, err := h.Call(ctx, abi.PageCall{Entry: abi.PageEntryClose, Input: []byte(`{"reason":"idle"}`)}, host); err != nil {
				t.Fatalf("close: %v", err)
			}
			if _, _, logs := host.snapshot(); logs[len(logs)-1] != "0 closed: idle" {
				t.Fatalf("close log: %q", logs)
			}
		})
	}
}

func TestErrorReplies(t *testing.T) {
	h := connect(t, NewHandler(0, echoEntries()), false)
	ctx := t.Context()
	for method, want := range map[string]string{
		"fail":  `{"code":"bad_params","message":"nope"}`,
		"plain": `{"code":"guest_error","message":"plain failure"}`,
		"nope":  `{"code":"unknown_method","message":"unknown method: nope"}`,
	} {
		res, err := h.Call(ctx, abi.PageCall{Entry: abi.PageEntryRPC, Method: method, Input: []byte(`{}`)}, newFakeHost("h"))
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		// A failed call carries only its error reply: the store write of "fail" is gone.
		mustEqual(t, method, res, abi.PageResult{Status: wasmabi.StatusError, Reply: []byte(want)})
	}
}

func TestCallFailures(t *testing.T) {
	h := connect(t, NewHandler(0, echoEntries()), false)
	ctx := t.Context()
	rpc := func(ctx context.Context, method string, host abi.PageHost) error {
		_, err := h.Call(ctx, abi.PageCall{Entry: abi.PageEntryRPC, Method: method, Input: []byte(`{}`)}, host)
		return err
	}

	// A registry outage in a callback reaches the plugin as abi.ErrUnavailable and, passed
	// on by the handler, comes back to the host as one.
	down := newFakeHost("down")
	down.err = fmt.Errorf("registry gone: %w", abi.ErrUnavailable)
	if err := rpc(ctx, "registry", down); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("callback outage: %v, want ErrUnavailable", err)
	}
	// An invalid key is refused as such, not as an outage.
	bad := newFakeHost("bad")
	bad.err = fmt.Errorf("bad key: %w", abi.ErrInvalid)
	if err := rpc(ctx, "registry", bad); err != nil {
		t.Fatalf("ErrInvalid from a callback should be an error reply, got %v", err)
	}

	err := rpc(ctx, "panic", newFakeHost("p"))
	if err == nil || errors.Is(err, abi.ErrUnavailable) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: %v; want a handler failure naming the panic", err)
	}
	// The plugin survives its handler's panic.
	if err := rpc(ctx, "fail", newFakeHost("p")); err != nil {
		t.Fatalf("call after panic: %v", err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := rpc(short, "sleep", newFakeHost("s")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v, want DeadlineExceeded", err)
	}

	if _, err := h.Call(ctx, abi.PageCall{Entry: "bogus"}, newFakeHost("b")); !errors.Is(err, abi.ErrInvalid) {
		t.Fatalf("unknown entry: %v, want ErrInvalid", err)
	}
}

// TestCallbacksRouteToTheirCall runs many calls at once, each with its own host, and
// checks every callback reached the host of its own call.
func TestCallbacksRouteToTheirCall(t *testing.T) {
	h := connect(t, handlerFunc{call: func(ctx context.Context, c abi.PageCall, host abi.PageHost) (abi.PageResult, error) {
		v, _, err := host.UserGet(ctx, "who")
		if err != nil {
			return abi.PageResult{}, err
		}
		if err := host.UserSet(ctx, "echo", v); err != nil {
			return abi.PageResult{}, err
		}
		return abi.PageResult{Reply: v}, nil
	}}, false)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			host := newFakeHost("h")
			who := fmt.Appendf(nil, `"caller-%d"`, i)
			host.user["who"] = who
			res, err := h.Call(t.Context(), abi.PageCall{Entry: abi.PageEntryRPC, Method: "m"}, host)
			if err != nil {
				errs <- err
				return
			}
			user, _, _ := host.snapshot()
			if string(res.Reply) != string(who) || user["echo"] != string(who) {
				errs <- fmt.Errorf("call %d: reply %s, echo %s", i, res.Reply, user["echo"])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLateCallbackFails: a plugin goroutine that keeps a call's PageHost past the call
// cannot reach the host through it.
func TestLateCallbackFails(t *testing.T) {
	kept := make(chan abi.PageHost, 1)
	h := connect(t, handlerFunc{call: func(_ context.Context, _ abi.PageCall, host abi.PageHost) (abi.PageResult, error) {
		kept <- host
		return abi.PageResult{}, nil
	}}, false)
	host := newFakeHost("h")
	if _, err := h.Call(t.Context(), abi.PageCall{Entry: abi.PageEntryLoad}, host); err != nil {
		t.Fatal(err)
	}
	err := (<-kept).UserSet(t.Context(), "k", []byte("1"))
	if err == nil || errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("late callback: %v; want a call-ended error", err)
	}
	if user, _, _ := host.snapshot(); len(user) != 0 {
		t.Fatalf("late callback reached the host: %v", user)
	}
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show prints results with their byte slices as text.
func show(v any) string {
	if r, ok := v.(abi.PageResult); ok {
		var b strings.Builder
		fmt.Fprintf(&b, "status %d reply %q changes [", r.Status, r.Reply)
		for _, c := range r.Changes {
			fmt.Fprintf(&b, "{%s %q %v}", c.Key, c.Value, c.Delete)
		}
		b.WriteString("] pushes [")
		for _, p := range r.Pushes {
			fmt.Fprintf(&b, "%q", p)
		}
		fmt.Fprintf(&b, "] publishes %q tables %v", fmt.Sprint(r.Publishes), r.Tables)
		return b.String()
	}
	return fmt.Sprintf("%#v", v)
}
