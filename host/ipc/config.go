package ipc

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// EnvURL names the environment variable that gives the NATS server's URL when the plugin
// set has no `ipc.url`. A balancer that starts an embedded server sets it for its children.
const EnvURL = "GNRHOST_NATS_URL"

// ResolveURL applies the URL rule of the nats backend: the set's `ipc.url` wins, then the
// GNRHOST_NATS_URL variable; an empty result means "no external server" (a single process
// then starts an embedded one, several processes refuse to start).
func ResolveURL(setURL string) (url, source string) {
	if setURL != "" {
		return setURL, "ipc.url"
	}
	if v := strings.TrimSpace(os.Getenv(EnvURL)); v != "" {
		return v, EnvURL
	}
	return "", ""
}

// Subjects are the NATS subjects and key-value bucket of one site. Every process of a site
// uses the same ones; two sites on one NATS server do not see each other's traffic.
type Subjects struct {
	// Prefix starts every subject: "gnr.<site>".
	Prefix string
	// Bucket is the JetStream key-value bucket of the global register: "gnr_<site>_global".
	Bucket string
	// PagesBucket keeps the snapshots of persist pages: "gnr_<site>_pages".
	PagesBucket string
}

// NewSubjects names the subjects of site (the set's name unless `ipc.site` says otherwise).
// Characters NATS does not allow in a token are replaced by '_'.
func NewSubjects(site string) Subjects {
	b := []byte(site)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		b = []byte("default")
	}
	s := string(b)
	return Subjects{Prefix: "gnr." + s, Bucket: "gnr_" + s + "_global", PagesBucket: "gnr_" + s + "_pages"}
}

// DbEvents is the subject of one table's dbevents: <prefix>.dbevents.<pkg_table>, the table
// name with '.' replaced by '_' as in abi.DbChangesPath.
func (s Subjects) DbEvents(table string) string {
	return s.Prefix + ".dbevents." + strings.ReplaceAll(table, ".", "_")
}

// AllDbEvents matches every table's dbevents subject.
func (s Subjects) AllDbEvents() string { return s.Prefix + ".dbevents.>" }

// UserNotify is the subject of the notices for one user: <prefix>.user.<token>.notify.
// See UserToken for how a user id becomes one subject token.
func (s Subjects) UserNotify(user string) string {
	return s.Prefix + ".user." + UserToken(user) + ".notify"
}

// AllUserNotify matches every user's notify subject.
func (s Subjects) AllUserNotify() string { return s.Prefix + ".user.*.notify" }

// Broadcast is the subject of notices for every open page: <prefix>.system.broadcast.
func (s Subjects) Broadcast() string { return s.Prefix + ".system.broadcast" }

// UserToken makes a user id one NATS subject token. Ids made of letters, digits, '_' and
// '-' (guest ids, most logins) are used as they are, so subjects stay readable in
// `nats sub`; any other id (a dot, a space, an '@') becomes '=' followed by its unpadded
// base64url form. '=' is not in the plain alphabet, so the two forms never collide.
func UserToken(user string) string {
	if plainToken(user) {
		return user
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(user))
}

func plainToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// kvKey makes a store path a key-value key. Keys allow letters, digits and "-/_=." with
// dots only between non-empty parts; a path that fits (the usual "todo.items") is used as
// it is, any other becomes '=' and its base64url form, which a plain path cannot start with.
func kvKey(path string) string {
	if plainKey(path) {
		return path
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(path))
}

// kvPath reverses kvKey.
func kvPath(key string) (string, error) {
	enc, ok := strings.CutPrefix(key, "=")
	if !ok {
		return key, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("ipc: key-value key %q: %w", key, err)
	}
	return string(b), nil
}

func plainKey(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
				return false
			}
		}
	}
	return true
}
