package registrypyro

import (
	"context"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// LockItem calls lock_item. gnrdaemon's locks expire after a fixed 10 s
// (LOCK_EXPIRY_SECONDS), so ttl is not honoured; and an expired lock is freed by the
// refused call, which the caller's next attempt then takes (Genropy's clients retry).
func (r *Registry) LockItem(ctx context.Context, ref abi.ItemRef, reason string, ttl time.Duration) (bool, error) {
	if err := checkRef(ref); err != nil {
		return false, fmt.Errorf("registry-pyro: LockItem: %w", err)
	}
	if reason == "" {
		return false, fmt.Errorf("registry-pyro: LockItem: %w: empty lock reason", abi.ErrInvalid)
	}
	var got bool
	err := r.do(ctx, "LockItem", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "exists", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
			{Method: "lock_item", Args: []any{ref.ID}, Kwargs: reg(ref.Register, map[string]any{"reason": reason})},
		})
		if err != nil {
			return err
		}
		if res[0] != true {
			// lock_item does not check the item: release what it just took.
			if res[1] == true {
				_, _ = s.call(ctx, "unlock_item", []any{ref.ID}, reg(ref.Register, map[string]any{"reason": reason}))
			}
			return notFound(ref)
		}
		got = res[1] == true
		return nil
	})
	return got, err
}

// UnlockItem calls unlock_item; False means another reason holds the lock.
func (r *Registry) UnlockItem(ctx context.Context, ref abi.ItemRef, reason string) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: UnlockItem: %w", err)
	}
	if reason == "" {
		return fmt.Errorf("registry-pyro: UnlockItem: %w: empty lock reason", abi.ErrInvalid)
	}
	return r.do(ctx, "UnlockItem", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "exists", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
			{Method: "unlock_item", Args: []any{ref.ID}, Kwargs: reg(ref.Register, map[string]any{"reason": reason})},
		})
		if err != nil {
			return err
		}
		if res[0] != true {
			return notFound(ref)
		}
		if res[1] == false {
			return fmt.Errorf("%w: %s %q", abi.ErrLockHeld, ref.Register, ref.ID)
		}
		return nil
	})
}
