package front

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// holdMax is how much of an answer without a Content-Length is held back, so that a
// short one (the host's JSON errors) goes out with a length instead of chunked.
const holdMax = 2 << 10

// response is the http.ResponseWriter of the front: it writes the head and body
// straight into the connection's buffered writer. Reused across a connection's requests.
//
// Unlike net/http it does not sniff a Content-Type for answers without one: the legacy
// site's answers pass as the site sent them, as through nginx.
type response struct {
	c      *conn
	header http.Header
	method string
	http10 bool
	keep   bool // the client asked to keep the connection

	status      int
	wroteHeader bool
	headSent    bool // under c.wmu: see conn.sendContinue
	bodyless    bool
	chunked     bool
	sized       bool
	length      int64
	written     int64
	held        []byte
	// closeAfter: the answer says Connection: close and the connection ends after it.
	closeAfter bool
	scratch    [64]byte
	// fields are those added with AddField, written after the header map's.
	fields  []field
	hasDate bool      // a Date among fields
	length1 [1]string // the Content-Length value AddField puts in the map, without allocating
}

type field struct{ k, v string }

func (w *response) reset(r *http.Request, ri *reqInfo, extra http.Header) {
	if w.header == nil {
		w.header = make(http.Header, 16)
	} else if len(w.header) > 0 {
		clear(w.header)
	}
	for k, v := range extra {
		w.header[k] = v
	}
	w.method, w.http10, w.keep = r.Method, r.ProtoMinor == 0, ri.keepAlive
	w.status, w.wroteHeader, w.headSent, w.bodyless, w.chunked, w.sized = 0, false, false, false, false, false
	w.length, w.written, w.held, w.closeAfter = 0, 0, w.held[:0], false
	clear(w.fields)
	w.fields, w.hasDate = w.fields[:0], false
}

func (w *response) Header() http.Header { return w.header }

// AddField adds a field to the answer's head as Header().Add would, except that k must
// be in canonical form already and the field goes to a list, not the header map: the
// legacy proxy passes the site's fields so, which spares it building a map per request.
// Content-Length still goes to the map, where it sets the framing as it does there.
func (w *response) AddField(k, v string) {
	switch k {
	case "Content-Length":
		if w.header[k] == nil {
			w.length1[0] = v
			w.header[k] = w.length1[:1:1]
			return
		}
	case "Date":
		w.hasDate = true
	}
	w.fields = append(w.fields, field{k, v})
}

// WriteHeader sets the status. Interim (1xx) answers are not relayed: the legacy proxy
// skips the site's, and the front sends 100 Continue itself.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader || code < 200 || code > 999 {
		return
	}
	w.wroteHeader, w.status = true, code
	w.bodyless = w.method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.bodyless {
		if w.method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if !w.headSent {
		if !w.hasLength() && len(w.held)+len(p) <= holdMax {
			w.held = append(w.held, p...)
			return len(p), nil
		}
		w.sendHead(false)
	}
	return w.writeBody(p)
}

// Flush sends what is written so far: an answer without a length is streamed chunked
// from here on.
func (w *response) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(false)
	}
	_ = w.c.bw.Flush()
}

// finish completes the answer and sends it: a held answer gets its length, a chunked
// one its last chunk and trailers.
func (w *response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(true)
	}
	bw := w.c.bw
	switch {
	case w.chunked:
		_, _ = bw.WriteString("0\r\n")
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vv {
					writeField(bw, name, v)
				}
			}
		}
		_, _ = bw.WriteString("\r\n")
	case w.sized && w.written < w.length:
		w.closeAfter = true // short of its length: only a close tells the client
	}
	return bw.Flush()
}

// hasLength reports whether the handler set a Content-Length.
func (w *response) hasLength() bool { return len(w.header["Content-Length"]) > 0 }

// sendHead writes the status line and fields. final: the handler is done, so what is
// held is the whole body.
func (w *response) sendHead(final bool) {
	c := w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w.headSent = true
	switch {
	case w.bodyless:
	case w.hasLength():
		n, err := strconv.ParseInt(w.header["Content-Length"][0], 10, 64)
		if err == nil && n >= 0 {
			w.sized, w.length = true, n
			break
		}
		delete(w.header, "Content-Length")
		fallthrough
	default:
		if final {
			w.sized, w.length = true, int64(len(w.held))
			w.header["Content-Length"] = []string{strconv.Itoa(len(w.held))}
		} else if !w.http10 {
			w.chunked = true
		} else {
			w.closeAfter = true // the end of the body is the close
		}
	}
	if !w.keep || !c.body.complete() || c.s.closing.Load() {
		w.closeAfter = true
	}
	bw := c.bw
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], int64(w.status), 10))
	_ = bw.WriteByte(' ')
	if text := http.StatusText(w.status); text != "" {
		_, _ = bw.WriteString(text)
	} else {
		_, _ = bw.WriteString("status code")
	}
	_, _ = bw.WriteString("\r\n")
	for k, vv := range w.header {
		switch k {
		case "Connection", "Transfer-Encoding", "Keep-Alive":
			continue // the front's to say
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !validToken(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	for _, f := range w.fields {
		switch f.k {
		case "Connection", "Transfer-Encoding", "Keep-Alive":
			continue
		}
		if strings.HasPrefix(f.k, http.TrailerPrefix) || !validToken(f.k) {
			continue
		}
		writeField(bw, f.k, f.v)
	}
	if w.header["Date"] == nil && !w.hasDate {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(time.Now().UTC().AppendFormat(w.scratch[:0], http.TimeFormat))
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		_, _ = bw.WriteString("Connection: close\r\n")
	} else if w.http10 {
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	_, _ = bw.WriteString("\r\n")
	if len(w.held) > 0 {
		held := w.held
		w.held = w.held[:0]
		_, _ = w.writeBody(held)
	}
}

// writeBody writes p in the answer's framing.
func (w *response) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if len(p) == 0 {
		return 0, nil
	}
	if w.sized {
		if left := w.length - w.written; int64(len(p)) > left {
			n, _ := bw.Write(p[:left])
			w.written += int64(n)
			return n, http.ErrContentLength
		}
	}
	if w.chunked {
		_, _ = bw.Write(strconv.AppendInt(w.scratch[:0], int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	w.written += int64(n)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	return n, err
}

// tooLarge answers a request whose announced body is over the limit, as the host's
// body limit does.
func (w *response) tooLarge(limit int64) {
	w.header["Content-Type"] = []string{"application/json"}
	w.header["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = w.Write([]byte(`{"error":"request body too large","limit_bytes":` + strconv.FormatInt(limit, 10) + "}\n"))
}

// writeField writes "k: v", with any CR or LF in v turned into a space (net/http does
// the same) so that no value can start a field of its own.
func writeField(bw interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}, k, v string) {
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		for i := 0; i < len(v); i++ {
			b := v[i]
			if b == '\r' || b == '\n' {
				b = ' '
			}
			_ = bw.WriteByte(b)
		}
	} else {
		_, _ = bw.WriteString(v)
	}
	_, _ = bw.WriteString("\r\n")
}
