package registryrpc

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// client is the host side: an abi.Registry whose methods are RPCs to the plugin. It does
// not own the connection (go-plugin does, and closes it when the plugin is killed).
type client struct {
	rpc pb.RegistryClient

	// closedCtx is cancelled by Close: it marks the client closed and ends open watches.
	closedCtx context.Context
	close     context.CancelFunc
}

// newClient wraps a connection to a plugin serving the Registry service.
func newClient(conn grpc.ClientConnInterface) *client {
	ctx, cancel := context.WithCancel(context.Background())
	return &client{rpc: pb.NewRegistryClient(conn), closedCtx: ctx, close: cancel}
}

var _ abi.Registry = (*client)(nil)

func (c *client) isClosed() bool { return c.closedCtx.Err() != nil }

// call runs one unary RPC with the caller's ctx (gRPC carries its deadline to the plugin
// and cancels the call there when ctx ends) and converts its error for abi callers.
func call[Req, Resp any](ctx context.Context, c *client, method string,
	rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req,
) (Resp, error) {
	var zero Resp
	if c.isClosed() {
		return zero, errClosed
	}
	resp, err := rpc(ctx, req)
	if err != nil {
		return zero, fromStatus(ctx, method, err)
	}
	return resp, nil
}

// Close makes later calls fail with ErrUnavailable and ends open watches. It leaves the
// connection alone: go-plugin owns it and the plugin process.
func (c *client) Close() error {
	c.close()
	return nil
}

func (c *client) Ping(ctx context.Context) error {
	_, err := call(ctx, c, "Ping", c.rpc.Ping, &pb.PingRequest{})
	return err
}

func (c *client) AddItem(ctx context.Context, item abi.Item) error {
	_, err := call(ctx, c, "AddItem", c.rpc.AddItem, &pb.AddItemRequest{Item: itemToPB(item)})
	return err
}

func (c *client) GetItem(ctx context.Context, ref abi.ItemRef, includeData bool) (abi.Item, error) {
	resp, err := call(ctx, c, "GetItem", c.rpc.GetItem,
		&pb.GetItemRequest{Ref: refToPB(ref), IncludeData: includeData})
	if err != nil {
		return abi.Item{}, err
	}
	return itemFromPB(resp.GetItem()), nil
}

func (c *client) Exists(ctx context.Context, ref abi.ItemRef) (bool, error) {
	resp, err := call(ctx, c, "Exists", c.rpc.Exists, &pb.ExistsRequest{Ref: refToPB(ref)})
	if err != nil {
		return false, err
	}
	return resp.GetExists(), nil
}

func (c *client) Keys(ctx context.Context, register abi.RegisterName) ([]string, error) {
	resp, err := call(ctx, c, "Keys", c.rpc.Keys, &pb.KeysRequest{Register: string(register)})
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(resp.GetIds()), nil
}

func (c *client) Items(ctx context.Context, register abi.RegisterName, filter abi.ItemFilter) ([]abi.Item, error) {
	resp, err := call(ctx, c, "Items", c.rpc.Items, &pb.ItemsRequest{
		Register:           string(register),
		FilterUser:         filter.User,
		FilterConnectionId: filter.ConnectionID,
	})
	if err != nil {
		return nil, err
	}
	return itemsFromPB(resp.GetItems()), nil
}

func (c *client) DropItem(ctx context.Context, ref abi.ItemRef, cascade bool) error {
	_, err := call(ctx, c, "DropItem", c.rpc.DropItem, &pb.DropItemRequest{Ref: refToPB(ref), Cascade: cascade})
	return err
}

func (c *client) Touch(ctx context.Context, ref abi.ItemRef, kind abi.RefreshKind) error {
	// RefreshKind numbers are the proto enum's numbers; see registry.proto.
	_, err := call(ctx, c, "Touch", c.rpc.Touch, &pb.TouchRequest{Ref: refToPB(ref), Kind: pb.RefreshKind(kind)})
	return err
}

func (c *client) GetData(ctx context.Context, ref abi.ItemRef, path string) (json.RawMessage, bool, error) {
	resp, err := call(ctx, c, "GetData", c.rpc.GetData, &pb.GetDataRequest{Ref: refToPB(ref), Path: path})
	if err != nil {
		return nil, false, err
	}
	if !resp.GetFound() {
		return nil, false, nil
	}
	return json.RawMessage(resp.GetValue()), true, nil
}

func (c *client) SetData(ctx context.Context, ref abi.ItemRef, path string, value json.RawMessage) error {
	_, err := call(ctx, c, "SetData", c.rpc.SetData,
		&pb.SetDataRequest{Ref: refToPB(ref), Path: path, Value: rawToPB(value)})
	return err
}

func (c *client) DeleteData(ctx context.Context, ref abi.ItemRef, path string) error {
	_, err := call(ctx, c, "DeleteData", c.rpc.DeleteData, &pb.DeleteDataRequest{Ref: refToPB(ref), Path: path})
	return err
}

func (c *client) DataKeys(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	resp, err := call(ctx, c, "DataKeys", c.rpc.DataKeys, &pb.DataKeysRequest{Ref: refToPB(ref)})
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(resp.GetPaths()), nil
}

