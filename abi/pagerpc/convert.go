package pagerpc

import (
	"encoding/json"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// Conversions between the abi page types and their wire form. JSON values are passed as
// bytes without re-encoding, so what a handler wrote reaches the client byte for byte.

var entriesToPB = map[string]pb.Entry{
	abi.PageEntryLoad:  pb.Entry_ENTRY_LOAD,
	abi.PageEntryRPC:   pb.Entry_ENTRY_RPC,
	abi.PageEntryEvent: pb.Entry_ENTRY_EVENT,
	abi.PageEntryClose: pb.Entry_ENTRY_CLOSE,
}

func entryToPB(e string) (pb.Entry, error) {
	v, ok := entriesToPB[e]
	if !ok {
		return 0, fmt.Errorf("pagerpc: unknown entry point %q: %w", e, abi.ErrInvalid)
	}
	return v, nil
}

func entryFromPB(e pb.Entry) (string, error) {
	for name, v := range entriesToPB {
		if v == e {
			return name, nil
		}
	}
	return "", fmt.Errorf("pagerpc: unknown entry point %v: %w", e, abi.ErrInvalid)
}

func callToPB(c abi.PageCall, brokerID uint32, callID uint64) (*pb.CallRequest, error) {
	entry, err := entryToPB(c.Entry)
	if err != nil {
		return nil, err
	}
	store := make(map[string][]byte, len(c.Store))
	for k, v := range c.Store {
		store[k] = v
	}
	return &pb.CallRequest{
		BrokerId: brokerID,
		CallId:   callID,
		Entry:    entry,
		Method:   c.Method,
		Input:    c.Input,
		Page: &pb.PageInfo{
			PageId:       c.Page.PageID,
			ConnectionId: c.Page.ConnectionID,
			User:         c.Page.User,
			Route:        c.Page.Route,
			Lifecycle:    c.Page.Lifecycle,
		},
		Store: store,
	}, nil
}

func callFromPB(r *pb.CallRequest) (abi.PageCall, error) {
	entry, err := entryFromPB(r.GetEntry())
	if err != nil {
		return abi.PageCall{}, err
	}
	store := make(map[string]json.RawMessage, len(r.GetStore()))
	for k, v := range r.GetStore() {
		store[k] = v
	}
	p := r.GetPage()
	return abi.PageCall{
		Entry:  entry,
		Method: r.GetMethod(),
		Input:  r.GetInput(),
		Page: abi.PageInfo{
			PageID:       p.GetPageId(),
			ConnectionID: p.GetConnectionId(),
			User:         p.GetUser(),
			Route:        p.GetRoute(),
			Lifecycle:    p.GetLifecycle(),
		},
		Store: store,
	}, nil
}

func resultToPB(r abi.PageResult) *pb.CallResponse {
	out := &pb.CallResponse{Status: int32(r.Status), Reply: r.Reply, Pushes: r.Pushes}
	for _, c := range r.Changes {
		out.Changes = append(out.Changes, &pb.StoreChange{Key: c.Key, Value: c.Value, Delete: c.Delete})
	}
	for _, p := range r.Publishes {
		out.Publishes = append(out.Publishes, &pb.Publish{Table: p.Table, Event: p.Event})
	}
	for _, t := range r.Tables {
		out.Tables = append(out.Tables, &pb.TableChange{Table: t.Table, Subscribe: t.Subscribe})
	}
	return out
}

func resultFromPB(r *pb.CallResponse) abi.PageResult {
	out := abi.PageResult{Status: int(r.GetStatus()), Reply: r.GetReply(), Pushes: r.GetPushes()}
	for _, c := range r.GetChanges() {
		out.Changes = append(out.Changes, abi.PageStoreChange{Key: c.GetKey(), Value: c.GetValue(), Delete: c.GetDelete()})
	}
	for _, p := range r.GetPublishes() {
		out.Publishes = append(out.Publishes, abi.PagePublish{Table: p.GetTable(), Event: p.GetEvent()})
	}
	for _, t := range r.GetTables() {
		out.Tables = append(out.Tables, abi.PageTableChange{Table: t.GetTable(), Subscribe: t.GetSubscribe()})
	}
	return out
}
