package host

import (
	"context"
	"errors"

	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/pages"
)

// pageSnapshots is the nats backend's snapshot bucket as the page manager sees it: the
// same calls, with a revision conflict reported as pages.ErrSnapshotMoved. (host/ipc does
// not import host/pages, so the test helpers that start NATS stay light.)
type pageSnapshots struct{ kv *ipc.PageSnapshots }

func movedErr(err error) error {
	if errors.Is(err, ipc.ErrRevisionMismatch) {
		return errors.Join(pages.ErrSnapshotMoved, err)
	}
	return err
}

func (s pageSnapshots) SavePage(ctx context.Context, pageID string, snapshot []byte, revision uint64) (uint64, error) {
	rev, err := s.kv.SavePage(ctx, pageID, snapshot, revision)
	return rev, movedErr(err)
}

func (s pageSnapshots) LoadPage(ctx context.Context, pageID string) ([]byte, uint64, bool, error) {
	return s.kv.LoadPage(ctx, pageID)
}

func (s pageSnapshots) DeletePage(ctx context.Context, pageID string, revision uint64) error {
	return movedErr(s.kv.DeletePage(ctx, pageID, revision))
}
