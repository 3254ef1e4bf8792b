package balancer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/host/session"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("guest_user-%d", i)
	}
	return out
}

func TestRingIsDeterministic(t *testing.T) {
	a, b := NewRing(3, 1, 2), NewRing(1, 2, 3, 2)
	for _, k := range keys(1000) {
		pa, _ := a.Pick(k)
		pb, _ := b.Pick(k)
		if pa != pb {
			t.Fatalf("key %q: %d then %d", k, pa, pb)
		}
	}
	if _, ok := NewRing().Pick("x"); ok {
		t.Fatal("an empty ring picked a member")
	}
}

func TestRingSpreadsKeysEvenly(t *testing.T) {
	r := NewRing(1, 2, 3)
	count := map[int]int{}
	const n = 30000
	for _, k := range keys(n) {
		p, _ := r.Pick(k)
		count[p]++
	}
	for m, c := range count {
		if share := float64(c) / n; share < 0.30 || share > 0.37 {
			t.Errorf("process %d owns %.3f of the keys, want about 1/3", m, share)
		}
	}
}

// Adding a fourth process moves about a quarter of the keys, all of them to the new one.
func TestRingGrowMovesOnlyTheNewMembersShare(t *testing.T) {
	before, after := NewRing(1, 2, 3), NewRing(1, 2, 3).With(4)
	const n = 10000
	moved := 0
	for _, k := range keys(n) {
		p0, _ := before.Pick(k)
		p1, _ := after.Pick(k)
		if p0 != p1 {
			moved++
			if p1 != 4 {
				t.Fatalf("key %q moved from %d to %d, not to the new process", k, p0, p1)
			}
		}
	}
	share := float64(moved) / n
	t.Logf("3 -> 4 processes moved %.3f of %d keys", share, n)
	if share < 0.20 || share > 0.30 {
		t.Errorf("moved share %.3f, want 0.20..0.30", share)
	}
}

// Removing a process moves only the keys it owned.
func TestRingShrinkMovesOnlyTheRemovedMembersKeys(t *testing.T) {
	before := NewRing(1, 2, 3, 4)
	after := before.Without(2)
	if after.Has(2) || !before.Has(2) || after.Len() != 3 {
		t.Fatalf("Without(2): %v from %v", after.Members(), before.Members())
	}
	for _, k := range keys(10000) {
		p0, _ := before.Pick(k)
		p1, _ := after.Pick(k)
		if p0 != 2 && p0 != p1 {
			t.Fatalf("key %q owned by %d moved to %d when 2 left", k, p0, p1)
		}
		if p1 == 2 {
			t.Fatalf("key %q still picks the removed process", k)
		}
	}
}

func TestRingHeaderRoundTrip(t *testing.T) {
	r := NewRing(3, 1, 2)
	if r.Header() != "1,2,3" {
		t.Fatalf("header %q", r.Header())
	}
	if got := ParseRingHeader(r.Header()); got == nil || got.Header() != "1,2,3" {
		t.Fatalf("parse: %v", got)
	}
	for _, bad := range []string{"", "1,,2", "0", "100", "a", "1;2", strings.Repeat("1,", 200) + "1"} {
		if ParseRingHeader(bad) != nil {
			t.Errorf("ParseRingHeader(%q) accepted", bad)
		}
	}
}

// A guest id minted for a ring is owned by the process that minted it.
func TestOwnedGuestID(t *testing.T) {
	r := NewRing(1, 2, 3, 4)
	for self := 1; self <= 4; self++ {
		for range 200 {
			id := r.OwnedGuestID(self, session.Process(self).NewID)
			if owner, _ := r.Pick("guest_" + id); owner != self {
				t.Fatalf("process %d minted %q, owned by %d", self, id, owner)
			}
			if p, ok := session.ProcessOf(id); !ok || int(p) != self {
				t.Fatalf("id %q lost its suffix", id)
			}
		}
	}
	// A process outside the ring takes the first id.
	calls := 0
	NewRing(1, 2).OwnedGuestID(3, func() string { calls++; return session.NewID() })
	if calls != 1 {
		t.Errorf("%d draws for a process outside the ring", calls)
	}
}
