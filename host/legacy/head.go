package legacy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// exchange is the scratch space of one proxied request, pooled: the response head as
// read, its fields, and the copy buffers.
type exchange struct {
	raw    []byte  // the response head as read, CRLFs included
	lines  []span  // its lines in raw, status line first
	fields []field // its header fields
	buf    []byte  // response body copies
	upBuf  []byte  // request body copies on the sender goroutine
}

type span struct{ start, end int }

// field is a header field of the response. k and v are substrings of one string made of
// the whole head: one allocation for all of them.
type field struct {
	k, v string
	skip bool // hop-by-hop: not passed to the client
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

const copyBufSize = 32 << 10

func (ex *exchange) buffer() []byte {
	if ex.buf == nil {
		ex.buf = make([]byte, copyBufSize)
	}
	return ex.buf
}

func (ex *exchange) upBuffer() []byte {
	if ex.upBuf == nil {
		ex.upBuf = make([]byte, copyBufSize)
	}
	return ex.upBuf
}

func (ex *exchange) release() {
	if cap(ex.raw) > 64<<10 {
		ex.raw = nil // an unusual head: do not keep its memory
	}
	clear(ex.fields) // the strings of this head are garbage now
	ex.raw, ex.lines, ex.fields = ex.raw[:0], ex.lines[:0], ex.fields[:0]
	exchangePool.Put(ex)
}

type bodyMode uint8

const (
	bodyNone       bodyMode = iota // HEAD, 1xx, 204, 304
	bodySized                      // Content-Length
	bodyChunked                    // Transfer-Encoding: chunked
	bodyUntilClose                 // neither: the body ends when the site closes
)

// head is what the proxy needs to know of a response head; its fields are in the
// exchange.
type head struct {
	status   int
	mode     bodyMode
	length   int64 // for bodySized
	reusable bool  // the connection may carry another request once the body is read
	stream   bool  // text/event-stream: flush every write, as ReverseProxy does
}

// readLine appends the next line of br to ex.raw and returns where its content (without
// the line ending) is.
func (ex *exchange) readLine(br *bufio.Reader) (span, error) {
	start := len(ex.raw)
	for {
		frag, err := br.ReadSlice('\n')
		if len(ex.raw)+len(frag) > maxHeadBytes {
			return span{}, fmt.Errorf("%w: head over %d bytes", errBadResponse, maxHeadBytes)
		}
		ex.raw = append(ex.raw, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(ex.raw) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return span{}, err
		}
	}
	end := len(ex.raw) - 1
	if end > start && ex.raw[end-1] == '\r' {
		end--
	}
	return span{start, end}, nil
}

// readHead reads the response head from br, skipping interim (1xx) answers: the host's
// server has already answered the client's Expect: 100-continue itself.
func readHead(ex *exchange, br *bufio.Reader, method string) (head, error) {
	var (
		status int
		http11 bool
	)
	for {
		ex.raw, ex.lines = ex.raw[:0], ex.lines[:0]
		for {
			l, err := ex.readLine(br)
			if err != nil {
				return head{}, err
			}
			if l.start == l.end {
				break
			}
			ex.lines = append(ex.lines, l)
		}
		if len(ex.lines) == 0 {
			return head{}, fmt.Errorf("%w: empty head", errBadResponse)
		}
		var ok bool
		l := ex.lines[0]
		if status, http11, ok = parseStatusLine(ex.raw[l.start:l.end]); !ok {
			return head{}, fmt.Errorf("%w: status line %q", errBadResponse, ex.raw[l.start:min(l.end, l.start+64)])
		}
		if status == http.StatusSwitchingProtocols {
			return head{}, fmt.Errorf("%w: 101 without an upgrade request", errBadResponse)
		}
		if status >= 200 {
			break
		}
	}

	text := string(ex.raw)
	h := head{status: status, length: -1}
	var (
		te              string
		closing, keepOn bool
		connTokens      bool // Connection names other fields to drop
	)
	for _, l := range ex.lines[1:] {
		line := text[l.start:l.end]
		i := strings.IndexByte(line, ':')
		if i <= 0 || line[0] == ' ' || line[0] == '\t' {
			return head{}, fmt.Errorf("%w: header line %q", errBadResponse, line[:min(len(line), 64)])
		}
		f := field{k: textproto.CanonicalMIMEHeaderKey(line[:i]), v: strings.Trim(line[i+1:], " \t")}
		switch f.k {
		case "Content-Length":
			n, err := strconv.ParseInt(f.v, 10, 64)
			if err != nil || n < 0 || (h.length >= 0 && n != h.length) {
				return head{}, fmt.Errorf("%w: Content-Length %q", errBadResponse, f.v)
			}
			h.length = n
		case "Transfer-Encoding":
			te, f.skip = f.v, true
		case "Connection":
			f.skip = true
			for _, tok := range strings.Split(f.v, ",") {
				switch tok = strings.TrimSpace(tok); {
				case strings.EqualFold(tok, "close"):
					closing = true
				case strings.EqualFold(tok, "keep-alive"):
					keepOn = true
				case tok != "":
					connTokens = true
				}
			}
		case "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade":
			f.skip = true
		case "Content-Type":
			h.stream = strings.HasPrefix(f.v, "text/event-stream")
		}
		ex.fields = append(ex.fields, f)
	}
	switch {
	case method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified:
		h.mode = bodyNone
	case te != "":
		// The last coding is the framing; anything else leaves the length to the close.
		h.mode = bodyUntilClose
		if i := strings.LastIndexByte(te, ','); strings.EqualFold(strings.TrimSpace(te[i+1:]), "chunked") {
			h.mode = bodyChunked
		}
	case h.length >= 0:
		h.mode = bodySized
	default:
		h.mode = bodyUntilClose
	}
	h.reusable = !closing && (http11 || keepOn) && h.mode != bodyUntilClose
	if connTokens || (te != "" && h.length >= 0) {
		ex.dropListed(te != "")
	}
	return h, nil
}

// dropListed marks the fields a Connection header names, and Content-Length when a
// Transfer-Encoding overrides it.
func (ex *exchange) dropListed(hasTE bool) {
	var conn []string
	for _, f := range ex.fields {
		if f.k == "Connection" {
			conn = append(conn, f.v)
		}
	}
	for i := range ex.fields {
		f := &ex.fields[i]
		if (hasTE && f.k == "Content-Length") || (len(conn) > 0 && tokenListContains(conn, f.k)) {
			f.skip = true
		}
	}
}

// parseStatusLine parses "HTTP/1.x NNN[ reason]".
func parseStatusLine(b []byte) (status int, http11, ok bool) {
	if len(b) < 12 || string(b[:7]) != "HTTP/1." || b[8] != ' ' || (len(b) > 12 && b[12] != ' ') {
		return 0, false, false
	}
	for _, c := range b[9:12] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		status = status*10 + int(c-'0')
	}
	return status, b[7] != '0', status >= 100
}

