package ipc

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure StartEmbedded.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's data (the global store's bucket). Empty: a fresh
	// temporary directory that stop removes, so nothing outlives the server.
	StoreDir string
	// MaxMemory and MaxStore bound JetStream's memory and disk (defaults 64 MiB, 1 GiB).
	MaxMemory int64
	MaxStore  int64
	// ReadyTimeout bounds the wait for the server to accept clients (default 10 s).
	ReadyTimeout time.Duration
}

// StartEmbedded runs a NATS server with JetStream inside this process, listening on a
// random loopback port, and returns its client URL once it accepts connections. stop
// shuts it down, waits for it and removes a temporary store directory; it is safe to call
// more than once. A balancer starts one before its children and passes the URL to them
// in GNRHOST_NATS_URL; a single host process starts one when its set names no server.
//
// # Notes
//
// The server has no authentication: it only listens on 127.0.0.1, and every process of
// the machine can reach it. Use an external server with credentials across machines.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (url string, stop func(), err error) {
	dir := opts.StoreDir
	removeDir := false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gnrhost-nats-"); err != nil {
			return "", nil, fmt.Errorf("ipc: embedded nats: make a store dir: %w", err)
		}
		removeDir = true
	}
	cleanup := func() {
		if removeDir {
			_ = os.RemoveAll(dir)
		}
	}
	sopts := &server.Options{
		ServerName:         "gnrhost-embedded",
		Host:               "127.0.0.1",
		Port:               server.RANDOM_PORT,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: cmp.Or(opts.MaxMemory, 64<<20),
		JetStreamMaxStore:  cmp.Or(opts.MaxStore, 1<<30),
		MaxPayload:         MaxMessageBytes,
		NoSigs:             true,
		NoLog:              true,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("ipc: embedded nats: %w", err)
	}
	srv.Start()
	stop = sync.OnceFunc(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		cleanup()
	})
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	// ReadyForConnections blocks for its whole argument; short rounds let ctx end the wait.
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			stop()
			if ctx.Err() != nil {
				return "", nil, fmt.Errorf("ipc: embedded nats: %w", ctx.Err())
			}
			return "", nil, fmt.Errorf("ipc: embedded nats: not ready after %s", timeout)
		}
	}
	return srv.ClientURL(), stop, nil
}
