package pyro

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
)

// Wire constants of Pyro4 4.82 (Pyro4/message.py, Pyro4/constants.py).
const (
	protocolVersion = 48
	headerSize      = 24     // struct '!4sHHHHiHHHH'
	checksumMagic   = 0x34E9 // added to the header checksum

	MsgConnect     = 1
	MsgConnectOK   = 2
	MsgConnectFail = 3
	MsgInvoke      = 4
	MsgResult      = 5
	MsgPing        = 6

	FlagException        = 1 << 0
	FlagCompressed       = 1 << 1
	FlagOneway           = 1 << 2
	FlagBatch            = 1 << 3
	FlagMetaOnConnect    = 1 << 4
	FlagItemStreamResult = 1 << 5
	FlagKeepSerialized   = 1 << 6

	SerializerMarshal = 3 // the daemon answers a failed handshake in marshal
	SerializerPickle  = 4

	// maxMessageSize bounds what we accept from the wire, so a corrupt header cannot make
	// us allocate gigabytes (Pyro4's own MAX_MESSAGE_SIZE is 0 = unlimited).
	maxMessageSize = 256 << 20
)

// message is one Pyro4 wire message as received. Data may alias the connection's read
// buffer: it is valid until the next call on that connection.
type message struct {
	Type       uint16
	Flags      uint16
	Seq        uint16
	Serializer uint16
	Data       []byte
}

// Buffer sizes of a connection: the first fits the usual request and reply (a few hundred
// bytes) so one read syscall takes a whole reply; a buffer grown past the second for a
// big message is not kept, so one large reply does not pin memory for the connection's life.
const (
	initialBufSize = 4 << 10
	maxKeptBufSize = 1 << 20
)

// hmacAnnSize is the one annotation we send: "HMAC", its length, the SHA-1 digest.
const hmacAnnSize = 6 + sha1.Size

// wire frames and reads the messages of one connection, reusing its buffers and its HMAC
// state: hmac.New per message (two per call) was ~6% of a call's client CPU in a profile.
// Not safe for concurrent use; Conn serialises calls.
type wire struct {
	mac  hash.Hash // HMAC-SHA1 keyed with the connection's key; nil without a key
	sum  [sha1.Size]byte
	wbuf []byte // outgoing message
	rbuf []byte // incoming message; a reply's Data aliases it
}

func newWire(key []byte) *wire {
	w := &wire{wbuf: make([]byte, 0, initialBufSize), rbuf: make([]byte, initialBufSize)}
	if len(key) > 0 {
		w.mac = hmac.New(sha1.New, key)
	}
	return w
}

// digest is Pyro4's Message.hmac(): HMAC-SHA1 over the data, then over every annotation
// value except HMAC's own, in sorted key order (anns must be sorted).
func (w *wire) digest(data []byte, anns []annotation) []byte {
	w.mac.Reset()
	w.mac.Write(data)
	for _, a := range anns {
		if a.key != "HMAC" {
			w.mac.Write(a.value)
		}
	}
	return w.mac.Sum(w.sum[:0])
}

// encode returns the bytes of a message whose data is the pickle of v, built in the
// wire's buffer (valid until the next encode): header, the HMAC annotation when there is
// a key, data — one buffer, so one write.
func (w *wire) encode(typ, flags, seq uint16, v any) ([]byte, error) {
	annSize := 0
	if w.mac != nil {
		annSize = hmacAnnSize
	}
	off := headerSize + annSize
	buf := bytes.NewBuffer(w.wbuf[:off])
	if err := pickleTo(buf, v); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	if cap(raw) <= maxKeptBufSize {
		w.wbuf = raw[:0]
	}
	data := raw[off:]
	if len(data) > 0x7fffffff {
		return nil, fmt.Errorf("pyro: message data too large (%d bytes)", len(data))
	}
	putHeader(raw[:headerSize], typ, flags, seq, SerializerPickle, uint32(len(data)), uint16(annSize))
	if w.mac != nil {
		// Annotation order on the wire does not matter to Pyro (it reads them into a
		// dict); HMAC is our only one.
		a := raw[headerSize:off]
		copy(a, "HMAC")
		binary.BigEndian.PutUint16(a[4:], sha1.Size)
		copy(a[6:], w.digest(data, nil))
	}
	return raw, nil
}

// putHeader writes the 24-byte header, struct '!4sHHHHiHHHH' of Pyro4's message.py.
func putHeader(h []byte, typ, flags, seq, serializer uint16, dataSize uint32, annSize uint16) {
	be := binary.BigEndian
	checksum := (uint32(typ) + protocolVersion + dataSize + uint32(annSize) +
		uint32(serializer) + uint32(flags) + uint32(seq) + checksumMagic) & 0xffff
	copy(h, "PYRO")
	be.PutUint16(h[4:], protocolVersion)
	be.PutUint16(h[6:], typ)
	be.PutUint16(h[8:], flags)
	be.PutUint16(h[10:], seq)
	be.PutUint32(h[12:], dataSize)
	be.PutUint16(h[16:], serializer)
	be.PutUint16(h[18:], annSize)
	be.PutUint16(h[20:], 0) // reserved
	be.PutUint16(h[22:], uint16(checksum))
}

