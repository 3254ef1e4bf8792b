package registryrpc

import (
	"encoding/json"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// The conversions below are the only place that knows both forms. Both directions are
// total: they never fail and never drop a field, so a value survives Go -> proto -> Go
// unchanged except for what the wire cannot carry (documented per function). The backend,
// not the glue, validates values (unknown registers, empty ids, invalid JSON), so that
// in-process and out-of-process registries answer the same errors.

// timeToPB encodes t, leaving the zero time unset so it decodes as the zero time again
// (timestamppb.New(time.Time{}) would be a valid year-1 timestamp, indistinguishable from
// a real one on the other side).
func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeFromPB decodes ts as UTC: the instant survives the trip, the location and the
// monotonic clock reading do not, so compare times with Equal, not ==.
func timeFromPB(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func refToPB(ref abi.ItemRef) *pb.ItemRef {
	return &pb.ItemRef{Register: string(ref.Register), Id: ref.ID}
}

// refFromPB accepts a nil ref (a request from a careless client) as the zero ref, which the
// backend rejects as invalid rather than the server panicking.
func refFromPB(ref *pb.ItemRef) abi.ItemRef {
	return abi.ItemRef{Register: abi.RegisterName(ref.GetRegister()), ID: ref.GetId()}
}

// storeToPB keeps nil and empty apart: nil becomes an unset message, empty a set one.
func storeToPB(store map[string]json.RawMessage) *pb.Store {
	if store == nil {
		return nil
	}
	entries := make(map[string][]byte, len(store))
	for k, v := range store {
		entries[k] = v
	}
	return &pb.Store{Entries: entries}
}

// storeFromPB is storeToPB's inverse: unset -> nil, set -> non-nil (possibly empty) map.
func storeFromPB(store *pb.Store) map[string]json.RawMessage {
	if store == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(store.Entries))
	for k, v := range store.Entries {
		out[k] = json.RawMessage(v)
	}
	return out
}

func itemToPB(it abi.Item) *pb.Item {
	return &pb.Item{
		Register:         string(it.Register),
		Id:               it.ID,
		User:             it.User,
		UserId:           it.UserID,
		UserName:         it.UserName,
		UserTags:         it.UserTags,
		ConnectionId:     it.ConnectionID,
		ConnectionName:   it.ConnectionName,
		PageName:         it.PageName,
		RelativeUrl:      it.RelativeURL,
		UserIp:           it.UserIP,
		UserAgent:        it.UserAgent,
		BrowserName:      it.BrowserName,
		Guest:            it.Guest,
		SubscribedTables: it.SubscribedTables,
		StartTs:          timeToPB(it.StartTS),
		LastUserTs:       timeToPB(it.LastUserTS),
		LastRpcTs:        timeToPB(it.LastRPCTS),
		LastRefreshTs:    timeToPB(it.LastRefreshTS),
		Data:             storeToPB(it.Data),
	}
}

// itemFromPB decodes an item. An empty SubscribedTables decodes as nil (repeated fields
// have no presence).
func itemFromPB(it *pb.Item) abi.Item {
	return abi.Item{
		Register:         abi.RegisterName(it.GetRegister()),
		ID:               it.GetId(),
		User:             it.GetUser(),
		UserID:           it.GetUserId(),
		UserName:         it.GetUserName(),
		UserTags:         it.GetUserTags(),
		ConnectionID:     it.GetConnectionId(),
		ConnectionName:   it.GetConnectionName(),
		PageName:         it.GetPageName(),
		RelativeURL:      it.GetRelativeUrl(),
		UserIP:           it.GetUserIp(),
		UserAgent:        it.GetUserAgent(),
		BrowserName:      it.GetBrowserName(),
		Guest:            it.GetGuest(),
		SubscribedTables: nilIfEmpty(it.GetSubscribedTables()),
		StartTS:          timeFromPB(it.GetStartTs()),
		LastUserTS:       timeFromPB(it.GetLastUserTs()),
		LastRPCTS:        timeFromPB(it.GetLastRpcTs()),
		LastRefreshTS:    timeFromPB(it.GetLastRefreshTs()),
		Data:             storeFromPB(it.GetData()),
	}
}

func itemsFromPB(items []*pb.Item) []abi.Item {
	if len(items) == 0 {
		return nil
	}
	out := make([]abi.Item, len(items))
	for i, it := range items {
		out[i] = itemFromPB(it)
	}
	return out
}

func itemsToPB(items []abi.Item) []*pb.Item {
	if len(items) == 0 {
		return nil
	}
	out := make([]*pb.Item, len(items))
	for i, it := range items {
		out[i] = itemToPB(it)
	}
	return out
}

// rawToPB keeps a nil json.RawMessage nil; for the proto3 `optional bytes` fields that
// is what leaves the field unset, so nil and empty stay distinct.
func rawToPB(v json.RawMessage) []byte {
	if v == nil {
		return nil
	}
	return []byte(v)
}

func rawFromPB(v []byte) json.RawMessage {
	if v == nil {
		return nil
	}
	return json.RawMessage(v)
}

func datachangeToPB(c abi.Datachange) *pb.Datachange {
	return &pb.Datachange{
		Path:       c.Path,
		Value:      rawToPB(c.Value),
		Attributes: c.Attributes,
		Reason:     c.Reason,
		Fired:      c.Fired,
		Delete:     c.Delete,
		ChangeTs:   timeToPB(c.ChangeTS),
		ChangeIdx:  c.ChangeIdx,
	}
}

// datachangeFromPB decodes a change. An empty Attributes map decodes as nil (map fields
// have no presence); a nil and an empty Value stay distinct (optional bytes).
func datachangeFromPB(c *pb.Datachange) abi.Datachange {
	var attrs map[string]string
	if len(c.GetAttributes()) > 0 {
		attrs = c.GetAttributes()
	}
	return abi.Datachange{
		Path:       c.GetPath(),
		Value:      rawFromPB(c.GetValue()),
		Attributes: attrs,
		Reason:     c.GetReason(),
		Fired:      c.GetFired(),
		Delete:     c.GetDelete(),
		ChangeTS:   timeFromPB(c.GetChangeTs()),
		ChangeIdx:  c.GetChangeIdx(),
	}
}

func datachangesToPB(cs []abi.Datachange) []*pb.Datachange {
	if len(cs) == 0 {
		return nil
	}
	out := make([]*pb.Datachange, len(cs))
	for i, c := range cs {
		out[i] = datachangeToPB(c)
	}
	return out
}

func datachangesFromPB(cs []*pb.Datachange) []abi.Datachange {
	if len(cs) == 0 {
		return nil
	}
	out := make([]abi.Datachange, len(cs))
	for i, c := range cs {
		out[i] = datachangeFromPB(c)
	}
	return out
}

func dbEventsToPB(evs []abi.DbEvent) []*pb.DbEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]*pb.DbEvent, len(evs))
	for i, e := range evs {
		out[i] = &pb.DbEvent{Table: e.Table, Action: e.Action, Pkey: e.PKey, Data: rawToPB(e.Data)}
	}
	return out
}

