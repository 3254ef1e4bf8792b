package front

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// verdict says what to do with a parsed head.
type verdict uint8

const (
	serveIt  verdict = iota
	handOver         // net/http decides (unusual, unsupported or malformed)
	reject           // 400 from the front: ambiguous framing
)

// reqInfo is what the front needs besides the http.Request.
type reqInfo struct {
	keepAlive      bool // the client wants the connection kept
	expectContinue bool
	chunked        bool
	length         int64 // Content-Length, 0 without one
	why            string
}

// errLine ends every head: a blank line.
var headEnd = []byte("\r\n\r\n")

// chunkedTE is Request.TransferEncoding for chunked requests; never modified.
var chunkedTE = []string{"chunked"}

// parseHead parses a complete head (through its blank line) into r, which the caller
// has reset. The head string is one allocation; the fields are substrings of it.
func (c *conn) parseHead(head []byte, r *http.Request) (reqInfo, verdict) {
	var ri reqInfo
	if bytes.Contains(head[:len(head)-2], []byte("\n\n")) || bytes.IndexByte(head, '\r') < 0 {
		return ri, handOver // bare LF line endings
	}
	s := string(head[:len(head)-4])
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || !validToken(method) || method == http.MethodConnect || method == "PRI" ||
		target == "" || target[0] != '/' {
		return ri, handOver
	}
	switch proto {
	case "HTTP/1.1":
		r.ProtoMinor, ri.keepAlive = 1, true
	case "HTTP/1.0":
		r.ProtoMinor = 0
	default:
		return ri, handOver
	}
	u := &c.url
	if !parsePlainTarget(target, u) {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return ri, handOver
		}
	}
	r.Method, r.RequestURI, r.URL, r.Proto, r.ProtoMajor = method, target, u, proto, 1

	h := r.Header
	// One slice for every value: as in the legacy proxy's response headers.
	vals := make([]string, 0, strings.Count(rest, "\n")+1)
	var (
		hosts, tes, lengths int
		conn                []string
	)
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		k, v, ok := strings.Cut(l, ":")
		if !ok || !validToken(k) || !validValue(v) {
			return ri, handOver // obs-fold, a space before the colon, control bytes
		}
		v = strings.Trim(v, " \t")
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "Host":
			hosts++
			if !validHost(v) {
				return ri, handOver
			}
			r.Host = v
			continue // as net/http: Request.Host, not in the header
		case "Content-Length":
			n, err := strconv.ParseUint(v, 10, 63)
			if err != nil || v[0] == '+' {
				ri.why = "invalid Content-Length"
				return ri, reject
			}
			if lengths > 0 && int64(n) != ri.length {
				ri.why = "differing Content-Length values"
				return ri, reject
			}
			lengths++
			ri.length = int64(n)
		case "Transfer-Encoding":
			tes++
			if tes > 1 || !strings.EqualFold(v, "chunked") {
				return ri, handOver // net/http answers 501
			}
		case "Connection":
			conn = append(conn, v)
		case "Upgrade", "Trailer":
			return ri, handOver
		case "Expect":
			if !strings.EqualFold(v, "100-continue") {
				return ri, handOver // net/http answers 417
			}
			ri.expectContinue = true
		}
		vals = append(vals, v)
		if prior, ok := h[k]; ok {
			h[k] = append(prior, v)
		} else {
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	if hosts > 1 || (hosts == 0 && r.ProtoMinor == 1) {
		return ri, handOver // net/http answers 400
	}
	if tes > 0 {
		if r.ProtoMinor == 0 {
			return ri, handOver // net/http ignores the coding of an HTTP/1.0 request
		}
		if lengths > 0 {
			ri.why = "both Transfer-Encoding and Content-Length"
			return ri, reject
		}
		ri.chunked = true
		r.TransferEncoding, r.ContentLength = chunkedTE, -1
	} else {
		r.ContentLength = ri.length
	}
	if ri.expectContinue && r.ProtoMinor == 0 {
		return ri, handOver
	}
	for _, v := range conn {
		for _, tok := range strings.Split(v, ",") {
			switch tok = strings.TrimSpace(tok); {
			case strings.EqualFold(tok, "close"):
				ri.keepAlive = false
			case strings.EqualFold(tok, "keep-alive") && r.ProtoMinor == 0:
				ri.keepAlive = true
			}
		}
	}
	r.Close = !ri.keepAlive
	return ri, serveIt
}

// parsePlainTarget sets u to what url.ParseRequestURI makes of target, without its
// allocation and escaping work, when target is plain: a path of bytes that path escaping
// leaves alone (so RawPath stays empty) and an optional query of such bytes and '%'.
// It reports false for anything else, which ParseRequestURI is left to parse
// (TestParsePlainTarget compares the two).
func parsePlainTarget(target string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !plainByte[path[i]] {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if b := query[i]; !plainByte[b] && b != '%' {
			return false
		}
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return true
}

// plainByte: the bytes url.PathEscape-style path escaping keeps as they are.
var plainByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = true, true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// validToken reports whether s is a non-empty RFC 9110 token (a method, a field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// validValue rejects control bytes other than tab (and so CR and LF) in a field value.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// validHost is a conservative check of a Host value (net/http's rules, roughly).
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !tokenByte[b] && !strings.ContainsRune(":[]@;,=()", rune(b)) {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
