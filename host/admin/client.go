package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Client talks to a host's admin channel: a unix socket path, or an http:// URL of the
// TCP admin listener with its token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient makes a client for target: a socket path, or http://host:port.
func NewClient(target, token string) *Client {
	c := &Client{base: target, token: token}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		c.http = &http.Client{}
		c.base = strings.TrimSuffix(target, "/")
		return c
	}
	socket := target
	c.base = "http://admin"
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	return c
}

// Status fetches the host's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, "/status", nil, &s)
	return s, err
}

// Swap asks the host to swap to file (an absolute path: the host resolves it itself).
func (c *Client) Swap(ctx context.Context, file string) (SwapRecord, error) {
	var r SwapRecord
	err := c.do(ctx, http.MethodPost, "/swap", map[string]string{"file": file}, &r)
	return r, err
}

// Rollback asks the host to swap back to its previous set.
func (c *Client) Rollback(ctx context.Context) (SwapRecord, error) {
	var r SwapRecord
	err := c.do(ctx, http.MethodPost, "/rollback", nil, &r)
	return r, err
}

// Reload asks the host to re-read its current set file.
func (c *Client) Reload(ctx context.Context) (SwapRecord, error) {
	var r SwapRecord
	err := c.do(ctx, http.MethodPost, "/reload", nil, &r)
	return r, err
}

// Memory reads the host process's memory; collect runs a full collection first (see
// Memory for which figure to compare).
func (c *Client) Memory(ctx context.Context, collect bool) (Memory, error) {
	var m Memory
	path := "/memory"
	if collect {
		path += "?gc=1"
	}
	err := c.do(ctx, http.MethodGet, path, nil, &m)
	return m, err
}

// Scale asks a local balancer to run n host processes (phase 7). A host that is not a
// balancer answers 404.
func (c *Client) Scale(ctx context.Context, n int) (ScaleRecord, error) {
	var r ScaleRecord
	err := c.do(ctx, http.MethodPost, "/scale", map[string]int{"processes": n}, &r)
	return r, err
}

// RefusedError is a swap the host refused; Record says what was tried.
type RefusedError struct {
	Reason string
	Record SwapRecord
}

func (e *RefusedError) Error() string { return e.Reason }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin channel: %w (is the host running, and is this its admin socket?)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin channel: read answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.Unmarshal(data, out)
	case http.StatusConflict:
		var r Response
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("admin channel: %s", data)
		}
		return &RefusedError{Reason: r.Error, Record: r.Result}
	default:
		return fmt.Errorf("admin channel: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
}

// DefaultTimeout bounds one admin command (a swap waits for plugins to start and
// requests to drain).
const DefaultTimeout = 5 * time.Minute
