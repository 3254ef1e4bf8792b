package pluginset

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testCatalog() Catalog {
	return Catalog{
		"registry": {
			"registry-mem": func(raw json.RawMessage) error {
				var cfg struct {
					PageMaxAge string `json:"page_max_age"`
				}
				dec := json.NewDecoder(strings.NewReader(string(raw)))
				dec.DisallowUnknownFields()
				if len(raw) == 0 {
					return nil
				}
				return dec.Decode(&cfg)
			},
		},
		"ipc": {"local": nil, "nats": nil},
	}
}

func parse(t *testing.T, yml string) (*Set, Problems) {
	t.Helper()
	set, err := Parse("set.yaml", []byte(yml), testCatalog())
	if err == nil {
		return set, nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is not Problems: %v", err)
	}
	return set, ps
}

func TestValidSetGetsDefaults(t *testing.T) {
	set, ps := parse(t, "registry:\n  plugin: registry-mem\n  config:\n    page_max_age: 10m\n")
	if ps != nil {
		t.Fatalf("unexpected problems: %v", ps)
	}
	if set.Listen != DefaultListen || set.Registry.Mode != ModeInProcess || set.IPC.Backend != "local" {
		t.Fatalf("defaults not applied: %+v", set)
	}
	if set.Name != "set" {
		t.Fatalf("name = %q, want set", set.Name)
	}
	if got := string(set.Registry.Config); got != `{"page_max_age":"10m"}` {
		t.Fatalf("config = %s", got)
	}
	if set.Registry.ConfigAt != (Position{Line: 4, Column: 5}) {
		t.Fatalf("ConfigAt = %+v", set.Registry.ConfigAt)
	}
}

// The acceptance case: an unknown key, a wrong type and an unknown plugin, each reported
// with its line and column, all in one run.
func TestProblemsCarryPositions(t *testing.T) {
	yml := "listen: \":9000\"\n" +
		"bogus: 1\n" +
		"processes: many\n" +
		"registry:\n" +
		"  plugin: registry-nope\n"
	_, ps := parse(t, yml)
	want := []string{
		`set.yaml:2:1: bogus: unknown key; expected one of:`,
		`set.yaml:3:12: processes: expected an integer, found the string "many"`,
		`set.yaml:5:11: registry.plugin: unknown plugin "registry-nope"; expected one of: registry-mem`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if !strings.HasPrefix(ps[i].Error(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, ps[i].Error(), w)
		}
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name, yml, want string
	}{
		{"missing registry", "listen: \":1\"\n", "set.yaml:1:1: registry: missing required key"},
		{"missing plugin", "registry:\n  mode: process\n", "set.yaml:2:3: registry.plugin: missing required key"},
		{"bad mode", "registry:\n  plugin: registry-mem\n  mode: thread\n", `registry.mode: expected inprocess or process, found "thread"`},
		{"bad duration", "shutdown_timeout: 10\nregistry: {plugin: registry-mem}\n", `set.yaml:1:19: shutdown_timeout: expected a duration`},
		{"negative duration", "shutdown_timeout: -1s\nregistry: {plugin: registry-mem}\n", `expected a non-negative duration`},
		{"bad plugin config", "registry:\n  plugin: registry-mem\n  config: {nope: 1}\n", `set.yaml:3:11: registry.config: json: unknown field "nope"`},
		{"duplicate key", "registry: {plugin: registry-mem}\nregistry: {plugin: registry-mem}\n", "set.yaml:2:1: registry: key appears twice"},
		{"bad yaml", "registry: [\n", "set.yaml:"},
		{"empty", "", "empty file"},
		{"list at top", "- a\n", "(top level): expected a mapping, found a list"},
		{"bad listen", "listen: nowhere\nregistry: {plugin: registry-mem}\n", `set.yaml:1:9: listen: expected host:port`},
		{"bad ipc", "registry: {plugin: registry-mem}\nipc: {backend: carrier-pigeon}\n", `set.yaml:2:16: ipc.backend: unknown backend "carrier-pigeon"`},
		{"nats bad url", "registry: {plugin: registry-mem}\nipc: {backend: nats, url: \"localhost:4222\"}\n", `set.yaml:2:27: ipc.url: expected nats://host:port`},
		{"url without nats", "registry: {plugin: registry-mem}\nipc: {backend: local, url: \"nats://127.0.0.1:4222\"}\n", `ipc.url: only the nats backend takes a url`},
		{"nats bad site", "registry: {plugin: registry-mem}\nipc: {backend: nats, site: \"a.b\"}\n", `ipc.site: expected letters, digits`},
		{"nats cluster url", "registry: {plugin: registry-mem}\nipc: {backend: nats, url: \"nats://a:4222,nats://b:4222\"}\n", ""},
		{"persist ephemeral", "registry: {plugin: registry-mem}\npages:\n  - {route: /x, plugin: p, persist: true}\n", `pages[0].persist: applies to resident pages`},
		{"bad origin", "registry: {plugin: registry-mem}\nwebsocket:\n  allowed_origins: [\"example.com\"]\n", `websocket.allowed_origins[0]: expected an origin`},
		{"bad workers", "registry: {plugin: registry-mem}\nexecutors: {workers: 0}\n", ""},
		{"page without module", "registry: {plugin: registry-mem}\npages:\n  - route: /x\n", "set.yaml:3:5: pages[0]: expected exactly one of module"},
		{"page lifecycle", "registry: {plugin: registry-mem}\npages:\n  - {route: /x, plugin: p, lifecycle: forever}\n", `pages[0].lifecycle: expected ephemeral or resident, found "forever"`},
		{"admin tcp without token", "registry: {plugin: registry-mem}\nadmin: {listen: \"127.0.0.1:9\"}\n", "admin.listen: a TCP admin listener needs admin.token_env"},
		{"processes", "registry: {plugin: registry-mem}\nprocesses: 3\n", "set.yaml:2:12: processes: more than one host process is not available in this build"},
		{"version", "version: 2\nregistry: {plugin: registry-mem}\n", "set.yaml:1:10: version: expected 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ps := parse(t, c.yml)
			if c.want == "" {
				// workers: 0 means "default", so the set is valid.
				if ps != nil {
					t.Fatalf("unexpected problems: %v", ps)
				}
				return
			}
			if ps == nil {
				t.Fatalf("no problem reported, want %q", c.want)
			}
			if !strings.Contains(ps.Error(), c.want) {
				t.Fatalf("problems:\n%v\nwant one containing %q", ps, c.want)
			}
		})
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), testCatalog())
	if err == nil || !strings.Contains(err.Error(), "missing.yaml: cannot read") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileBytes+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, testCatalog()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestModulePathResolvedAgainstSetDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.wasm"), []byte("\x00asm"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "registry: {plugin: registry-mem}\npages:\n  - {route: /p, module: p.wasm}\n  - {route: /q, module: q.wasm}\n"
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := testCatalog()
	cat["pages"] = map[string]ConfigCheck{"wasm": nil}
	_, err := Load(path, cat)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Error(), "s.yaml:4:25: pages[1].module: cannot read module") {
		t.Fatalf("err = %v", err)
	}
}
