package pages_test

import (
	"os"
	"testing"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// TestMain removes the page plugin binaries the tests build (testpeer.GoBuild).
func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.CleanupGoBuilds()
	os.Exit(code)
}
