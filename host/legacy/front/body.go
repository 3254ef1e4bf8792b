package front

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
)

// body is the request body as the handler reads it: a Content-Length body, a chunked
// one, or none. It may be read on a goroutine of the handler's (the legacy proxy sends
// large bodies on one), hence done is atomic.
type body struct {
	c         *conn
	chunked   bool
	remaining int64 // of a sized body
	cr        io.Reader
	limit     int64 // of a chunked body, 0: none
	read      int64
	expect    bool // a 100 Continue is owed before the first read
	err       error
	done      atomic.Bool
}

func (b *body) reset(r *http.Request, ri *reqInfo, limit int64) {
	b.chunked, b.remaining, b.cr, b.limit, b.read, b.err = ri.chunked, ri.length, nil, limit, 0, nil
	b.expect = ri.expectContinue
	b.done.Store(!ri.chunked && ri.length == 0)
	if b.done.Load() {
		r.Body = http.NoBody
		return
	}
	r.Body = b
}

// complete reports whether the body was read to its end.
func (b *body) complete() bool { return b.done.Load() }

func (b *body) Close() error { return nil }

var errTrailerTooLong = errors.New("front: chunked body trailer section too long")

func (b *body) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.expect {
		b.expect = false
		b.c.sendContinue()
	}
	br := b.c.br
	if !b.chunked {
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err := br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			b.done.Store(true)
			return n, nil
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return n, err
	}
	if b.cr == nil {
		b.cr = httputil.NewChunkedReader(br)
	}
	n, err := b.cr.Read(p)
	b.read += int64(n)
	if b.limit > 0 && b.read > b.limit {
		n -= int(b.read - b.limit)
		b.err = &http.MaxBytesError{Limit: b.limit}
		return n, b.err
	}
	if err == io.EOF {
		// The trailer section: read and dropped (requests announcing trailers are
		// handed over, so nothing downstream expects them).
		if err := skipTrailers(br); err != nil {
			b.err = err
			return n, err
		}
		b.done.Store(true)
		return n, io.EOF
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// skipTrailers reads the lines after the last chunk up to the blank one.
func skipTrailers(br *bufio.Reader) error {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF || err == bufio.ErrBufferFull {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if total += len(line); total > bufSize {
			return errTrailerTooLong
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
}

// sendContinue tells a client that waits for it to send the body, unless the answer's
// head is out already.
func (c *conn) sendContinue() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w.headSent {
		return
	}
	_, _ = c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = c.bw.Flush()
}
