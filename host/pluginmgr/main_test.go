package pluginmgr_test

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registryrpc"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// envLongLog makes the child plugin log one line of that many bytes before serving, so
// the test can see long lines cross the process boundary whole.
const envLongLog = "GNRHOST_TEST_LONG_LOG"

var factories = map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}

// TestMain doubles as the plugin child: the manager re-executes this test binary as
// `BINARY plugin NAME`, exactly as it re-executes gnrhost.
func TestMain(m *testing.M) {
	if os.Getenv(registryrpc.Handshake.MagicCookieKey) == registryrpc.Handshake.MagicCookieValue &&
		len(os.Args) == 3 && os.Args[1] == "plugin" {
		if n, err := strconv.Atoi(os.Getenv(envLongLog)); err == nil && n > 0 {
			slog.New(slog.NewJSONHandler(os.Stderr, nil)).Info(strings.Repeat("x", n), "marker", "long-line")
		}
		if err := pluginmgr.ServeChild(factories, os.Args[2]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
