package session

import (
	"crypto/rand"
	"encoding/base64"
)

// IDLen is the length of page and connection ids: 16 random bytes in URL-safe base64
// without padding, 22 characters, like Genropy's uuid-based ids.
const IDLen = 22

// NewID returns a fresh 22-character URL-safe id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on Linux; if it did, ids would not be safe to hand out.
		panic("session: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s looks like an id this package makes (length and alphabet),
// so malformed ids from clients are refused before any lookup.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
