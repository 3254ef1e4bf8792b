package pyro

import (
	"encoding/hex"
	"math/big"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	ogórek "github.com/kisielk/og-rek"
)

// pythonPickles runs Python's pickle on the expression for protocols 2-5 (Pyro4 sends its
// highest; protocols 0 and 1 write str with UNICODE, an opcode the decoder lacks).
func pythonPickles(t *testing.T, setup, expr string) [][]byte {
	t.Helper()
	script := "import pickle, datetime, collections\n" + setup + "\nv = " + expr +
		"\nfor p in range(2, 6):\n    print(pickle.dumps(v, p).hex())\n"
	out, err := exec.Command("/usr/bin/python3", "-c", script).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var res [][]byte
	for _, line := range strings.Fields(string(out)) {
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, b)
	}
	return res
}

// decoders: the one-shot Unpickle and a connection's reused, interning decoder, which
// must give the same values reply after reply.
func decodeBoth(t *testing.T, data []byte) []any {
	t.Helper()
	v1, err := Unpickle(data)
	if err != nil {
		t.Fatalf("Unpickle: %v", err)
	}
	u := unpickler{strs: map[string]any{}}
	var out = []any{v1}
	for range 2 {
		v, err := u.decode(data)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out = append(out, v)
	}
	return out
}

func TestUnpickleValues(t *testing.T) {
	long := strings.Repeat("L", maxInternLen+1)
	for _, data := range pythonPickles(t, "", `{"a": [1, 2, {"b": "c"}], "d": (1, "x"), "s": {7}, "n": None,
  "big": 2**70, "f": 1.5, "t": True, "dt": datetime.datetime(2020, 1, 2, 3, 4, 5, 6), "e": {}, "el": [],
  "od": collections.OrderedDict([("k", "v")]), "long": "`+long+`", "u": "é"}`) {
		for _, v := range decodeBoth(t, data) {
			m, err := Dict(v)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"a": []any{int64(1), int64(2), map[any]any{"b": "c"}}, "d": ogórek.Tuple{int64(1), "x"},
				"s": Set{int64(7)}, "n": nil, "big": new(big.Int).Lsh(big.NewInt(1), 70), "f": 1.5, "t": true,
				"dt": time.Date(2020, 1, 2, 3, 4, 5, 6000, time.Local), "e": map[any]any{}, "el": []any{},
				"od": map[any]any{"k": "v"}, "long": long, "u": "é",
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("protocol %d:\n got %#v\nwant %#v", protoOf(data), m, want)
			}
		}
	}
}

func protoOf(data []byte) int {
	if data[0] == opProto {
		return int(data[1])
	}
	return 0
}

// Shared references stay shared and cycles end, with dicts and lists built lazily.
func TestUnpickleSharedAndCycles(t *testing.T) {
	for _, data := range pythonPickles(t, "l = [1]\nd = {}\nd['self'] = d\nc = []\nc.append(c)",
		`{"x": l, "y": l, "d": d, "c": c}`) {
		for _, v := range decodeBoth(t, data) {
			m, err := Dict(v)
			if err != nil {
				t.Fatal(err)
			}
			x, y := m["x"].([]any), m["y"].([]any)
			if len(x) != 1 || &x[0] != &y[0] {
				t.Errorf("protocol %d: x and y are not one list: %v %v", protoOf(data), x, y)
			}
			d := m["d"].(map[any]any)
			if reflect.ValueOf(d["self"]).Pointer() != reflect.ValueOf(d).Pointer() {
				t.Errorf("protocol %d: d['self'] is not d", protoOf(data))
			}
			if c := m["c"].([]any); len(c) != 1 {
				t.Errorf("protocol %d: self-containing list = %v", protoOf(data), c)
			}
		}
	}
}
