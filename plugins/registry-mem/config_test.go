package registrymem

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	for _, raw := range []string{"", "  ", "null", "{}", `{"page_max_age": null}`} {
		cfg, err := ParseConfig(json.RawMessage(raw))
		if err != nil {
			t.Errorf("ParseConfig(%q): %v", raw, err)
			continue
		}
		if cfg != DefaultConfig() {
			t.Errorf("ParseConfig(%q) = %+v, want defaults %+v", raw, cfg, DefaultConfig())
		}
	}
	def := DefaultConfig()
	if def.PageMaxAge.D() != 600*time.Second || def.ConnectionMaxAge.D() != 7200*time.Second ||
		def.GuestConnectionMaxAge.D() != 40*time.Second || def.LockTTL.D() != 10*time.Second ||
		def.SweepInterval.D() != 5*time.Second {
		t.Errorf("DefaultConfig() = %+v", def)
	}
}

func TestParseConfigValues(t *testing.T) {
	raw := `{"page_max_age": "10m", "connection_max_age": "2h", "guest_connection_max_age": "90s",
		"lock_ttl": "1500ms", "sweep_interval": "1s"}`
	cfg, err := ParseConfig(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	want := Config{
		PageMaxAge:            Duration(10 * time.Minute),
		ConnectionMaxAge:      Duration(2 * time.Hour),
		GuestConnectionMaxAge: Duration(90 * time.Second),
		LockTTL:               Duration(1500 * time.Millisecond),
		SweepInterval:         Duration(time.Second),
	}
	if cfg != want {
		t.Errorf("ParseConfig = %+v, want %+v", cfg, want)
	}

	// A partial config keeps the other defaults; "0s" means the default.
	cfg, err = ParseConfig(json.RawMessage(`{"lock_ttl": "2s", "page_max_age": "0s"}`))
	if err != nil {
		t.Fatalf("ParseConfig partial: %v", err)
	}
	want = DefaultConfig()
	want.LockTTL = Duration(2 * time.Second)
	if cfg != want {
		t.Errorf("ParseConfig partial = %+v, want %+v", cfg, want)
	}

	// Marshalled configs parse back to themselves.
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := ParseConfig(b)
	if err != nil || back != cfg {
		t.Errorf("round trip of %s = %+v, %v", b, back, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string // every fragment must appear in the error
	}{
		{`{"page_max_age": "10m", "bogus": 1}`, []string{`unknown field "bogus"`, "page_max_age"}},
		{`{"page_max_age": 600}`, []string{`"page_max_age"`, "duration string", "600"}},
		{`{"lock_ttl": "ten seconds"}`, []string{`"lock_ttl"`, "duration string"}},
		{`{"sweep_interval": "-5s"}`, []string{`"sweep_interval"`, ">= 0", "-5s"}},
		{`{"page_max_age": true, "connection_max_age": "-1h"}`, []string{`"page_max_age"`, `"connection_max_age"`}},
		{`[1, 2]`, []string{"JSON object"}},
		{`"600s"`, []string{"JSON object"}},
		{`{"page_max_age": "10m"} {}`, []string{"trailing data"}},
		{`{"page_max_age": "10m"`, []string{"registry-mem config"}},
	} {
		_, err := ParseConfig(json.RawMessage(c.raw))
		if err == nil {
			t.Errorf("ParseConfig(%s) succeeded, want an error", c.raw)
			continue
		}
		for _, frag := range c.want {
			if !strings.Contains(err.Error(), frag) {
				t.Errorf("ParseConfig(%s) error %q does not mention %q", c.raw, err, frag)
			}
		}
	}
}

func TestDurationUnmarshal(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"250ms"`), &d); err != nil || d.D() != 250*time.Millisecond {
		t.Errorf("Unmarshal 250ms = %v, %v", d, err)
	}
	if err := json.Unmarshal([]byte(`5`), &d); err == nil {
		t.Error("Unmarshal of a bare number succeeded")
	}
	if err := json.Unmarshal([]byte(`"-1s"`), &d); err == nil {
		t.Error("Unmarshal of a negative duration succeeded")
	}
}
