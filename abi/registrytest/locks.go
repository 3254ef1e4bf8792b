package registrytest

import (
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

func testLocks(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	other := addPage(t, reg, "p2")
	lock := func(r abi.ItemRef, reason string, want bool, what string) {
		t.Helper()
		got, err := reg.LockItem(ctx, r, reason, 0)
		must(t, err, what)
		if got != want {
			t.Errorf("%s: LockItem = %v, want %v", what, got, want)
		}
	}

	must(t, reg.UnlockItem(ctx, ref, "A"), "UnlockItem of an unlocked item")
	lock(ref, "A", true, "A locks p1")
	lock(ref, "B", false, "B while A holds p1 (default ttl)")
	lock(ref, "A", true, "A renews p1")
	lock(other, "B", true, "B locks p2 (locks are per item)")
	wantErr(t, reg.UnlockItem(ctx, ref, "B"), abi.ErrLockHeld, "B unlocks A's lock")
	lock(ref, "B", false, "B after its failed unlock")
	must(t, reg.UnlockItem(ctx, ref, "A"), "A unlocks p1")
	must(t, reg.UnlockItem(ctx, ref, "A"), "A unlocks p1 again")
	lock(ref, "B", true, "B after A unlocked")
	wantErr(t, reg.UnlockItem(ctx, ref, "A"), abi.ErrLockHeld, "A unlocks B's lock")
	must(t, reg.UnlockItem(ctx, ref, "B"), "B unlocks p1")
	must(t, reg.UnlockItem(ctx, other, "B"), "B unlocks p2")

	// A lock belongs to the item: dropping the item releases it.
	lock(ref, "A", true, "A locks p1 before drop")
	must(t, reg.DropItem(ctx, ref, false), "DropItem p1")
	addPage(t, reg, "p1")
	lock(ref, "B", true, "B locks the re-added p1")
}

func testLockTTL(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	const ttl = 50 * time.Millisecond
	start := time.Now()
	got, err := reg.LockItem(ctx, ref, "A", ttl)
	must(t, err, "LockItem A")
	if !got {
		t.Fatal("LockItem A on a free item = false")
	}
	got, err = reg.LockItem(ctx, ref, "B", 10*time.Second)
	must(t, err, "LockItem B")
	if got && time.Since(start) < ttl {
		t.Errorf("B took A's lock %v after it was taken with ttl %v", time.Since(start), ttl)
	}

	// Poll: the lock must become free by itself, and not before its ttl.
	deadline := time.Now().Add(waitTimeout)
	for !got {
		if time.Now().After(deadline) {
			t.Fatalf("A's %v lock still held after %v", ttl, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
		got, err = reg.LockItem(ctx, ref, "B", 10*time.Second)
		must(t, err, "LockItem B (polling)")
	}
	if elapsed := time.Since(start); elapsed < ttl {
		t.Errorf("lock with ttl %v was free after %v", ttl, elapsed)
	}
	// B now holds it with the long ttl; A is refused and cannot unlock it.
	got, err = reg.LockItem(ctx, ref, "A", ttl)
	must(t, err, "LockItem A after expiry")
	if got {
		t.Error("A took B's lock")
	}
	wantErr(t, reg.UnlockItem(ctx, ref, "A"), abi.ErrLockHeld, "A unlocks B's lock")
}
