package pages

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/wasm"
)

// The delivery context behaves as a context.WithDeadline would, making a timer only for
// a caller that waits on Done.
func TestLazyDeadline(t *testing.T) {
	c := newLazyDeadline(time.Now().Add(time.Hour))
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute || c.Err() != nil {
		t.Fatal("fresh context")
	}
	if c.ctx != nil {
		t.Fatal("a timer made without a waiter")
	}
	c.stop()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("after stop: %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after stop")
	}

	past := newLazyDeadline(time.Now().Add(-time.Millisecond))
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Fatalf("past deadline: %v", past.Err())
	}
	soon := newLazyDeadline(time.Now().Add(20 * time.Millisecond))
	defer soon.stop()
	select {
	case <-soon.Done():
		if !errors.Is(soon.Err(), context.DeadlineExceeded) {
			t.Fatalf("after Done: %v", soon.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Done never closed at the deadline")
	}
}

// The outbox ring keeps the newest pushes in order once it wraps, and each sees exactly
// the pushes after a sequence number, or says they are no longer complete.
func TestOutboxRing(t *testing.T) {
	o := newOutbox(5)
	kicks := 0
	o.subscribe(func() { kicks++ })
	for i := 1; i <= 12; i++ {
		if seq := o.add([]byte(`1`)); seq != uint64(i) {
			t.Fatalf("push %d numbered %d", i, seq)
		}
	}
	if kicks != 12 {
		t.Fatalf("subscriber called %d times", kicks)
	}
	pushes, complete, _ := o.since(0)
	if complete || len(pushes) != 5 || pushes[0].Seq != 8 || pushes[4].Seq != 12 {
		t.Fatalf("since(0): complete %v, %+v", complete, pushes)
	}
	var seen []uint64
	b := o.each(9, 10, 100, func(p Push) { seen = append(seen, p.Seq) })
	if !b.Complete || b.N != 3 || b.Bytes != 3 || len(seen) != 3 || seen[0] != 10 || seen[2] != 12 {
		t.Fatalf("each(9): %+v %v", b, seen)
	}
	seen = nil
	if b := o.each(9, 2, 100, func(p Push) { seen = append(seen, p.Seq) }); b.N != 3 || len(seen) != 0 {
		t.Fatalf("each over the limit called fn: %+v %v", b, seen)
	}
	if b := o.each(2, 10, 100, func(Push) {}); b.Complete {
		t.Fatal("each(2) complete though pushes 3-7 were dropped")
	}
	if n, bytes := o.pending(10); n != 2 || bytes != 2 {
		t.Fatalf("pending(10) = %d, %d", n, bytes)
	}
	o.shut()
	if b := o.each(12, 10, 100, func(Push) {}); !b.Closed || kicks != 13 {
		t.Fatalf("after shut: %+v, %d kicks", b, kicks)
	}
}

func TestStoreBytesAfter(t *testing.T) {
	s := newStore(map[string]json.RawMessage{"a": json.RawMessage(`"xx"`), "b": json.RawMessage(`1`)})
	if s.bytes != 1+4+1+1 {
		t.Fatalf("bytes %d", s.bytes)
	}
	changes := []wasm.StoreChange{
		{Key: "a", Value: []byte(`"xxxxxx"`)}, // +4
		{Key: "c", Value: []byte(`true`)},     // +5
		{Key: "a", Value: []byte(`0`)},        // a is now 1+1
		{Key: "b", Delete: true},              // -2
		{Key: "zz", Delete: true},             // absent: nothing
	}
	want := 2 + 5 // a=0 and c=true
	if got := s.bytesAfter(changes); got != want {
		t.Fatalf("bytesAfter = %d, want %d", got, want)
	}
	// The same with many changes (the map path).
	var many []wasm.StoreChange
	for i := range 40 {
		many = append(many, wasm.StoreChange{Key: "k" + strconv.Itoa(i%7), Value: []byte(strconv.Itoa(i))})
	}
	many = append(many, changes...)
	other := newStore(map[string]json.RawMessage{"a": json.RawMessage(`"xx"`), "b": json.RawMessage(`1`)})
	predicted := other.bytesAfter(many)
	other.apply(many)
	if predicted != other.bytes {
		t.Fatalf("many changes: bytesAfter %d, apply %d", predicted, other.bytes)
	}
	s.apply(changes)
	if s.bytes != want {
		t.Fatalf("apply gives %d bytes, bytesAfter said %d", s.bytes, want)
	}
}