// copyHeaders adds the fields of the head that are not hop-by-hop to dst. Every value
// slice is carved out of one array: one allocation for all of them.
func (ex *exchange) copyHeaders(dst http.Header) {
	n := 0
	for i := range ex.fields {
		if !ex.fields[i].skip {
			n++
		}
	}
	vals := make([]string, n)
	n = 0
	for _, f := range ex.fields {
		if f.skip {
			continue
		}
		vals[n] = f.v
		if prior, ok := dst[f.k]; ok {
			dst[f.k] = append(prior, f.v)
		} else {
			dst[f.k] = vals[n : n+1 : n+1]
		}
		n++
	}
}

// fieldAdder is a ResponseWriter that takes header fields one by one, in canonical
// form, without a header map (the legacy front's).
type fieldAdder interface{ AddField(k, v string) }

// fieldAdderOf returns w, or the writer Instrument wrapped, as a fieldAdder, or nil.
func fieldAdderOf(w http.ResponseWriter) fieldAdder {
	if sw, ok := w.(*statusWriter); ok {
		w = sw.ResponseWriter
	}
	fa, _ := w.(fieldAdder)
	return fa
}

// addFields gives the fields of the head that are not hop-by-hop to fa.
func (ex *exchange) addFields(fa fieldAdder) {
	for _, f := range ex.fields {
		if !f.skip {
			fa.AddField(f.k, f.v)
		}
	}
}

