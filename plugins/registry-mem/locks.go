package registrymem

import (
	"context"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// lockState is an item's advisory lock. It lives in the entry, so dropping or expiring the
// item releases it. Expiry is by wall clock: a holder that died must not block the item
// forever, and nothing has to sweep locks for that to hold.
type lockState struct {
	reason  string
	expires time.Time
}

func (l lockState) heldAt(now time.Time) bool {
	return l.reason != "" && now.Before(l.expires)
}

// LockItem takes or renews the item's lock for reason; false when another reason holds it.
func (r *Registry) LockItem(ctx context.Context, ref abi.ItemRef, reason string, ttl time.Duration) (bool, error) {
	if reason == "" {
		return false, wrap("lock item", fmt.Errorf("empty reason: %w", abi.ErrInvalid))
	}
	if ttl <= 0 {
		ttl = r.cfg.LockTTL.D()
	}
	var got bool
	err := r.write(ctx, "lock item", ref, func(e *entry) error {
		now := time.Now()
		if e.lock.heldAt(now) && e.lock.reason != reason {
			return nil
		}
		e.lock = lockState{reason: reason, expires: now.Add(ttl)}
		got = true
		return nil
	})
	return got, err
}

// UnlockItem releases the lock held by reason. An unlocked (or expired) lock is not an
// error; a lock held by another reason is ErrLockHeld.
func (r *Registry) UnlockItem(ctx context.Context, ref abi.ItemRef, reason string) error {
	if reason == "" {
		return wrap("unlock item", fmt.Errorf("empty reason: %w", abi.ErrInvalid))
	}
	return r.write(ctx, "unlock item", ref, func(e *entry) error {
		if !e.lock.heldAt(time.Now()) {
			e.lock = lockState{}
			return nil
		}
		if e.lock.reason != reason {
			return fmt.Errorf("%s %q by %q: %w", ref.Register, ref.ID, reason, abi.ErrLockHeld)
		}
		e.lock = lockState{}
		return nil
	})
}
