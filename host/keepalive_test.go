package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// TestSocketTakesDatachanges: a page that only listens on its socket gets its pending
// registry datachanges (a value the legacy site set for it, the dbevents of the tables
// it subscribed) in datachanges frames on the keepalive round, and the registry no
// longer keeps them; without the socket they would pile up for as long as the page
// lives.
func TestSocketTakesDatachanges(t *testing.T) {
	rt, base := serveWithKeepalive(t, todoSet(t, t.TempDir(), "todo", "resident"), 100*time.Millisecond)
	watcher, adder := openTodo(t, base), openTodo(t, base)
	sock := watcher.dial(t)
	if f := sock.next(t); f["type"] != "hello" {
		t.Fatalf("first frame %v", f)
	}
	reg := rt.Current().Registry()
	page := abi.ItemRef{Register: abi.RegisterPage, ID: watcher.pageID}
	if _, err := reg.AppendDatachange(context.Background(), page, abi.Datachange{Path: "legacy.note", Value: []byte(`"from the site"`), Reason: "site"}); err != nil {
		t.Fatal(err)
	}
	const adds = 30
	for i := range adds {
		adder.add(t, fmt.Sprintf("item-%d", i))
	}
	// The note arrives first, then one dbevent change per add, in order.
	var got []map[string]any
	for len(got) < 1+adds {
		f := sock.next(t)
		if f["type"] != "datachanges" {
			continue
		}
		for _, d := range f["datachanges"].([]any) {
			got = append(got, d.(map[string]any))
		}
	}
	if got[0]["path"] != "legacy.note" || got[0]["value"] != "from the site" || got[0]["reason"] != "site" {
		t.Errorf("first datachange %v, want the site's note", got[0])
	}
	if len(got) != 1+adds {
		t.Errorf("%d datachanges, want %d", len(got), 1+adds)
	}
	left, err := reg.Datachanges(context.Background(), page, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("the registry still keeps %d datachanges of the page its socket took", len(left))
	}
}
