package registrytest

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

func testDatachanges(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	other := addPage(t, reg, "p2")

	empty, err := reg.Datachanges(ctx, ref, false)
	must(t, err, "Datachanges of a new item")
	if len(empty) != 0 {
		t.Errorf("new item has %d datachanges, want 0", len(empty))
	}

	before := time.Now()
	var sent []abi.Datachange
	var idxs []int64
	for i := range 5 {
		c := abi.Datachange{
			Path:       fmt.Sprintf("p.%d", i),
			Value:      json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)),
			Attributes: map[string]string{"i": fmt.Sprint(i)},
			Reason:     fmt.Sprintf("r%d", i),
			Fired:      i%2 == 0,
			Delete:     i == 3,
		}
		if i == 3 {
			c.Value = nil // a delete carries no value
		}
		idx, err := reg.AppendDatachange(ctx, ref, c)
		must(t, err, "AppendDatachange")
		sent = append(sent, c)
		idxs = append(idxs, idx)
		// Another item's changes must not advance this item's index.
		_, err = reg.AppendDatachange(ctx, other, abi.Datachange{Path: "noise"})
		must(t, err, "AppendDatachange(other)")
	}
	after := time.Now()
	for i := 1; i < len(idxs); i++ {
		if idxs[i] != idxs[i-1]+1 {
			t.Errorf("ChangeIdx sequence %v does not grow by one per append", idxs)
			break
		}
	}

	for pass, reset := range []bool{false, false, true} {
		got, err := reg.Datachanges(ctx, ref, reset)
		must(t, err, "Datachanges")
		if len(got) != len(sent) {
			t.Fatalf("pass %d: got %d datachanges, want %d", pass, len(got), len(sent))
		}
		for i, g := range got {
			w := sent[i]
			if g.Path != w.Path || g.Reason != w.Reason || g.Fired != w.Fired || g.Delete != w.Delete {
				t.Errorf("pass %d: change %d = %+v, want %+v", pass, i, g, w)
			}
			if !maps.Equal(g.Attributes, w.Attributes) {
				t.Errorf("pass %d: change %d attributes = %v, want %v", pass, i, g.Attributes, w.Attributes)
			}
			if w.Value != nil {
				wantJSON(t, g.Value, w.Value, fmt.Sprintf("pass %d: change %d value", pass, i))
			} else if len(g.Value) != 0 && string(g.Value) != "null" {
				t.Errorf("pass %d: change %d value = %s, want none", pass, i, g.Value)
			}
			if g.ChangeIdx != idxs[i] {
				t.Errorf("pass %d: change %d ChangeIdx = %d, want %d (as returned by AppendDatachange)", pass, i, g.ChangeIdx, idxs[i])
			}
			wantStamp(t, g.ChangeTS, before, after, fmt.Sprintf("change %d ChangeTS", i))
		}
	}
	got, err := reg.Datachanges(ctx, ref, false)
	must(t, err, "Datachanges after reset")
	if len(got) != 0 {
		t.Errorf("after Datachanges(reset) %d changes remain, want 0", len(got))
	}
	noise, err := reg.Datachanges(ctx, other, false)
	must(t, err, "Datachanges(other)")
	if len(noise) != 5 {
		t.Errorf("resetting p1 touched p2: %d changes, want 5", len(noise))
	}

	// The index keeps growing after a reset, so a client never sees one twice.
	idx, err := reg.AppendDatachange(ctx, ref, abi.Datachange{Path: "later"})
	must(t, err, "AppendDatachange after reset")
	if idx != idxs[len(idxs)-1]+1 {
		t.Errorf("ChangeIdx after reset = %d, want %d", idx, idxs[len(idxs)-1]+1)
	}
}

func testDropDatachanges(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	for _, p := range []string{"a", "a.b", "a.b.c", "a.bc", "b", "a.b", "b.a.b"} {
		_, err := reg.AppendDatachange(ctx, ref, abi.Datachange{Path: p})
		must(t, err, "AppendDatachange "+p)
	}
	paths := func() []string {
		t.Helper()
		got, err := reg.Datachanges(ctx, ref, false)
		must(t, err, "Datachanges")
		out := make([]string, len(got))
		for i, c := range got {
			out[i] = c.Path
		}
		return out
	}
	must(t, reg.DropDatachanges(ctx, ref, "a.b"), "DropDatachanges(a.b)")
	wantStrings(t, paths(), []string{"a", "a.bc", "b", "b.a.b"}, "after DropDatachanges(a.b)")
	must(t, reg.DropDatachanges(ctx, ref, "zzz"), "DropDatachanges(zzz)")
	wantStrings(t, paths(), []string{"a", "a.bc", "b", "b.a.b"}, "after DropDatachanges(zzz)")
	must(t, reg.DropDatachanges(ctx, ref, "a"), "DropDatachanges(a)")
	wantStrings(t, paths(), []string{"b", "b.a.b"}, "after DropDatachanges(a)")
	must(t, reg.DropDatachanges(ctx, ref, ""), "DropDatachanges(\"\")")
	wantStrings(t, paths(), nil, "after DropDatachanges(\"\")")
}