func (c *client) GetStore(ctx context.Context, ref abi.ItemRef) (map[string]json.RawMessage, error) {
	resp, err := call(ctx, c, "GetStore", c.rpc.GetStore, &pb.GetStoreRequest{Ref: refToPB(ref)})
	if err != nil {
		return nil, err
	}
	return storeFromPB(resp.GetStore()), nil
}

func (c *client) ReplaceStore(ctx context.Context, ref abi.ItemRef, store map[string]json.RawMessage) error {
	_, err := call(ctx, c, "ReplaceStore", c.rpc.ReplaceStore,
		&pb.ReplaceStoreRequest{Ref: refToPB(ref), Store: storeToPB(store)})
	return err
}

func (c *client) AppendDatachange(ctx context.Context, ref abi.ItemRef, change abi.Datachange) (int64, error) {
	resp, err := call(ctx, c, "AppendDatachange", c.rpc.AppendDatachange,
		&pb.AppendDatachangeRequest{Ref: refToPB(ref), Change: datachangeToPB(change)})
	if err != nil {
		return 0, err
	}
	return resp.GetChangeIdx(), nil
}

func (c *client) Datachanges(ctx context.Context, ref abi.ItemRef, reset bool) ([]abi.Datachange, error) {
	resp, err := call(ctx, c, "Datachanges", c.rpc.Datachanges, &pb.DatachangesRequest{Ref: refToPB(ref), Reset_: reset})
	if err != nil {
		return nil, err
	}
	return datachangesFromPB(resp.GetChanges()), nil
}

func (c *client) DropDatachanges(ctx context.Context, ref abi.ItemRef, path string) error {
	_, err := call(ctx, c, "DropDatachanges", c.rpc.DropDatachanges,
		&pb.DropDatachangesRequest{Ref: refToPB(ref), Path: path})
	return err
}

func (c *client) SubscribePath(ctx context.Context, ref abi.ItemRef, path string, active bool) error {
	_, err := call(ctx, c, "SubscribePath", c.rpc.SubscribePath,
		&pb.SubscribePathRequest{Ref: refToPB(ref), Path: path, Active: active})
	return err
}

func (c *client) SubscribedPaths(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	resp, err := call(ctx, c, "SubscribedPaths", c.rpc.SubscribedPaths, &pb.SubscribedPathsRequest{Ref: refToPB(ref)})
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(resp.GetPaths()), nil
}

func (c *client) SubscribeTable(ctx context.Context, pageID, table string, subscribe bool) error {
	_, err := call(ctx, c, "SubscribeTable", c.rpc.SubscribeTable,
		&pb.SubscribeTableRequest{PageId: pageID, Table: table, Subscribe: subscribe})
	return err
}

func (c *client) SubscribedPages(ctx context.Context, table string) ([]string, error) {
	resp, err := call(ctx, c, "SubscribedPages", c.rpc.SubscribedPages, &pb.SubscribedPagesRequest{Table: table})
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(resp.GetPageIds()), nil
}

func (c *client) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) ([]abi.DbEventNotice, error) {
	resp, err := call(ctx, c, "NotifyDbEvents", c.rpc.NotifyDbEvents, &pb.NotifyDbEventsRequest{
		Events:       dbEventsToPB(events),
		OriginPageId: originPageID,
		Reason:       reason,
	})
	if err != nil {
		return nil, err
	}
	return noticesFromPB(resp.GetNotices()), nil
}

func (c *client) LockItem(ctx context.Context, ref abi.ItemRef, reason string, ttl time.Duration) (bool, error) {
	resp, err := call(ctx, c, "LockItem", c.rpc.LockItem,
		&pb.LockItemRequest{Ref: refToPB(ref), Reason: reason, TtlNanos: int64(ttl)})
	if err != nil {
		return false, err
	}
	return resp.GetAcquired(), nil
}

func (c *client) UnlockItem(ctx context.Context, ref abi.ItemRef, reason string) error {
	_, err := call(ctx, c, "UnlockItem", c.rpc.UnlockItem, &pb.UnlockItemRequest{Ref: refToPB(ref), Reason: reason})
	return err
}

func (c *client) Sweep(ctx context.Context, now time.Time) (abi.Expired, error) {
	resp, err := call(ctx, c, "Sweep", c.rpc.Sweep, &pb.SweepRequest{Now: timeToPB(now)})
	if err != nil {
		return abi.Expired{}, err
	}
	return abi.Expired{
		Pages:       nilIfEmpty(resp.GetPages()),
		Connections: nilIfEmpty(resp.GetConnections()),
		Users:       nilIfEmpty(resp.GetUsers()),
	}, nil
}

func (c *client) Counters(ctx context.Context) (abi.Counters, error) {
	resp, err := call(ctx, c, "Counters", c.rpc.Counters, &pb.CountersRequest{})
	if err != nil {
		return abi.Counters{}, err
	}
	return abi.Counters{
		Users:       int(resp.GetUsers()),
		Connections: int(resp.GetConnections()),
		Pages:       int(resp.GetPages()),
	}, nil
}
