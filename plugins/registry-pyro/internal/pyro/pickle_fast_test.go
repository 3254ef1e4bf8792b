package pyro

import (
	"bytes"
	"encoding/hex"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	ogórek "github.com/kisielk/og-rek"
)

// The fast encoder's pickles load in Python to the same values as the general
// encoder's (og-rek), for every type it takes; other values go the general way.
func TestFastPickleMatchesGeneral(t *testing.T) {
	values := []any{
		nil, true, false, 0, 1, 255, 256, 65535, 65536, -1, -129, math.MaxInt32, math.MinInt32,
		int64(math.MaxInt32) + 1, int64(math.MinInt32) - 1, int64(math.MaxInt64), int64(math.MinInt64),
		int8(-5), int16(-300), int32(-70000), uint8(200), uint16(60000), uint32(4000000000), uint(7), uint64(1 << 62),
		1.5, -0.0, math.Inf(1), "", "text", "é ü 日本", strings.Repeat("s", 70000),
		[]any{}, []any{1, "a", nil}, []string{}, []string{"x", "y"},
		ogórek.Tuple{}, ogórek.Tuple{1}, ogórek.Tuple{1, 2}, ogórek.Tuple{1, 2, 3}, ogórek.Tuple{1, 2, 3, 4},
		map[string]any{}, map[string]any{"k": "v", "n": []any{map[string]any{"deep": ogórek.Tuple{true}}}},
		ogórek.Tuple{"SiteRegister", "get_item", ogórek.Tuple{"p"}, map[string]any{"register_name": "page"}},
	}
	var lines []string
	for _, v := range values {
		fast, ok := appendFastPickle(nil, v)
		if !ok {
			t.Fatalf("%#v: not taken by the fast encoder", v)
		}
		var general bytes.Buffer
		conv, err := toPickleable(v)
		if err == nil {
			err = ogórek.NewEncoderWithConfig(&general, pickleEncoderConfig).Encode(conv)
		}
		if err != nil {
			t.Fatalf("%#v: og-rek: %v", v, err)
		}
		lines = append(lines, hex.EncodeToString(fast)+" "+hex.EncodeToString(general.Bytes()))
	}
	// canon compares types and reprs all the way down (-0.0 is not 0.0, True is not 1)
	// but not the order of a dict's keys, which follows Go's map order in both encoders.
	script := `import pickle, sys
def canon(x):
    if isinstance(x, dict):
        return ("dict", sorted((canon(k), canon(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(v) for v in x])
    return (type(x).__name__, repr(x))
bad = 0
for i, line in enumerate(sys.stdin):
    a, b = (pickle.loads(bytes.fromhex(h)) for h in line.split())
    if canon(a) != canon(b):
        print("value %d: fast %r, general %r" % (i, a, b)); bad += 1
print("checked", i + 1, "bad", bad)
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bad 0") {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	// Values the fast encoder leaves to the general one.
	for _, v := range []any{time.Now(), Set{1}, map[any]any{"k": 1}, ogórek.Bytes("b"), uint64(math.MaxUint64),
		[]any{struct{}{}}, float32(1)} {
		if _, ok := appendFastPickle(nil, v); ok {
			t.Errorf("%#v taken by the fast encoder", v)
		}
	}
}
