package registryrpc

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// wire sends m through the protobuf encoding, as the network would.
func wire[M proto.Message](t *testing.T, m M, fresh M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}
	if err := proto.Unmarshal(b, fresh); err != nil {
		t.Fatalf("unmarshal %T: %v", m, err)
	}
	return fresh
}

func TestFixturesSetEveryField(t *testing.T) {
	requireAllSet(t, fullItem())
	requireAllSet(t, fullDatachange())
	requireAllSet(t, fullNotice())
	requireAllSet(t, fullNotice().Events[0])
}

func TestItemRoundTrip(t *testing.T) {
	want := fullItem()
	got := itemFromPB(wire(t, itemToPB(want), &pb.Item{}))
	mustEqual(t, "item", got, want)
}

func TestZeroItemRoundTrip(t *testing.T) {
	got := itemFromPB(wire(t, itemToPB(abi.Item{}), &pb.Item{}))
	mustEqual(t, "zero item", got, abi.Item{})
	if !got.StartTS.IsZero() || !got.LastRefreshTS.IsZero() {
		t.Fatalf("zero times came back as %v / %v", got.StartTS, got.LastRefreshTS)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	for _, tt := range []time.Time{
		{},
		time.Unix(0, 0).UTC(), // the epoch is a real time, distinct from zero
		ts(0),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // one nanosecond after the zero time
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)),
	} {
		got := timeFromPB(wire(t, &pb.SweepRequest{Now: timeToPB(tt)}, &pb.SweepRequest{}).GetNow())
		if !got.Equal(tt) || got.IsZero() != tt.IsZero() {
			t.Errorf("time %v came back as %v", tt, got)
		}
	}
}

func TestDatachangeRoundTrip(t *testing.T) {
	for name, want := range map[string]abi.Datachange{
		"full":        fullDatachange(),
		"zero":        {},
		"empty value": {Path: "x", Value: json.RawMessage{}},
		"delete":      {Path: "x", Delete: true},
	} {
		t.Run(name, func(t *testing.T) {
			got := datachangeFromPB(wire(t, datachangeToPB(want), &pb.Datachange{}))
			mustEqual(t, "datachange", got, want)
		})
	}
}

func TestNoticeRoundTrip(t *testing.T) {
	want := fullNotice()
	got := noticeFromPB(wire(t, noticeToPB(want), &pb.DbEventNotice{}))
	mustEqual(t, "notice", got, want)
}

func TestStorePresence(t *testing.T) {
	for name, want := range map[string]map[string]json.RawMessage{
		"nil":   nil,
		"empty": {},
		"full":  fullItem().Data,
	} {
		t.Run(name, func(t *testing.T) {
			req := wire(t, &pb.ReplaceStoreRequest{Store: storeToPB(want)}, &pb.ReplaceStoreRequest{})
			got := storeFromPB(req.GetStore())
			if (got == nil) != (want == nil) {
				t.Fatalf("nil-ness lost: got %#v, want %#v", got, want)
			}
			mustEqual(t, "store", got, want)
		})
	}
}
