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
	for _, bad := range []string{"", "short", strings.Repeat("a", 21), strings.Repeat("a", 23), strings.Repeat("/", 22)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
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
