package registrytest

import (
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// farFuture is a sweep time after every default max age.
func farFuture() time.Time { return time.Now().Add(365 * 24 * time.Hour) }

func wantExpired(t *testing.T, got abi.Expired, want abi.Expired, what string) {
	t.Helper()
	wantStrings(t, got.Pages, want.Pages, what+": expired pages")
	wantStrings(t, got.Connections, want.Connections, what+": expired connections")
	wantStrings(t, got.Users, want.Users, what+": expired users")
}

func testSweep(t *testing.T, reg abi.Registry, opts Options) {
	ctx := t.Context()
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterUser, ID: "alice", User: "alice"}), "add alice")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "c1", User: "alice"}), "add c1")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p1", User: "alice", ConnectionID: "c1"}), "add p1")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "p2", User: "alice", ConnectionID: "c1"}), "add p2")
	must(t, reg.AddItem(ctx, abi.Item{Register: abi.RegisterUser, ID: "newcomer", User: "newcomer"}), "add newcomer")
	now := time.Now()

	exp, err := reg.Sweep(ctx, now)
	must(t, err, "Sweep(now)")
	wantExpired(t, exp, abi.Expired{}, "Sweep(now)")
	// A user added just before its first connection must not be swept in between.
	wantExists(t, reg, userRef("newcomer"), true)

	young := min(opts.PageMaxAge, opts.ConnectionMaxAge) / 2
	exp, err = reg.Sweep(ctx, now.Add(young))
	must(t, err, "Sweep(now + half the page age)")
	wantExpired(t, exp, abi.Expired{}, "Sweep(now + half the page age)")

	// Past the page age: the pages go; the connection (longer max age) and its user stay.
	pageSweep := now.Add(opts.PageMaxAge + time.Minute)
	exp, err = reg.Sweep(ctx, pageSweep)
	must(t, err, "Sweep(past page age)")
	wantStrings(t, exp.Pages, []string{"p1", "p2"}, "Sweep(past page age): expired pages")
	wantExists(t, reg, pageRef("p1"), false)
	wantExists(t, reg, pageRef("p2"), false)
	if opts.ConnectionMaxAge > opts.PageMaxAge+2*time.Minute {
		wantStrings(t, exp.Connections, nil, "Sweep(past page age): expired connections")
		if containsString(exp.Users, "alice") {
			t.Errorf("Sweep(past page age) expired alice, who still has c1")
		}
		wantExists(t, reg, connRef("c1"), true)
		wantExists(t, reg, userRef("alice"), true)
	} else {
		t.Logf("connection max age %v is too close to the page max age %v to check that connections outlive pages", opts.ConnectionMaxAge, opts.PageMaxAge)
	}

	// Past the connection age: the connection goes, and its user with it.
	exp, err = reg.Sweep(ctx, now.Add(opts.ConnectionMaxAge+time.Minute))
	must(t, err, "Sweep(past connection age)")
	if opts.ConnectionMaxAge > opts.PageMaxAge+2*time.Minute {
		wantStrings(t, exp.Connections, []string{"c1"}, "Sweep(past connection age): expired connections")
	}
	if !containsString(exp.Users, "alice") {
		t.Errorf("Sweep(past connection age): expired users %q, want alice (no connection left)", exp.Users)
	}
	wantExists(t, reg, connRef("c1"), false)
	wantExists(t, reg, userRef("alice"), false)
	wantExists(t, reg, globalRef, true)

	c, err := reg.Counters(ctx)
	must(t, err, "Counters")
	if c.Connections != 0 || c.Pages != 0 {
		t.Errorf("Counters after sweeping everything = %+v", c)
	}
	exp, err = reg.Sweep(ctx, now.Add(opts.ConnectionMaxAge+time.Minute))
	must(t, err, "Sweep again")
	wantStrings(t, exp.Pages, nil, "second Sweep: pages")
	wantStrings(t, exp.Connections, nil, "second Sweep: connections")
}

func testSweepGuest(t *testing.T, reg abi.Registry, opts Options) {
	ctx := t.Context()
	guestSweep := opts.GuestConnectionMaxAge + time.Minute
	if guestSweep+time.Minute >= min(opts.PageMaxAge, opts.ConnectionMaxAge) {
		t.Skipf("guest max age %v leaves no room below page %v / connection %v max ages", opts.GuestConnectionMaxAge, opts.PageMaxAge, opts.ConnectionMaxAge)
	}
	items := []abi.Item{
		{Register: abi.RegisterUser, ID: "guest_1", User: "guest_1"},
		{Register: abi.RegisterConnection, ID: "g1", User: "guest_1", Guest: true},
		{Register: abi.RegisterPage, ID: "gp1", User: "guest_1", ConnectionID: "g1"},
		{Register: abi.RegisterUser, ID: "bob", User: "bob"},
		{Register: abi.RegisterConnection, ID: "c2", User: "bob"},
		{Register: abi.RegisterConnection, ID: "g2", User: "bob", Guest: true},
		{Register: abi.RegisterPage, ID: "bp", User: "bob", ConnectionID: "c2"},
		{Register: abi.RegisterPage, ID: "gp2", User: "bob", ConnectionID: "g2"},
	}
	for _, it := range items {
		must(t, reg.AddItem(ctx, it), "add "+it.ID)
	}
	now := time.Now()
	exp, err := reg.Sweep(ctx, now.Add(opts.GuestConnectionMaxAge/2))
	must(t, err, "Sweep(half the guest age)")
	wantExpired(t, exp, abi.Expired{}, "Sweep(half the guest age)")

	// Guest connections go, with their pages even though those are young for pages; a user
	// keeps living while it has another connection.
	exp, err = reg.Sweep(ctx, now.Add(guestSweep))
	must(t, err, "Sweep(past guest age)")
	wantExpired(t, exp, abi.Expired{
		Pages:       []string{"gp1", "gp2"},
		Connections: []string{"g1", "g2"},
		Users:       []string{"guest_1"},
	}, "Sweep(past guest age)")
	for _, ref := range []abi.ItemRef{userRef("guest_1"), connRef("g1"), connRef("g2"), pageRef("gp1"), pageRef("gp2")} {
		wantExists(t, reg, ref, false)
	}
	for _, ref := range []abi.ItemRef{userRef("bob"), connRef("c2"), pageRef("bp")} {
		wantExists(t, reg, ref, true)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
