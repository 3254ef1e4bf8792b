package registryrpc

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/gnrhost/gnrhost/abi"
)

// connect serves impl through go-plugin's test harness (a real gRPC connection over a
// unix socket, the same server and client setup as a plugin process) and returns the
// host-side abi.Registry together with the harness ends, for tests that break them.
func connect(t testing.TB, impl abi.Registry) (abi.Registry, *plugin.GRPCClient, *plugin.GRPCServer) {
	t.Helper()
	gc, gs := plugin.TestPluginGRPCConn(t, false, VersionedPlugins(impl)[abi.RegistryProtocolVersion])
	t.Cleanup(func() {
		// Server first: GRPCClient.Close asks a live server to stop itself from a handler
		// goroutine, which races (inside go-plugin) with a Stop of our own.
		gs.Stop()
		_ = gc.Close()
	})
	raw, err := gc.Dispense(PluginName)
	if err != nil {
		t.Fatalf("dispense %q: %v", PluginName, err)
	}
	reg, ok := raw.(abi.Registry)
	if !ok {
		t.Fatalf("dispensed %T, want abi.Registry", raw)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return reg, gc, gs
}

// ts is a fixed UTC time with nanoseconds, the form timestamps come back in.
func ts(sec int) time.Time {
	return time.Date(2024, 5, 6, 7, 8, sec, 123456789, time.UTC)
}

// fullItem has every field set, so a field the conversions forget shows up as a diff
// (requireAllSet guards against the fixture itself falling behind abi.Item).
func fullItem() abi.Item {
	return abi.Item{
		Register:         abi.RegisterPage,
		ID:               "page-1",
		User:             "alice",
		UserID:           "u-1",
		UserName:         "Alice",
		UserTags:         "admin,user",
		ConnectionID:     "conn-1",
		ConnectionName:   "conn name",
		PageName:         "index",
		RelativeURL:      "/todo/index",
		UserIP:           "10.0.0.1",
		UserAgent:        "Mozilla/5.0",
		BrowserName:      "firefox",
		Guest:            true,
		SubscribedTables: []string{"todo.item", "todo.list"},
		StartTS:          ts(1),
		LastUserTS:       ts(2),
		LastRPCTS:        ts(3),
		LastRefreshTS:    ts(4),
		Data: map[string]json.RawMessage{
			"a.b":   json.RawMessage(`{"x":1}`),
			"list":  json.RawMessage(`[1,2,3]`),
			"plain": json.RawMessage(`"s"`),
		},
	}
}

func fullDatachange() abi.Datachange {
	return abi.Datachange{
		Path:       "gnr.dbchanges.todo_item",
		Value:      json.RawMessage(`[{"pkey":"1"}]`),
		Attributes: map[string]string{"from_page_id": "p1", "dbevent_reason": "r"},
		Reason:     "why",
		Fired:      true,
		Delete:     true,
		ChangeTS:   ts(9),
		ChangeIdx:  42,
	}
}

func fullNotice() abi.DbEventNotice {
	return abi.DbEventNotice{
		Table: "todo.item",
		Events: []abi.DbEvent{
			{Table: "todo.item", Action: "I", PKey: "1", Data: json.RawMessage(`{"done":false}`)},
			{Table: "todo.item", Action: "D", PKey: "2"},
		},
		OriginPageID: "p0",
		Reason:       "save",
		PageIDs:      []string{"p1", "p2"},
	}
}

// requireAllSet fails when a field of the struct v is its zero value.
func requireAllSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("fixture %T leaves %s unset: set it so its conversion is tested", v, rv.Type().Field(i).Name)
		}
	}
}

func mustEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}
