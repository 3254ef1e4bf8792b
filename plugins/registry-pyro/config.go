package registrypyro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Defaults. The daemon address and key are Genropy's code defaults; deployments write
// theirs into environment.xml (<gnrdaemon host=... port=... hmac_key=...>).
const (
	DefaultDaemon                = "localhost:40404"
	DefaultPoolSize              = 4
	MaxPoolSize                  = 64
	DefaultCallTimeout           = 5 * time.Second
	DefaultSiteTimeout           = 30 * time.Second
	DefaultPageMaxAge            = 600 * time.Second
	DefaultConnectionMaxAge      = 7200 * time.Second
	DefaultGuestConnectionMaxAge = 40 * time.Second
	defaultHMACKey               = "supersecretkey"
)

// Config is registry-pyro's plugin config (the `config` of `registry: {plugin:
// registry-pyro}` in a plugin set).
type Config struct {
	// Daemon is the GnrDaemon's host:port.
	Daemon string
	// HMACKey is the shared Pyro4 HMAC key. It comes from the environment variable named
	// by hmac_key_env (preferred: keys stay out of set files) or from hmac_key.
	HMACKey []byte
	// Site is the site's name (GnrDaemon.getSite's domain identifier).
	Site string
	// SitedaemonXML is the path of a standalone site daemon's sitedaemon.xml; when set,
	// the register address is read from it instead of asking GnrDaemon.
	SitedaemonXML string
	// PoolSize bounds the connections kept to each daemon.
	PoolSize int
	// CallTimeout bounds one registry call (dial, send, wait, read).
	CallTimeout time.Duration
	// SiteTimeout bounds the wait for GnrDaemon to start the site's register.
	SiteTimeout time.Duration
	// Max ages Sweep(now) expires items with (gnrdaemon's own cleanup uses the site's).
	PageMaxAge            time.Duration
	ConnectionMaxAge      time.Duration
	GuestConnectionMaxAge time.Duration
}

type rawConfig struct {
	Daemon                string `json:"daemon"`
	HMACKey               string `json:"hmac_key"`
	HMACKeyEnv            string `json:"hmac_key_env"`
	Site                  string `json:"site"`
	SitedaemonXML         string `json:"sitedaemon_xml"`
	PoolSize              *int   `json:"pool_size"`
	CallTimeout           string `json:"call_timeout"`
	SiteTimeout           string `json:"site_timeout"`
	PageMaxAge            string `json:"page_max_age"`
	ConnectionMaxAge      string `json:"connection_max_age"`
	GuestConnectionMaxAge string `json:"guest_connection_max_age"`
}

const knownFields = "daemon, hmac_key, hmac_key_env, site, sitedaemon_xml, pool_size, call_timeout, site_timeout, page_max_age, connection_max_age, guest_connection_max_age"

// ParseConfig decodes and checks the config, reporting every problem at once. The key
// named by hmac_key_env is read from the environment here, so a missing variable is
// reported by `gnrhost validate` too.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var rc rawConfig
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return Config{}, errors.New("registry-pyro config: want an object with at least `site` (or `sitedaemon_xml`)")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		return Config{}, fmt.Errorf("registry-pyro config: %w (known fields: %s)", err, knownFields)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("registry-pyro config: trailing data after the config object")
	}

	cfg := Config{
		Daemon:        rc.Daemon,
		Site:          rc.Site,
		SitedaemonXML: rc.SitedaemonXML,
		PoolSize:      DefaultPoolSize,
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("registry-pyro config: field %q: %s", field, fmt.Sprintf(format, args...)))
	}
	if cfg.Daemon == "" {
		cfg.Daemon = DefaultDaemon
	}
	if _, port, err := net.SplitHostPort(cfg.Daemon); err != nil || port == "" {
		bad("daemon", "want host:port of the GnrDaemon, got %q", cfg.Daemon)
	}
	if cfg.Site == "" && cfg.SitedaemonXML == "" {
		bad("site", "required: the site's name as GnrDaemon knows it (or give sitedaemon_xml)")
	}
	switch {
	case rc.HMACKey != "" && rc.HMACKeyEnv != "":
		bad("hmac_key", "give hmac_key or hmac_key_env, not both")
	case rc.HMACKeyEnv != "":
		v, ok := os.LookupEnv(rc.HMACKeyEnv)
		if !ok || v == "" {
			bad("hmac_key_env", "environment variable %s is not set (it holds the gnrdaemon HMAC key)", rc.HMACKeyEnv)
		}
		cfg.HMACKey = []byte(v)
	case rc.HMACKey != "":
		cfg.HMACKey = []byte(rc.HMACKey)
	default:
		cfg.HMACKey = []byte(defaultHMACKey)
	}
	if rc.PoolSize != nil {
		if *rc.PoolSize < 1 || *rc.PoolSize > MaxPoolSize {
			bad("pool_size", "want 1..%d, got %d", MaxPoolSize, *rc.PoolSize)
		}
		cfg.PoolSize = *rc.PoolSize
	}
	for _, d := range []struct {
		field string
		raw   string
		def   time.Duration
		dst   *time.Duration
	}{
		{"call_timeout", rc.CallTimeout, DefaultCallTimeout, &cfg.CallTimeout},
		{"site_timeout", rc.SiteTimeout, DefaultSiteTimeout, &cfg.SiteTimeout},
		{"page_max_age", rc.PageMaxAge, DefaultPageMaxAge, &cfg.PageMaxAge},
		{"connection_max_age", rc.ConnectionMaxAge, DefaultConnectionMaxAge, &cfg.ConnectionMaxAge},
		{"guest_connection_max_age", rc.GuestConnectionMaxAge, DefaultGuestConnectionMaxAge, &cfg.GuestConnectionMaxAge},
	} {
		*d.dst = d.def
		if strings.TrimSpace(d.raw) == "" {
			continue
		}
		v, err := time.ParseDuration(d.raw)
		if err != nil || v <= 0 {
			bad(d.field, "want a positive Go duration such as \"5s\", got %q", d.raw)
			continue
		}
		*d.dst = v
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}
