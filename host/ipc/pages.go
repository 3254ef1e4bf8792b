package ipc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrRevisionMismatch: a conditional write or delete found another revision (another
// process wrote the key since).
var ErrRevisionMismatch = errors.New("ipc: key-value revision mismatch")

// PageSnapshotTTL is how long a persist page's snapshot outlives its last change: as long
// as a connection lives without activity (registry-mem's connection max age), after
// which no process would let its client back in anyway.
const PageSnapshotTTL = 2 * time.Hour

// maxSnapshotValue bounds one snapshot in the bucket (the page manager's own limit is
// lower).
const maxSnapshotValue = 1 << 20

// PageSnapshots keeps the snapshots of `persist: true` pages in the site's key-value
// bucket gnr_<site>_pages, one key per page id; the host hands it to the page manager
// (pages.Snapshots) under the nats backend.
type PageSnapshots struct {
	lazyBucket
}

func newPageSnapshots(b *Bus) *PageSnapshots {
	return &PageSnapshots{lazyBucket{bus: b, cfg: jetstream.KeyValueConfig{
		Bucket:       b.subjects.PagesBucket,
		Description:  "gnrhost persist page snapshots of " + b.subjects.Prefix,
		History:      1,
		TTL:          PageSnapshotTTL,
		MaxValueSize: maxSnapshotValue,
		Storage:      jetstream.FileStorage,
	}}}
}

// SavePage stores a page's snapshot if the stored one is at revision (0: none may exist).
func (s *PageSnapshots) SavePage(ctx context.Context, pageID string, snapshot []byte, revision uint64) (uint64, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return 0, err
	}
	var rev uint64
	if revision == 0 {
		rev, err = kv.Create(ctx, kvKey(pageID), snapshot)
	} else {
		rev, err = kv.Update(ctx, kvKey(pageID), snapshot, revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("ipc: save page %s: %w", pageID, ErrRevisionMismatch)
	}
	if err != nil {
		return 0, s.fail("save page "+pageID, err)
	}
	return rev, nil
}

// LoadPage returns a page's snapshot and its revision; ok is false when there is none.
func (s *PageSnapshots) LoadPage(ctx context.Context, pageID string) ([]byte, uint64, bool, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	e, err := kv.Get(ctx, kvKey(pageID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, s.fail("load page "+pageID, err)
	}
	return e.Value(), e.Revision(), true, nil
}

// DeletePage purges a page's snapshot (no delete marker history stays behind) if it is
// still at revision.
func (s *PageSnapshots) DeletePage(ctx context.Context, pageID string, revision uint64) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Purge(ctx, kvKey(pageID), jetstream.LastRevision(revision))
	switch {
	case err == nil, errors.Is(err, jetstream.ErrKeyNotFound):
		return nil
	case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("ipc: delete page %s: %w", pageID, ErrRevisionMismatch)
	}
	return s.fail("delete page "+pageID, err)
}
