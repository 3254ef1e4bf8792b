package session

import (
	"errors"
	"strings"
	"testing"
)

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 21), strings.Repeat("a", 23), strings.Repeat("/", 22),
		strings.Repeat("a", 22) + "|p00", strings.Repeat("a", 22) + "|pA1", strings.Repeat("a", 22) + "|q01",
		strings.Repeat("a", 22) + "|p1", strings.Repeat("/", 22) + "|p01"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestProcessIDs(t *testing.T) {
	for _, n := range []int{1, 7, 42, MaxProcess} {
		p, err := ParseProcess(n)
		if err != nil {
			t.Fatal(err)
		}
		id := p.NewID()
		if !ValidID(id) || len(id) != IDLen+4 {
			t.Fatalf("process %d: bad id %q", n, id)
		}
		if got, ok := ProcessOf(id); !ok || int(got) != n {
			t.Errorf("ProcessOf(%q) = %d, %v; want %d", id, got, ok, n)
		}
	}
	if id := Process(0).NewID(); len(id) != IDLen {
		t.Errorf("process 0 made %q; want no suffix", id)
	}
	if _, ok := ProcessOf(NewID()); ok {
		t.Error("an id without suffix has a process")
	}
	for _, n := range []int{-1, MaxProcess + 1} {
		if _, err := ParseProcess(n); err == nil {
			t.Errorf("ParseProcess(%d) accepted", n)
		}
	}
}

func TestCookieRoundTripAndTamper(t *testing.T) {
	s, err := NewSigner("site", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{ConnectionID: NewID(), User: "alice.b", Guest: false}
	v := s.Encode(id)
	got, err := s.Decode(v)
	if err != nil || got != id {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	other, _ := NewSigner("site", []byte("fedcba9876543210"))
	if _, err := other.Decode(v); !errors.Is(err, ErrBadCookie) {
		t.Fatalf("other key accepted: %v", err)
	}
	payload, sig, _ := strings.Cut(v, ".")
	if _, err := s.Decode(payload + "x." + sig); !errors.Is(err, ErrBadCookie) {
		t.Fatalf("tampered payload accepted: %v", err)
	}
	if _, err := s.Decode(strings.Repeat("a", MaxCookieBytes+1)); !errors.Is(err, ErrBadCookie) {
		t.Fatal("oversized cookie accepted")
	}
	if _, err := NewSigner("x", []byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}