func dbEventsFromPB(evs []*pb.DbEvent) []abi.DbEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]abi.DbEvent, len(evs))
	for i, e := range evs {
		out[i] = abi.DbEvent{
			Table:  e.GetTable(),
			Action: e.GetAction(),
			PKey:   e.GetPkey(),
			Data:   rawFromPB(e.GetData()),
		}
	}
	return out
}

func noticeToPB(n abi.DbEventNotice) *pb.DbEventNotice {
	return &pb.DbEventNotice{
		Table:        n.Table,
		Events:       dbEventsToPB(n.Events),
		OriginPageId: n.OriginPageID,
		Reason:       n.Reason,
		PageIds:      n.PageIDs,
	}
}

func noticeFromPB(n *pb.DbEventNotice) abi.DbEventNotice {
	return abi.DbEventNotice{
		Table:        n.GetTable(),
		Events:       dbEventsFromPB(n.GetEvents()),
		OriginPageID: n.GetOriginPageId(),
		Reason:       n.GetReason(),
		PageIDs:      nilIfEmpty(n.GetPageIds()),
	}
}

func noticesToPB(ns []abi.DbEventNotice) []*pb.DbEventNotice {
	if len(ns) == 0 {
		return nil
	}
	out := make([]*pb.DbEventNotice, len(ns))
	for i, n := range ns {
		out[i] = noticeToPB(n)
	}
	return out
}

func noticesFromPB(ns []*pb.DbEventNotice) []abi.DbEventNotice {
	if len(ns) == 0 {
		return nil
	}
	out := make([]abi.DbEventNotice, len(ns))
	for i, n := range ns {
		out[i] = noticeFromPB(n)
	}
	return out
}

// nilIfEmpty normalises the decoded form of an empty repeated field to nil, so that
// "no results" looks the same whatever the wire decoder allocated.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
