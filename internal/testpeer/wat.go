package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// WAT assembles WebAssembly text with wabt's wat2wasm (Debian package wabt, installed by
// scripts/deps.sh) and returns the path of the .wasm file, in a temp dir of t.
func WAT(t testing.TB, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, name+".wat")
	out := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("wat2wasm", "--enable-all", "-o", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", name, err, b)
	}
	return out
}
