package registrytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// testConcurrency hammers one item from many goroutines; every write must land exactly once
// and each goroutine's appends must keep their order. Run with -race.
func testConcurrency(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	const workers, perWorker = 16, 50

	var wg sync.WaitGroup
	idxs := make([][]int64, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				path := fmt.Sprintf("w%d.i%d", w, i)
				if err := reg.SetData(ctx, ref, path, json.RawMessage(strconv.Itoa(i))); err != nil {
					t.Errorf("SetData %s: %v", path, err)
					return
				}
				idx, err := reg.AppendDatachange(ctx, ref, abi.Datachange{Path: fmt.Sprintf("w%d", w), Value: json.RawMessage(strconv.Itoa(i))})
				if err != nil {
					t.Errorf("AppendDatachange w%d: %v", w, err)
					return
				}
				idxs[w] = append(idxs[w], idx)
				// Readers in the mix, so the race detector sees reads against writes.
				if _, err := reg.GetItem(ctx, ref, i%10 == 0); err != nil {
					t.Errorf("GetItem: %v", err)
					return
				}
				if i%10 == 0 {
					if _, err := reg.Datachanges(ctx, ref, false); err != nil {
						t.Errorf("Datachanges: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	keys, err := reg.DataKeys(ctx, ref)
	must(t, err, "DataKeys")
	if len(keys) != workers*perWorker {
		t.Errorf("store has %d paths, want %d", len(keys), workers*perWorker)
	}
	changes, err := reg.Datachanges(ctx, ref, true)
	must(t, err, "Datachanges")
	if len(changes) != workers*perWorker {
		t.Fatalf("got %d datachanges, want %d", len(changes), workers*perWorker)
	}

	// Indexes: unique, consecutive, and each change where its index says.
	var all []int64
	for _, w := range idxs {
		all = append(all, w...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] != all[i-1]+1 {
			t.Fatalf("ChangeIdx values are not consecutive and unique around %d, %d", all[i-1], all[i])
		}
	}
	next := map[string]int{}
	for i, c := range changes {
		if i > 0 && c.ChangeIdx <= changes[i-1].ChangeIdx {
			t.Errorf("datachange %d has ChangeIdx %d after %d: not in append order", i, c.ChangeIdx, changes[i-1].ChangeIdx)
		}
		want := strconv.Itoa(next[c.Path])
		if string(c.Value) != want && !jsonEqual(c.Value, json.RawMessage(want)) {
			t.Errorf("worker %s: change value %s, want %s (a worker's appends must keep their order)", c.Path, c.Value, want)
		}
		next[c.Path]++
	}
}

// testConcurrentLocks uses the item lock as a mutex around a read-modify-write of the
// store: with a working lock no increment is lost.
func testConcurrentLocks(t *testing.T, reg abi.Registry, _ Options) {
	ctx := t.Context()
	ref := addPage(t, reg, "p1")
	must(t, reg.SetData(ctx, ref, "counter", json.RawMessage(`0`)), "SetData counter")
	const workers, perWorker = 8, 10
	deadline := time.Now().Add(waitTimeout * 4)

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			reason := fmt.Sprintf("worker-%d", w)
			for range perWorker {
				for {
					ok, err := reg.LockItem(ctx, ref, reason, 10*time.Second)
					if err != nil {
						t.Errorf("%s: LockItem: %v", reason, err)
						return
					}
					if ok {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("%s: lock not acquired before the deadline", reason)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
				v, _, err := reg.GetData(ctx, ref, "counter")
				if err != nil {
					t.Errorf("%s: GetData: %v", reason, err)
					return
				}
				var n int
				if err := json.Unmarshal(v, &n); err != nil {
					t.Errorf("%s: counter %s: %v", reason, v, err)
					return
				}
				if err := reg.SetData(ctx, ref, "counter", json.RawMessage(strconv.Itoa(n+1))); err != nil {
					t.Errorf("%s: SetData: %v", reason, err)
					return
				}
				if err := reg.UnlockItem(ctx, ref, reason); err != nil {
					t.Errorf("%s: UnlockItem: %v", reason, err)
					return
				}
			}
		})
	}
	wg.Wait()
	v, _, err := reg.GetData(ctx, ref, "counter")
	must(t, err, "GetData counter")
	wantJSON(t, v, json.RawMessage(strconv.Itoa(workers*perWorker)), "counter after locked increments")
}
