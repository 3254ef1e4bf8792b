package pages

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// checkResult turns what a plugin returned into a wasm.Result, enforcing the page ABI's
// rules and limits (abi/wasm-abi.md sections 3 and 7) that the WASM host functions
// enforce one call at a time. A plugin is another program: nothing it sends is trusted,
// whatever helper it was written with. Any violation fails the whole call, which then
// changes nothing on the page.
func checkResult(r abi.PageResult, host wasm.Host, features uint64) (*wasm.Result, error) {
	if len(r.Reply) > wasmabi.MaxReplyBytes {
		return nil, fmt.Errorf("reply of %d bytes is over the limit of %d", len(r.Reply), wasmabi.MaxReplyBytes)
	}
	if r.Status != wasmabi.StatusOK {
		// A failed call changes nothing: only its (normalised) error reply is kept.
		return &wasm.Result{Status: wasmabi.StatusError, Reply: errorReply(r.Status, r.Reply)}, nil
	}
	out := &wasm.Result{Status: wasmabi.StatusOK, Reply: r.Reply}
	var err error
	if out.Changes, err = checkChanges(r.Changes, host); err != nil {
		return nil, err
	}
	if out.Pushes, err = checkPushes(r.Pushes, features); err != nil {
		return nil, err
	}
	if out.Publishes, err = checkPublishes(r.Publishes); err != nil {
		return nil, err
	}
	if out.Tables, err = checkTables(r.Tables); err != nil {
		return nil, err
	}
	return out, nil
}

// checkChanges checks keys and values and that the store stays within its total size,
// replaying the changes over the store as the call saw it.
func checkChanges(changes []abi.PageStoreChange, host wasm.Host) ([]wasm.StoreChange, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	size := host.StoreBytes()
	current := map[string]int{} // key -> size of its latest value; -1 when deleted
	valueLen := func(key string) int {
		if n, ok := current[key]; ok {
			return n
		}
		if v, ok := host.StoreGet(key); ok {
			return len(v)
		}
		return -1
	}
	out := make([]wasm.StoreChange, 0, len(changes))
	for i, c := range changes {
		if err := checkKey(c.Key); err != nil {
			return nil, fmt.Errorf("store change %d: %w", i, err)
		}
		if old := valueLen(c.Key); old >= 0 {
			size -= len(c.Key) + old
		}
		if c.Delete {
			current[c.Key] = -1
			out = append(out, wasm.StoreChange{Key: c.Key, Delete: true})
			continue
		}
		if err := checkValue(c.Key, c.Value); err != nil {
			return nil, fmt.Errorf("store change %d: %w", i, err)
		}
		size += len(c.Key) + len(c.Value)
		current[c.Key] = len(c.Value)
		out = append(out, wasm.StoreChange{Key: c.Key, Value: c.Value})
	}
	if size > wasmabi.MaxStoreBytes {
		return nil, fmt.Errorf("the page store would be %d bytes, over the limit of %d", size, wasmabi.MaxStoreBytes)
	}
	return out, nil
}

func checkPushes(pushes [][]byte, features uint64) ([][]byte, error) {
	if len(pushes) == 0 {
		return nil, nil
	}
	if features&wasmabi.FeaturePush == 0 {
		return nil, fmt.Errorf("%d pushes without the PUSH feature", len(pushes))
	}
	if len(pushes) > wasmabi.MaxPushesPerCall {
		return nil, fmt.Errorf("%d pushes, over the limit of %d per call", len(pushes), wasmabi.MaxPushesPerCall)
	}
	for i, p := range pushes {
		if len(p) > wasmabi.MaxPushBytes {
			return nil, fmt.Errorf("push %d is %d bytes, over the limit of %d", i, len(p), wasmabi.MaxPushBytes)
		}
		if !json.Valid(p) {
			return nil, fmt.Errorf("push %d is not JSON", i)
		}
	}
	return pushes, nil
}

func checkPublishes(pubs []abi.PagePublish) ([]wasm.Publish, error) {
	if len(pubs) == 0 {
		return nil, nil
	}
	if len(pubs) > wasmabi.MaxPublishPerCall {
		return nil, fmt.Errorf("%d publishes, over the limit of %d per call", len(pubs), wasmabi.MaxPublishPerCall)
	}
	out := make([]wasm.Publish, 0, len(pubs))
	for i, p := range pubs {
		if !abi.ValidTableName(p.Table) {
			return nil, fmt.Errorf("publish %d: table %.40q is not pkg.table", i, p.Table)
		}
		if len(p.Event) > wasmabi.MaxValueBytes {
			return nil, fmt.Errorf("publish %d: event of %d bytes, over the limit of %d", i, len(p.Event), wasmabi.MaxValueBytes)
		}
		if !abi.IsJSONObject(p.Event) {
			return nil, fmt.Errorf("publish %d: the event is not a JSON object", i)
		}
		out = append(out, wasm.Publish{Table: p.Table, Event: p.Event})
	}
	return out, nil
}

func checkTables(tables []abi.PageTableChange) ([]wasm.TableChange, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	if len(tables) > wasmabi.MaxTablesPerPage {
		return nil, fmt.Errorf("%d subscription changes, over the limit of %d", len(tables), wasmabi.MaxTablesPerPage)
	}
	out := make([]wasm.TableChange, 0, len(tables))
	for i, t := range tables {
		if !abi.ValidTableName(t.Table) {
			return nil, fmt.Errorf("subscription change %d: table %.40q is not pkg.table", i, t.Table)
		}
		out = append(out, wasm.TableChange{Table: t.Table, Subscribe: t.Subscribe})
	}
	return out, nil
}

// maxErrorMessage bounds the message of an error reply passed to clients (as for WASM).
const maxErrorMessage = 1024

// errorReply normalises a plugin's error reply to {"code","message"}, the same way
// host/wasm does a module's (its errorReply is unexported; the rules are the ABI's,
// section 2: a missing or malformed reply becomes guest_error, a status other than 1
// guest_status_N).
func errorReply(status int, reply []byte) []byte {
	var ge struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if len(reply) > 0 && json.Unmarshal(reply, &ge) == nil && validErrorCode(ge.Code) {
		if len(ge.Message) > maxErrorMessage {
			ge.Message = strings.ToValidUTF8(ge.Message[:maxErrorMessage], "")
		}
		out, _ := json.Marshal(ge)
		return out
	}
	ge.Code, ge.Message = "guest_error", "the page handler failed without a valid error reply"
	if status != wasmabi.StatusError {
		ge.Code = fmt.Sprintf("guest_status_%d", status)
		ge.Message = fmt.Sprintf("the page handler returned status %d", status)
	}
	out, _ := json.Marshal(ge)
	return out
}

func validErrorCode(c string) bool {
	if c == "" || len(c) > wasmabi.MaxErrorCodeBytes {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
