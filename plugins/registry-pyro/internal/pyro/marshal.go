package pyro

import "encoding/binary"

// unmarshalString decodes a Python marshal'ed str, the one marshal value we meet: a
// daemon that fails the handshake before it knows the client's serializer answers with
// marshal.dumps(str(error)).
func unmarshalString(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	typ := b[0] &^ 0x80 // FLAG_REF
	switch typ {
	case 'z', 'Z': // short ascii (interned): 1-byte length
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return "", false
		}
		return string(b[2 : 2+int(b[1])]), true
	case 'u', 't', 'a', 'A': // unicode / interned / ascii: 4-byte little-endian length
		if len(b) < 5 {
			return "", false
		}
		n := int(binary.LittleEndian.Uint32(b[1:]))
		if n < 0 || len(b) < 5+n {
			return "", false
		}
		return string(b[5 : 5+n]), true
	}
	return "", false
}
