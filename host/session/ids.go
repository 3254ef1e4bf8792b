package session

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// IDLen is the length of page and connection ids: 16 random bytes in URL-safe base64
// without padding, 22 characters, like Genropy's uuid-based ids.
const IDLen = 22

// MaxProcess is the highest process number an id can carry ("|p99").
const MaxProcess = 99

// suffixLen is the length of the process suffix "|pNN".
const suffixLen = 4

// Process is the number of the host process minting ids (phase 7); ids it makes end in
// "|pNN" so a balancer can send a page's requests to its owner. Zero: a single host,
// ids without suffix.
type Process int

// ParseProcess checks a process number given on the command line.
func ParseProcess(n int) (Process, error) {
	if n < 0 || n > MaxProcess {
		return 0, fmt.Errorf("process number %d out of range; expected 1 to %d (0: no suffix)", n, MaxProcess)
	}
	return Process(n), nil
}

// NewID returns a fresh id, with this process's suffix when it has a number.
func (p Process) NewID() string {
	id := NewID()
	if p == 0 {
		return id
	}
	return fmt.Sprintf("%s|p%02d", id, int(p))
}

// NewID returns a fresh 22-character URL-safe id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on Linux; if it did, ids would not be safe to hand out.
		panic("session: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s looks like an id this package makes (length, alphabet and
// an optional "|pNN" process suffix), so malformed ids from clients are refused before
// any lookup.
func ValidID(s string) bool {
	if len(s) == IDLen+suffixLen {
		if _, ok := ProcessOf(s); !ok {
			return false
		}
		s = s[:IDLen]
	}
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

// ProcessOf returns the process number an id ends with ("…|p02" → 2); ok is false for
// an id without a well-formed suffix (it takes the legacy path, or any process).
func ProcessOf(id string) (Process, bool) {
	if len(id) < suffixLen+1 {
		return 0, false
	}
	s := id[len(id)-suffixLen:]
	if s[0] != '|' || s[1] != 'p' || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return 0, false
	}
	n := Process(int(s[2]-'0')*10 + int(s[3]-'0'))
	return n, n > 0
}
