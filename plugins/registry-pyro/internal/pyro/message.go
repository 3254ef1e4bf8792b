package pyro

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
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

// message is one Pyro4 wire message.
type message struct {
	Type        uint16
	Flags       uint16
	Seq         uint16
	Serializer  uint16
	Annotations map[string][]byte
	Data        []byte
}

// hmacDigest is Pyro4's Message.hmac(): HMAC-SHA1 keyed with key over the data, then over
// every annotation value except HMAC's own, in sorted key order.
func (m *message) hmacDigest(key []byte) []byte {
	mac := hmac.New(sha1.New, key)
	mac.Write(m.Data)
	for _, k := range m.sortedAnnotationKeys() {
		if k != "HMAC" {
			mac.Write(m.Annotations[k])
		}
	}
	return mac.Sum(nil)
}

func (m *message) sortedAnnotationKeys() []string {
	keys := make([]string, 0, len(m.Annotations))
	for k := range m.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encode returns the message's bytes, adding the HMAC annotation when key is set (last,
// since it covers the other annotations).
func (m *message) encode(key []byte) ([]byte, error) {
	if len(key) > 0 {
		if m.Annotations == nil {
			m.Annotations = map[string][]byte{}
		}
		delete(m.Annotations, "HMAC")
		m.Annotations["HMAC"] = m.hmacDigest(key)
	}
	annSize := 0
	for k, v := range m.Annotations {
		if len(k) != 4 {
			return nil, fmt.Errorf("pyro: annotation key %q must have 4 characters", k)
		}
		if len(v) > 0xffff {
			return nil, fmt.Errorf("pyro: annotation %s too large (%d bytes)", k, len(v))
		}
		annSize += 6 + len(v)
	}
	if annSize > 0xffff {
		return nil, fmt.Errorf("pyro: annotations too large (%d bytes)", annSize)
	}
	if len(m.Data) > 0x7fffffff {
		return nil, fmt.Errorf("pyro: message data too large (%d bytes)", len(m.Data))
	}
	var buf bytes.Buffer
	buf.Grow(headerSize + annSize + len(m.Data))
	checksum := (uint32(m.Type) + protocolVersion + uint32(len(m.Data)) + uint32(annSize) +
		uint32(m.Serializer) + uint32(m.Flags) + uint32(m.Seq) + checksumMagic) & 0xffff
	buf.WriteString("PYRO")
	be := binary.BigEndian
	var h [20]byte
	be.PutUint16(h[0:], protocolVersion)
	be.PutUint16(h[2:], m.Type)
	be.PutUint16(h[4:], m.Flags)
	be.PutUint16(h[6:], m.Seq)
	be.PutUint32(h[8:], uint32(len(m.Data)))
	be.PutUint16(h[12:], m.Serializer)
	be.PutUint16(h[14:], uint16(annSize))
	be.PutUint16(h[16:], 0) // reserved
	be.PutUint16(h[18:], uint16(checksum))
	buf.Write(h[:])
	// Annotation order on the wire does not matter to Pyro (it reads them into a dict);
	// sorted keeps our bytes deterministic for tests.
	for _, k := range m.sortedAnnotationKeys() {
		v := m.Annotations[k]
		buf.WriteString(k)
		var l [2]byte
		be.PutUint16(l[:], uint16(len(v)))
		buf.Write(l[:])
		buf.Write(v)
	}
	buf.Write(m.Data)
	return buf.Bytes(), nil
}

// readMessage reads one message and checks its header and HMAC (Message.recv).
func readMessage(r io.Reader, key []byte) (*message, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pyro: read header: %w", err)
	}
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
	annSize := be.Uint16(h[18:])
	checksum := be.Uint16(h[22:])
	want := (uint32(m.Type) + uint32(ver) + dataSize + uint32(annSize) + uint32(m.Flags) +
		uint32(m.Serializer) + uint32(m.Seq) + checksumMagic) & 0xffff
	if uint32(checksum) != want {
		return nil, fmt.Errorf("pyro: %w: header checksum mismatch", ErrProtocol)
	}
	if dataSize > maxMessageSize {
		return nil, fmt.Errorf("pyro: %w: message of %d bytes exceeds %d", ErrProtocol, dataSize, maxMessageSize)
	}
	if annSize > 0 {
		ann := make([]byte, annSize)
		if _, err := io.ReadFull(r, ann); err != nil {
			return nil, fmt.Errorf("pyro: read annotations: %w", err)
		}
		m.Annotations = map[string][]byte{}
		for i := 0; i < len(ann); {
			if i+6 > len(ann) {
				return nil, fmt.Errorf("pyro: %w: truncated annotation chunk", ErrProtocol)
			}
			k := string(ann[i : i+4])
			l := int(be.Uint16(ann[i+4:]))
			if i+6+l > len(ann) {
				return nil, fmt.Errorf("pyro: %w: annotation %s overruns", ErrProtocol, k)
			}
			m.Annotations[k] = ann[i+6 : i+6+l]
			i += 6 + l
		}
	}
	m.Data = make([]byte, dataSize)
	if _, err := io.ReadFull(r, m.Data); err != nil {
		return nil, fmt.Errorf("pyro: read data: %w", err)
	}
	got, signed := m.Annotations["HMAC"]
	switch {
	case signed && len(key) > 0:
		if !hmac.Equal(got, m.hmacDigest(key)) {
			return m, ErrHMACMismatch
		}
	case signed != (len(key) > 0):
		// Pyro4 refuses this too ("hmac key config not symmetric"): one side has a key.
		return m, fmt.Errorf("%w (one side has no hmac key)", ErrHMACMismatch)
	}
	return m, nil
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
