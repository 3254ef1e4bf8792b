package pluginset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A route's `plugin:` with a "/" is an executable, resolved against the set file's
// directory and checked like a module: it must exist, be a regular file and be
// executable; problems carry the value's position.
func TestPluginPathChecked(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"bin/ok": 0o755, "bin/noexec": 0o644} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	yml := "registry: {plugin: registry-mem}\npages:\n" +
		"  - {route: /a, plugin: bin/ok}\n" +
		"  - {route: /b, plugin: " + filepath.Join(dir, "bin/ok") + "}\n" +
		"  - {route: /c, plugin: bin/noexec}\n" +
		"  - {route: /d, plugin: bin/missing}\n" +
		"  - {route: /e, plugin: ./bin}\n" +
		"  - {route: /f, plugin: counter}\n"
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, testCatalog())
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want problems", err)
	}
	want := []string{
		"s.yaml:5:25: pages[2].plugin: page plugin " + filepath.Join(dir, "bin/noexec") + " is not executable",
		"s.yaml:6:25: pages[3].plugin: cannot read page plugin executable:",
		"s.yaml:7:25: pages[4].plugin: page plugin " + filepath.Join(dir, "bin") + " is not a regular file",
		"s.yaml:8:25: pages[5].plugin: unknown page plugin \"counter\"",
	}
	if len(ps) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", ps, len(want))
	}
	for i, w := range want {
		if !strings.Contains(ps[i].Error(), w) {
			t.Errorf("problem %d: %q, want it to contain %q", i, ps[i].Error(), w)
		}
	}
}
