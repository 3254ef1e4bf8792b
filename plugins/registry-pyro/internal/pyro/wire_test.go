package pyro

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// The HMAC state a connection keeps and resets per message signs exactly as a fresh
// hmac.New per message did, message after message, whatever the previous one was.
func TestWireHMACReuse(t *testing.T) {
	key := []byte(testKey)
	w := newWire(key)
	for i, v := range []any{"a", strings.Repeat("x", 10000), map[string]any{"handshake": "hello"}, "", "b"} {
		raw, err := w.encode(MsgInvoke, 0, uint16(i), v)
		if err != nil {
			t.Fatal(err)
		}
		data := raw[headerSize+hmacAnnSize:]
		mac := hmac.New(sha1.New, key)
		mac.Write(data)
		if got := raw[headerSize+6 : headerSize+hmacAnnSize]; !bytes.Equal(got, mac.Sum(nil)) {
			t.Errorf("message %d: HMAC %x differs from a fresh hmac.New's", i, got)
		}
		// The other side, with its own kept state, accepts it and gets the data back.
		m, err := newWire(key).read(bytes.NewReader(raw))
		if err != nil || m.Seq != uint16(i) || !bytes.Equal(m.Data, data) {
			t.Errorf("message %d: read back %+v, %v", i, m, err)
		}
	}
}

func TestWireReadRejects(t *testing.T) {
	key := []byte(testKey)
	raw, err := newWire(key).encode(MsgResult, 0, 7, "payload")
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(raw)
	tampered[len(tampered)-2] ^= 1
	if _, err := newWire(key).read(bytes.NewReader(tampered)); !errors.Is(err, ErrHMACMismatch) {
		t.Errorf("tampered data: err = %v, want ErrHMACMismatch", err)
	}
	if _, err := newWire([]byte("other")).read(bytes.NewReader(raw)); !errors.Is(err, ErrHMACMismatch) {
		t.Errorf("other key: err = %v, want ErrHMACMismatch", err)
	}
	if _, err := newWire(nil).read(bytes.NewReader(raw)); !errors.Is(err, ErrHMACMismatch) {
		t.Errorf("signed message, no key: err = %v, want ErrHMACMismatch", err)
	}
	// Whatever follows a message in the same read means the stream is out of step.
	extra := append(bytes.Clone(raw), "PYRO"...)
	if _, err := newWire(key).read(bytes.NewReader(extra)); !errors.Is(err, ErrProtocol) {
		t.Errorf("trailing bytes: err = %v, want ErrProtocol", err)
	}
	if _, err := newWire(key).read(bytes.NewReader(raw[:len(raw)-1])); err == nil {
		t.Error("truncated message: no error")
	}
}

// Annotations besides HMAC are covered by the digest in key order (Pyro4's
// Message.hmac), and the reader checks them so.
func TestWireReadAnnotations(t *testing.T) {
	key := []byte(testKey)
	data := []byte("some data")
	anns := []annotation{{"ZZZZ", []byte("last")}, {"AAAA", []byte("first")}}
	mac := hmac.New(sha1.New, key)
	mac.Write(data)
	mac.Write([]byte("first"))
	mac.Write([]byte("last"))
	anns = append(anns, annotation{"HMAC", mac.Sum(nil)})
	var ann []byte
	for _, a := range anns {
		ann = append(ann, a.key...)
		ann = binary.BigEndian.AppendUint16(ann, uint16(len(a.value)))
		ann = append(ann, a.value...)
	}
	raw := make([]byte, headerSize)
	putHeader(raw, MsgResult, 0, 3, SerializerPickle, uint32(len(data)), uint16(len(ann)))
	raw = append(append(raw, ann...), data...)
	m, err := newWire(key).read(bytes.NewReader(raw))
	if err != nil || !bytes.Equal(m.Data, data) {
		t.Fatalf("read = %+v, %v", m, err)
	}
}

// A reply bigger than the read buffer grows it, and the next small one still reads.
func TestWireReadGrows(t *testing.T) {
	key := []byte(testKey)
	sender, receiver := newWire(key), newWire(key)
	for _, n := range []int{10, 3 * initialBufSize, maxKeptBufSize + 10, 10} {
		raw, err := sender.encode(MsgResult, 0, 1, strings.Repeat("y", n))
		if err != nil {
			t.Fatal(err)
		}
		m, err := receiver.read(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		v, err := Unpickle(m.Data)
		if err != nil || v != strings.Repeat("y", n) {
			t.Fatalf("%d bytes: decoded %d chars, %v", n, len(v.(string)), err)
		}
	}
	if cap(receiver.rbuf) > maxKeptBufSize || cap(sender.wbuf) > maxKeptBufSize {
		t.Errorf("kept buffers of %d and %d bytes", cap(receiver.rbuf), cap(sender.wbuf))
	}
}

// Unpickle must copy what it returns: a reply's data is the connection's read buffer,
// overwritten by the next call.
func TestUnpickleDoesNotAlias(t *testing.T) {
	in := map[string]any{"s": "text", "b": []any{"x", "y"}, "n": 12345678901234}
	data, err := Pickle(in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Unpickle(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0
	}
	m, err := Dict(v)
	if err != nil {
		t.Fatal(err)
	}
	if m["s"] != "text" || m["b"].([]any)[1] != "y" {
		t.Errorf("decoded values changed with the buffer: %v", m)
	}
}
