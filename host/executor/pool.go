package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/host/metrics"
)

var (
	// ErrQueueFull: every worker is busy and the queue is at its limit.
	ErrQueueFull = errors.New("executor: queue full")
	// ErrClosed: the pool is shutting down and takes no more work.
	ErrClosed = errors.New("executor: closed")
)

type task struct {
	ctx  context.Context
	fn   func(context.Context) error
	done chan error
}

// Pool is a fixed set of workers fed by a bounded queue.
type Pool struct {
	queue   chan task
	metrics *metrics.Metrics

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// New starts workers goroutines with room for queue waiting tasks. m may be nil.
func New(workers, queue int, m *metrics.Metrics) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{queue: make(chan task, queue), metrics: m}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *Pool) work() {
	defer p.wg.Done()
	for t := range p.queue {
		p.gauge(func(m *metrics.Metrics) { m.ExecutorQueued.Dec(); m.ExecutorRunning.Inc() })
		start := time.Now()
		var err error
		if err = t.ctx.Err(); err == nil {
			err = runSafely(t.ctx, t.fn)
		}
		p.gauge(func(m *metrics.Metrics) {
			m.ExecutorRunning.Dec()
			m.ExecutorTaskSeconds.Observe(time.Since(start).Seconds())
		})
		t.done <- err
	}
}

func runSafely(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("executor: task panicked: %v", r)
		}
	}()
	return fn(ctx)
}

func (p *Pool) gauge(f func(*metrics.Metrics)) {
	if p.metrics != nil {
		f(p.metrics)
	}
}

// Do runs fn on a worker and waits for it. It fails at once with ErrQueueFull when the
// queue is full, and returns ctx's error if ctx ends first (fn then still gets ctx, done,
// and should stop).
func (p *Pool) Do(ctx context.Context, fn func(context.Context) error) error {
	t := task{ctx: ctx, fn: fn, done: make(chan error, 1)}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	select {
	case p.queue <- t:
		p.gauge(func(m *metrics.Metrics) { m.ExecutorQueued.Inc() })
		p.mu.RUnlock()
	default:
		p.mu.RUnlock()
		p.gauge(func(m *metrics.Metrics) { m.ExecutorRejected.Inc() })
		return ErrQueueFull
	}
	select {
	case err := <-t.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Go queues fn to run on a worker without waiting for it. It fails at once with
// ErrQueueFull when the queue is full, so fire-and-forget work stays bounded too.
func (p *Pool) Go(ctx context.Context, fn func(context.Context) error) error {
	t := task{ctx: ctx, fn: fn, done: make(chan error, 1)}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- t:
		p.gauge(func(m *metrics.Metrics) { m.ExecutorQueued.Inc() })
		return nil
	default:
		p.gauge(func(m *metrics.Metrics) { m.ExecutorRejected.Inc() })
		return ErrQueueFull
	}
}

// Close stops taking work, lets queued and running tasks finish, and waits for the
// workers until ctx ends.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("executor: workers still busy at shutdown: %w", ctx.Err())
	}
}
