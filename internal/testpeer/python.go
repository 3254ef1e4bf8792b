package testpeer

import (
	"os/exec"
	"testing"
)

// Python is Debian's interpreter, which sees Debian's python3-* packages (the python3
// first on PATH may be another build that does not).
const Python = "/usr/bin/python3"

// RequirePython fails the test, with the package to install, when a Python module that
// scripts/deps.sh installs is missing; it never skips.
func RequirePython(t testing.TB, module string) {
	t.Helper()
	if err := exec.Command(Python, "-c", "import "+module).Run(); err != nil {
		t.Fatalf("%s cannot import %s (%v): run scripts/deps.sh", Python, module, err)
	}
}
