package registrymem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Defaults, as gnrdaemon's SiteRegister uses them.
const (
	DefaultPageMaxAge            = 600 * time.Second
	DefaultConnectionMaxAge      = 7200 * time.Second
	DefaultGuestConnectionMaxAge = 40 * time.Second
	DefaultLockTTL               = 10 * time.Second
	DefaultSweepInterval         = 5 * time.Second
)

// Duration is a time.Duration written in JSON as a Go duration string ("600s", "10m"),
// the same spelling plugin-set files use, so a config reads the same in YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as Go does ("10m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string so it round-trips through ParseConfig.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts only a duration string: a bare number would be ambiguous
// (seconds? nanoseconds?) and is refused rather than guessed.
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := parseDuration(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(raw json.RawMessage) (Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want a Go duration string such as \"600s\" or \"10m\", got %s", bytes.TrimSpace(raw))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a Go duration string such as \"600s\" or \"10m\": %w", err)
	}
	if v < 0 {
		return 0, fmt.Errorf("want a duration >= 0, got %q", s)
	}
	return Duration(v), nil
}

// Config is registry-mem's plugin config. A zero field means its default.
type Config struct {
	// PageMaxAge: a page not refreshed for longer is swept.
	PageMaxAge Duration `json:"page_max_age"`
	// ConnectionMaxAge: a logged-in connection not refreshed for longer is swept with its pages.
	ConnectionMaxAge Duration `json:"connection_max_age"`
	// GuestConnectionMaxAge: the same for guest connections, which are cheap to recreate.
	GuestConnectionMaxAge Duration `json:"guest_connection_max_age"`
	// LockTTL is the lifetime of a lock taken with ttl <= 0.
	LockTTL Duration `json:"lock_ttl"`
	// SweepInterval is how often the background sweeper runs.
	SweepInterval Duration `json:"sweep_interval"`
}

// DefaultConfig returns the config with every default filled in.
func DefaultConfig() Config {
	return Config{
		PageMaxAge:            Duration(DefaultPageMaxAge),
		ConnectionMaxAge:      Duration(DefaultConnectionMaxAge),
		GuestConnectionMaxAge: Duration(DefaultGuestConnectionMaxAge),
		LockTTL:               Duration(DefaultLockTTL),
		SweepInterval:         Duration(DefaultSweepInterval),
	}
}

// withDefaults replaces zero (and, for a Config built in Go rather than parsed, negative)
// fields with defaults: a zero max age would expire every item on the next sweep and a
// zero interval would make the ticker panic.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	fill := func(v *Duration, d Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	fill(&c.PageMaxAge, def.PageMaxAge)
	fill(&c.ConnectionMaxAge, def.ConnectionMaxAge)
	fill(&c.GuestConnectionMaxAge, def.GuestConnectionMaxAge)
	fill(&c.LockTTL, def.LockTTL)
	fill(&c.SweepInterval, def.SweepInterval)
	return c
}

// rawConfig mirrors Config with undecoded fields, so each field's problem can be reported
// with the field's name (encoding/json does not add it to an Unmarshaler's error).
type rawConfig struct {
	PageMaxAge            json.RawMessage `json:"page_max_age"`
	ConnectionMaxAge      json.RawMessage `json:"connection_max_age"`
	GuestConnectionMaxAge json.RawMessage `json:"guest_connection_max_age"`
	LockTTL               json.RawMessage `json:"lock_ttl"`
	SweepInterval         json.RawMessage `json:"sweep_interval"`
}

const knownFields = "page_max_age, connection_max_age, guest_connection_max_age, lock_ttl, sweep_interval"

// ParseConfig decodes the plugin config strictly: unknown fields, non-string durations,
// negative durations and trailing data are errors, all reported together. Empty or null raw
// (and null or missing fields) mean the defaults.
func ParseConfig(raw json.RawMessage) (Config, error) {
	cfg := DefaultConfig()
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return cfg, nil
	}
	if trimmed[0] != '{' {
		return Config{}, fmt.Errorf("registry-mem config: want a JSON object with fields %s, got %s", knownFields, abbreviate(trimmed))
	}

	var fields rawConfig
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fields); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return Config{}, fmt.Errorf("registry-mem config: %w (known fields: %s)", err, knownFields)
		}
		return Config{}, fmt.Errorf("registry-mem config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("registry-mem config: trailing data after the config object")
	}

	var errs []error
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *Duration
	}{
		{"page_max_age", fields.PageMaxAge, &cfg.PageMaxAge},
		{"connection_max_age", fields.ConnectionMaxAge, &cfg.ConnectionMaxAge},
		{"guest_connection_max_age", fields.GuestConnectionMaxAge, &cfg.GuestConnectionMaxAge},
		{"lock_ttl", fields.LockTTL, &cfg.LockTTL},
		{"sweep_interval", fields.SweepInterval, &cfg.SweepInterval},
	} {
		if len(f.raw) == 0 || string(bytes.TrimSpace(f.raw)) == "null" {
			continue
		}
		v, err := parseDuration(f.raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("registry-mem config: field %q: %w", f.name, err))
			continue
		}
		if v > 0 {
			*f.dst = v
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

func abbreviate(b []byte) string {
	const limit = 40
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