type annotation struct {
	key   string
	value []byte
}

// read reads one message from r and checks its header and HMAC (Message.recv). It reads
// into the wire's buffer with as few reads as the kernel allows (usually one: the daemon
// sends a reply in one sendall). Bytes after the message are a protocol error: the daemon
// sends nothing unprompted and we have one call in flight, so they mean the stream is out
// of step.
func (w *wire) read(r io.Reader) (*message, error) {
	buf := w.rbuf[:cap(w.rbuf)]
	n, err := io.ReadAtLeast(r, buf, headerSize)
	if err != nil {
		return nil, fmt.Errorf("pyro: read header: %w", err)
	}
	h := buf[:headerSize]
	be := binary.BigEndian
	if string(h[0:4]) != "PYRO" {
		return nil, fmt.Errorf("pyro: %w: bad magic %q", ErrProtocol, h[0:4])
	}
	ver := be.Uint16(h[4:])
	if ver != protocolVersion {
		return nil, fmt.Errorf("pyro: %w: protocol version %d, want %d", ErrProtocol, ver, protocolVersion)
	}
	m := &message{
		Type:       be.Uint16(h[6:]),
		Flags:      be.Uint16(h[8:]),
		Seq:        be.Uint16(h[10:]),
		Serializer: be.Uint16(h[16:]),
	}
	dataSize := be.Uint32(h[12:])
	annSize := int(be.Uint16(h[18:]))
	checksum := be.Uint16(h[22:])
	want := (uint32(m.Type) + uint32(ver) + dataSize + uint32(annSize) + uint32(m.Flags) +
		uint32(m.Serializer) + uint32(m.Seq) + checksumMagic) & 0xffff
	if uint32(checksum) != want {
		return nil, fmt.Errorf("pyro: %w: header checksum mismatch", ErrProtocol)
	}
	if dataSize > maxMessageSize {
		return nil, fmt.Errorf("pyro: %w: message of %d bytes exceeds %d", ErrProtocol, dataSize, maxMessageSize)
	}
	total := headerSize + annSize + int(dataSize)
	if n > total {
		return nil, fmt.Errorf("pyro: %w: %d unsolicited bytes after a message", ErrProtocol, n-total)
	}
	if total > len(buf) {
		grown := make([]byte, total)
		copy(grown, buf[:n])
		buf = grown
		if total <= maxKeptBufSize {
			w.rbuf = grown
		}
	}
	if n < total {
		if _, err := io.ReadFull(r, buf[n:total]); err != nil {
			return nil, fmt.Errorf("pyro: read message body: %w", err)
		}
	}
	// Usually one annotation (HMAC); a small array keeps them off the heap.
	var annArr [4]annotation
	anns := annArr[:0]
	ann := buf[headerSize : headerSize+annSize]
	for i := 0; i < len(ann); {
		if i+6 > len(ann) {
			return nil, fmt.Errorf("pyro: %w: truncated annotation chunk", ErrProtocol)
		}
		k := string(ann[i : i+4])
		l := int(be.Uint16(ann[i+4:]))
		if i+6+l > len(ann) {
			return nil, fmt.Errorf("pyro: %w: annotation %s overruns", ErrProtocol, k)
		}
		anns = append(anns, annotation{key: k, value: ann[i+6 : i+6+l]})
		i += 6 + l
	}
	m.Data = buf[headerSize+annSize : total]
	// A dict on the daemon's side: a repeated key keeps its last value, and the digest
	// covers the values in key order. Stable sort, then drop all but the last of a key.
	slices.SortStableFunc(anns, func(a, b annotation) int { return strings.Compare(a.key, b.key) })
	anns = dedupLast(anns)
	var got []byte
	signed := false
	for _, a := range anns {
		if a.key == "HMAC" {
			got, signed = a.value, true
		}
	}
	switch {
	case signed && w.mac != nil:
		if !hmac.Equal(got, w.digest(m.Data, anns)) {
			return m, ErrHMACMismatch
		}
	case signed != (w.mac != nil):
		// Pyro4 refuses this too ("hmac key config not symmetric"): one side has a key.
		return m, fmt.Errorf("%w (one side has no hmac key)", ErrHMACMismatch)
	}
	return m, nil
}

// dedupLast keeps the last of each run of equal keys in sorted anns.
func dedupLast(anns []annotation) []annotation {
	out := anns[:0]
	for i, a := range anns {
		if i+1 < len(anns) && anns[i+1].key == a.key {
			continue
		}
		out = append(out, a)
	}
	return out
}

// payload returns the message data, inflated when the daemon compressed it
// (Pyro4 COMPRESSION=True, off by default).
func (m *message) payload() ([]byte, error) {
	if m.Flags&FlagCompressed == 0 {
		return m.Data, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("pyro: decompress: %w", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("pyro: decompress: %w", err)
	}
	if len(out) > maxMessageSize {
		return nil, fmt.Errorf("pyro: %w: decompressed message too large", ErrProtocol)
	}
	return out, nil
}
