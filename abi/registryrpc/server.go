package registryrpc

import (
	"context"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// server exposes an abi.Registry as the gRPC Registry service; it runs in the plugin
// process. Each method decodes the request, calls the backend with the RPC's context (so
// the host's deadline and cancellation reach the backend) and encodes the answer; errors
// become status codes in toStatus.
type server struct {
	// Embedded by value, as protoc-gen-go-grpc requires, so that an RPC added to the proto
	// before the server implements it answers Unimplemented instead of failing to build.
	pb.UnimplementedRegistryServer
	impl abi.Registry
}

// newServer wraps impl; it is registered by Plugin.GRPCServer.
func newServer(impl abi.Registry) *server { return &server{impl: impl} }

var _ pb.RegistryServer = (*server)(nil)

func (s *server) Ping(ctx context.Context, _ *pb.PingRequest) (*pb.PingResponse, error) {
	if err := s.impl.Ping(ctx); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PingResponse{}, nil
}

func (s *server) AddItem(ctx context.Context, req *pb.AddItemRequest) (*pb.AddItemResponse, error) {
	// A missing item decodes as the zero item, which the backend rejects as invalid.
	if err := s.impl.AddItem(ctx, itemFromPB(req.GetItem())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.AddItemResponse{}, nil
}

func (s *server) GetItem(ctx context.Context, req *pb.GetItemRequest) (*pb.GetItemResponse, error) {
	it, err := s.impl.GetItem(ctx, refFromPB(req.GetRef()), req.GetIncludeData())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetItemResponse{Item: itemToPB(it)}, nil
}

func (s *server) Exists(ctx context.Context, req *pb.ExistsRequest) (*pb.ExistsResponse, error) {
	ok, err := s.impl.Exists(ctx, refFromPB(req.GetRef()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ExistsResponse{Exists: ok}, nil
}

func (s *server) Keys(ctx context.Context, req *pb.KeysRequest) (*pb.KeysResponse, error) {
	ids, err := s.impl.Keys(ctx, abi.RegisterName(req.GetRegister()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.KeysResponse{Ids: ids}, nil
}

func (s *server) Items(ctx context.Context, req *pb.ItemsRequest) (*pb.ItemsResponse, error) {
	filter := abi.ItemFilter{User: req.GetFilterUser(), ConnectionID: req.GetFilterConnectionId()}
	items, err := s.impl.Items(ctx, abi.RegisterName(req.GetRegister()), filter)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ItemsResponse{Items: itemsToPB(items)}, nil
}

func (s *server) DropItem(ctx context.Context, req *pb.DropItemRequest) (*pb.DropItemResponse, error) {
	if err := s.impl.DropItem(ctx, refFromPB(req.GetRef()), req.GetCascade()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DropItemResponse{}, nil
}

func (s *server) Touch(ctx context.Context, req *pb.TouchRequest) (*pb.TouchResponse, error) {
	if err := s.impl.Touch(ctx, refFromPB(req.GetRef()), abi.RefreshKind(req.GetKind())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.TouchResponse{}, nil
}

func (s *server) GetData(ctx context.Context, req *pb.GetDataRequest) (*pb.GetDataResponse, error) {
	v, ok, err := s.impl.GetData(ctx, refFromPB(req.GetRef()), req.GetPath())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetDataResponse{Value: v, Found: ok}, nil
}

func (s *server) SetData(ctx context.Context, req *pb.SetDataRequest) (*pb.SetDataResponse, error) {
	if err := s.impl.SetData(ctx, refFromPB(req.GetRef()), req.GetPath(), rawFromPB(req.GetValue())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetDataResponse{}, nil
}

func (s *server) DeleteData(ctx context.Context, req *pb.DeleteDataRequest) (*pb.DeleteDataResponse, error) {
	if err := s.impl.DeleteData(ctx, refFromPB(req.GetRef()), req.GetPath()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DeleteDataResponse{}, nil
}

func (s *server) DataKeys(ctx context.Context, req *pb.DataKeysRequest) (*pb.DataKeysResponse, error) {
	paths, err := s.impl.DataKeys(ctx, refFromPB(req.GetRef()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DataKeysResponse{Paths: paths}, nil
}

func (s *server) GetStore(ctx context.Context, req *pb.GetStoreRequest) (*pb.GetStoreResponse, error) {
	store, err := s.impl.GetStore(ctx, refFromPB(req.GetRef()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetStoreResponse{Store: storeToPB(store)}, nil
}

func (s *server) ReplaceStore(ctx context.Context, req *pb.ReplaceStoreRequest) (*pb.ReplaceStoreResponse, error) {
	if err := s.impl.ReplaceStore(ctx, refFromPB(req.GetRef()), storeFromPB(req.GetStore())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReplaceStoreResponse{}, nil
}

func (s *server) AppendDatachange(ctx context.Context, req *pb.AppendDatachangeRequest) (*pb.AppendDatachangeResponse, error) {
	// The generated getters are nil-safe: a missing change decodes as the zero change.
	idx, err := s.impl.AppendDatachange(ctx, refFromPB(req.GetRef()), datachangeFromPB(req.GetChange()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AppendDatachangeResponse{ChangeIdx: idx}, nil
}

func (s *server) Datachanges(ctx context.Context, req *pb.DatachangesRequest) (*pb.DatachangesResponse, error) {
	changes, err := s.impl.Datachanges(ctx, refFromPB(req.GetRef()), req.GetReset_())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DatachangesResponse{Changes: datachangesToPB(changes)}, nil
}

func (s *server) DropDatachanges(ctx context.Context, req *pb.DropDatachangesRequest) (*pb.DropDatachangesResponse, error) {
	if err := s.impl.DropDatachanges(ctx, refFromPB(req.GetRef()), req.GetPath()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DropDatachangesResponse{}, nil
}

func (s *server) SubscribePath(ctx context.Context, req *pb.SubscribePathRequest) (*pb.SubscribePathResponse, error) {
	if err := s.impl.SubscribePath(ctx, refFromPB(req.GetRef()), req.GetPath(), req.GetActive()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SubscribePathResponse{}, nil
}

func (s *server) SubscribedPaths(ctx context.Context, req *pb.SubscribedPathsRequest) (*pb.SubscribedPathsResponse, error) {
	paths, err := s.impl.SubscribedPaths(ctx, refFromPB(req.GetRef()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SubscribedPathsResponse{Paths: paths}, nil
}

func (s *server) SubscribeTable(ctx context.Context, req *pb.SubscribeTableRequest) (*pb.SubscribeTableResponse, error) {
	if err := s.impl.SubscribeTable(ctx, req.GetPageId(), req.GetTable(), req.GetSubscribe()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SubscribeTableResponse{}, nil
}

func (s *server) SubscribedPages(ctx context.Context, req *pb.SubscribedPagesRequest) (*pb.SubscribedPagesResponse, error) {
	pages, err := s.impl.SubscribedPages(ctx, req.GetTable())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SubscribedPagesResponse{PageIds: pages}, nil
}

func (s *server) NotifyDbEvents(ctx context.Context, req *pb.NotifyDbEventsRequest) (*pb.NotifyDbEventsResponse, error) {
	notices, err := s.impl.NotifyDbEvents(ctx, dbEventsFromPB(req.GetEvents()), req.GetOriginPageId(), req.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.NotifyDbEventsResponse{Notices: noticesToPB(notices)}, nil
}

func (s *server) LockItem(ctx context.Context, req *pb.LockItemRequest) (*pb.LockItemResponse, error) {
	ok, err := s.impl.LockItem(ctx, refFromPB(req.GetRef()), req.GetReason(), time.Duration(req.GetTtlNanos()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LockItemResponse{Acquired: ok}, nil
}

func (s *server) UnlockItem(ctx context.Context, req *pb.UnlockItemRequest) (*pb.UnlockItemResponse, error) {
	if err := s.impl.UnlockItem(ctx, refFromPB(req.GetRef()), req.GetReason()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.UnlockItemResponse{}, nil
}

func (s *server) Sweep(ctx context.Context, req *pb.SweepRequest) (*pb.SweepResponse, error) {
	exp, err := s.impl.Sweep(ctx, timeFromPB(req.GetNow()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SweepResponse{Pages: exp.Pages, Connections: exp.Connections, Users: exp.Users}, nil
}

func (s *server) Counters(ctx context.Context, _ *pb.CountersRequest) (*pb.CountersResponse, error) {
	c, err := s.impl.Counters(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CountersResponse{
		Users:       int64(c.Users),
		Connections: int64(c.Connections),
		Pages:       int64(c.Pages),
	}, nil
}
