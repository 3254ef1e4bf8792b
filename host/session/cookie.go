package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// EnvSecret names the variable a host takes its signing secret from when its set names
// no session.secret_env. A local balancer puts one random secret there for all its host
// processes, so a cookie one process signed is good on the others (phase 7).
const EnvSecret = "GNRHOST_SESSION_SECRET"

// MaxCookieBytes bounds the cookie value read from a client.
const MaxCookieBytes = 2048

// Identity is what the connection cookie carries.
type Identity struct {
	ConnectionID string `json:"c"`
	User         string `json:"u"`
	Guest        bool   `json:"g,omitempty"`
}

// Signer signs and checks connection cookies with HMAC-SHA256.
type Signer struct {
	name   string
	secret []byte
}

// ErrBadCookie: the cookie is missing, malformed or its signature does not match.
var ErrBadCookie = errors.New("session: bad connection cookie")

// NewSigner makes a signer for cookies called name. The secret must be at least 16 bytes.
func NewSigner(name string, secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("session: secret of %d bytes; need at least 16", len(secret))
	}
	return &Signer{name: name, secret: append([]byte(nil), secret...)}, nil
}

func (s *Signer) mac(payload string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Encode returns the signed cookie value for id.
func (s *Signer) Encode(id Identity) string {
	raw, _ := json.Marshal(id)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + s.mac(payload)
}

// Decode checks and reads a cookie value.
func (s *Signer) Decode(value string) (Identity, error) {
	if len(value) > MaxCookieBytes {
		return Identity{}, fmt.Errorf("%w: too long", ErrBadCookie)
	}
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.mac(payload))) {
		return Identity{}, fmt.Errorf("%w: signature", ErrBadCookie)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: encoding", ErrBadCookie)
	}
	var id Identity
	if err := json.Unmarshal(raw, &id); err != nil || !ValidID(id.ConnectionID) {
		return Identity{}, fmt.Errorf("%w: payload", ErrBadCookie)
	}
	return id, nil
}

// Read returns the identity in r's cookie, or ErrBadCookie.
func (s *Signer) Read(r *http.Request) (Identity, error) {
	c, err := r.Cookie(s.name)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: absent", ErrBadCookie)
	}
	return s.Decode(c.Value)
}

// Write sets the cookie for id on w: HttpOnly, SameSite=Lax, Secure when the request
// came over TLS.
func (s *Signer) Write(w http.ResponseWriter, r *http.Request, id Identity) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.name,
		Value:    s.Encode(id),
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil,
	})
	http.SetCookie(w, &http.Cookie{
		Name:     RouteCookie(s.name),
		Value:    RouteKey(id),
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil,
	})
}

// RouteCookie names the cookie a balancer hashes to keep a user on one process (phase
// 7): nginx cannot read the signed cookie's payload, so the key travels beside it.
// It is not trusted: a client that changes it only picks another process, which checks
// the signed cookie as always.
func RouteCookie(cookie string) string { return cookie + "_route" }

// RouteKey is what a balancer hashes for id: the user; a guest is its own user
// ("guest_" + connection id).
func RouteKey(id Identity) string { return id.User }
