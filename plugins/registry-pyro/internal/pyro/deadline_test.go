package pyro

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// silentPeer accepts connections and reads them without ever answering, like a wedged
// daemon.
func silentPeer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestContextDeadline(t *testing.T) {
	addr := silentPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, addr, []byte(testKey))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("deadline of 200ms took %s", el)
	}
}

func TestContextCancel(t *testing.T) {
	addr := silentPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	pool := NewPool(addr, []byte(testKey), 1)
	defer pool.Close()
	start := time.Now()
	_, err := pool.Call(ctx, "GnrDaemon", "ping", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want Canceled", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancel took %s", el)
	}
}

// A call on a live connection honours the deadline too (the daemon answers, but the
// context has already expired: nothing is sent).
func TestCallExpiredContext(t *testing.T) {
	d, _, reg := site(t)
	_ = d
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := reg.Call(ctx, "counters", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want Canceled", err)
	}
}
