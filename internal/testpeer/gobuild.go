package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// goBuilds are the binaries GoBuild made in this test binary, by package directory.
var goBuilds struct {
	mu   sync.Mutex
	dir  string // holds every binary; removed by CleanupGoBuilds
	byPk map[string]*goBuild
}

type goBuild struct {
	once sync.Once
	path string
	err  error
}

// GoBuild builds the main package in pkgDir (relative to the module root, or absolute)
// once per test binary, with -race when the tests run with it, and returns the binary's
// path. Binaries live in one temp dir that CleanupGoBuilds removes; call it from TestMain
// after m.Run.
func GoBuild(t testing.TB, pkgDir string) string {
	t.Helper()
	root := ModuleRoot(t)
	if !filepath.IsAbs(pkgDir) {
		pkgDir = filepath.Join(root, pkgDir)
	}
	pkgDir = filepath.Clean(pkgDir)

	goBuilds.mu.Lock()
	if goBuilds.byPk == nil {
		goBuilds.byPk = map[string]*goBuild{}
	}
	b := goBuilds.byPk[pkgDir]
	if b == nil {
		b = &goBuild{}
		goBuilds.byPk[pkgDir] = b
	}
	if goBuilds.dir == "" {
		dir, err := os.MkdirTemp("", "gnrhost-gobuild-")
		if err != nil {
			goBuilds.mu.Unlock()
			t.Fatal(err)
		}
		goBuilds.dir = dir
	}
	dir := goBuilds.dir
	goBuilds.mu.Unlock()

	// Builds of different packages run in parallel; each package is built only once.
	b.once.Do(func() {
		rel, err := filepath.Rel(root, pkgDir)
		if err != nil {
			b.err = err
			return
		}
		// The binary is named after its package path so two packages never collide.
		b.path = filepath.Join(dir, strings.ReplaceAll(filepath.ToSlash(rel), "/", "_"))
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkgDir)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", rel, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// CleanupGoBuilds removes the binaries GoBuild made.
func CleanupGoBuilds() {
	goBuilds.mu.Lock()
	defer goBuilds.mu.Unlock()
	if goBuilds.dir != "" {
		os.RemoveAll(goBuilds.dir)
	}
}
