package registrytest

import (
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// Default max ages, as in gnrdaemon; Options fields left zero take these.
const (
	DefaultPageMaxAge            = 600 * time.Second
	DefaultConnectionMaxAge      = 7200 * time.Second
	DefaultGuestConnectionMaxAge = 40 * time.Second
)

// waitTimeout bounds every wait for something asynchronous (a notice, a closed channel,
// an expired lock), so a broken backend fails the test instead of hanging it.
const waitTimeout = 5 * time.Second

// Options describe how the backend under test was configured.
type Options struct {
	// The max ages the backend expires items with; zero means the default.
	PageMaxAge            time.Duration
	ConnectionMaxAge      time.Duration
	GuestConnectionMaxAge time.Duration

	// Skip maps a subtest name (see Names) to the documented reason the backend differs.
	Skip map[string]string
}

func (o Options) withDefaults() Options {
	if o.PageMaxAge <= 0 {
		o.PageMaxAge = DefaultPageMaxAge
	}
	if o.ConnectionMaxAge <= 0 {
		o.ConnectionMaxAge = DefaultConnectionMaxAge
	}
	if o.GuestConnectionMaxAge <= 0 {
		o.GuestConnectionMaxAge = DefaultGuestConnectionMaxAge
	}
	return o
}

type subtest struct {
	name string
	run  func(t *testing.T, reg abi.Registry, opts Options)
}

// subtests is ordered so a failing run reads bottom-up: basics first, then what builds
// on them.
var subtests = []subtest{
	{"Ping", testPing},
	{"AddGetItem", testAddGetItem},
	{"AddItemReplace", testAddItemReplace},
	{"GlobalItem", testGlobalItem},
	{"PageNeedsConnection", testPageNeedsConnection},
	{"InvalidArguments", testInvalidArguments},
	{"NotFound", testNotFound},
	{"KeysItems", testKeysItems},
	{"DropItem", testDropItem},
	{"DropItemCascade", testDropItemCascade},
	{"Store", testStore},
	{"StoreCopies", testStoreCopies},
	{"ReplaceStore", testReplaceStore},
	{"Datachanges", testDatachanges},
	{"DropDatachanges", testDropDatachanges},
	{"SubscribePath", testSubscribePath},
	{"SubscribeTable", testSubscribeTable},
	{"NotifyDbEvents", testNotifyDbEvents},
	{"NotifyDbEventsTables", testNotifyDbEventsTables},
	{"WatchDbEvents", testWatchDbEvents},
	{"Locks", testLocks},
	{"LockTTL", testLockTTL},
	{"Touch", testTouch},
	{"Sweep", testSweep},
	{"SweepGuest", testSweepGuest},
	{"Counters", testCounters},
	{"Concurrency", testConcurrency},
	{"ConcurrentLocks", testConcurrentLocks},
	{"ContextCancelled", testContextCancelled},
	{"Close", testClose},
}

// Names lists the subtests Run runs, in order; use them as Options.Skip keys.
func Names() []string {
	out := make([]string, len(subtests))
	for i, st := range subtests {
		out[i] = st.name
	}
	return out
}

// Run runs the conformance suite, one subtest per behaviour, each on a fresh registry from
// newRegistry (which registers its own cleanup with t.Cleanup).
func Run(t *testing.T, newRegistry func(t *testing.T) abi.Registry, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	known := make(map[string]bool, len(subtests))
	for _, st := range subtests {
		known[st.name] = true
	}
	for name, reason := range opts.Skip {
		if !known[name] {
			t.Errorf("registrytest: Options.Skip names unknown subtest %q (known: %s)", name, strings.Join(Names(), ", "))
		}
		if strings.TrimSpace(reason) == "" {
			t.Errorf("registrytest: Options.Skip[%q] has no reason: document why the backend differs", name)
		}
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			if reason, ok := opts.Skip[st.name]; ok {
				t.Skip("backend differs: " + reason)
			}
			reg := newRegistry(t)
			if reg == nil {
				t.Fatal("registrytest: newRegistry returned nil")
			}
			st.run(t, reg, opts)
		})
	}
}