// readTrailers reads the trailer section after a chunked body and passes its fields on
// as trailers of the answer.
func (ex *exchange) readTrailers(br *bufio.Reader, dst http.Header) error {
	ex.raw = ex.raw[:0]
	for {
		l, err := ex.readLine(br)
		if err != nil {
			return err
		}
		if l.start == l.end {
			return nil
		}
		line := string(ex.raw[l.start:l.end])
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return fmt.Errorf("%w: trailer line %q", errBadResponse, line[:min(len(line), 64)])
		}
		dst.Add(http.TrailerPrefix+textproto.CanonicalMIMEHeaderKey(k), strings.Trim(v, " \t"))
	}
}

// writeRequestHead writes the request line and header fields for the site into bw:
// the client's fields minus hop-by-hop ones (and those its Connection names) and minus
// any X-Forwarded-*/Forwarded it claimed, then the proxy's own X-Forwarded-For/-Host/
// -Proto and the body's framing.
func writeRequestHead(bw *bufio.Writer, r *http.Request, defaultHost string) {
	_, _ = bw.WriteString(r.Method)
	_ = bw.WriteByte(' ')
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		uri = r.URL.RequestURI() // absolute-form from the client: origin-form for the site
	}
	_, _ = bw.WriteString(uri)
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := r.Host
	if host == "" {
		host = defaultHost
	}
	_, _ = bw.WriteString(host)
	_, _ = bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if dropRequestField(k) || (conn != nil && tokenListContains(conn, k)) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if te := r.Header["Te"]; te != nil && tokenListContains(te, "trailers") {
		writeField(bw, "Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		writeField(bw, "X-Forwarded-For", ip)
	}
	if r.Host != "" {
		writeField(bw, "X-Forwarded-Host", r.Host)
	}
	if r.TLS != nil {
		writeField(bw, "X-Forwarded-Proto", "https")
	} else {
		writeField(bw, "X-Forwarded-Proto", "http")
	}
	switch n := r.ContentLength; {
	case n > 0:
		var num [20]byte
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(strconv.AppendInt(num[:0], n, 10))
		_, _ = bw.WriteString("\r\n")
	case n < 0:
		writeField(bw, "Transfer-Encoding", "chunked")
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		writeField(bw, "Content-Length", "0")
	}
	_, _ = bw.WriteString("\r\n")
}

func writeField(bw *bufio.Writer, k, v string) {
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	_, _ = bw.WriteString(v)
	_, _ = bw.WriteString("\r\n")
}

// dropRequestField tells the client's fields the site must not get: hop-by-hop ones
// (RFC 9110 7.6.1), the framing (rewritten for the site), Expect (the host's server has
// answered it), and forwarding claims (the proxy states its own).
func dropRequestField(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length", "Expect",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded":
		return true
	}
	return false
}

// tokenListContains reports whether the comma-separated values hold token, in any case.
func tokenListContains(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// copySized copies the n-byte body from br to w, flushing every write only for event
// streams.
func copySized(w http.ResponseWriter, br *bufio.Reader, n int64, buf []byte, stream bool) error {
	var flush func() error
	if stream {
		flush = flusher(w)
	}
	for n > 0 {
		m, err := br.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			if flush != nil {
				_ = flush()
			}
			n -= int64(m)
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

// copyStream copies a body of unknown length, flushing after every read so that a
// streamed answer reaches the client as it is produced.
func copyStream(w http.ResponseWriter, src io.Reader, buf []byte) error {
	flush := flusher(w)
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			_ = flush()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func flusher(w http.ResponseWriter) func() error {
	if f, ok := w.(http.Flusher); ok {
		return func() error { f.Flush(); return nil }
	}
	return http.NewResponseController(w).Flush
}
