package ws

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/gnrhost/gnrhost/host/pages"
)

// Push frames are encoded by hand, several per write: each must parse back as a final
// text frame carrying {"type":"push","seq":N,"data":DATA}, whatever its length form (7,
// 16 or 64 bits).
func TestAppendPushFrame(t *testing.T) {
	var buf []byte
	var want []pages.Push
	for i, size := range []int{0, 90, 125, 126, 65535 - 40, 65535, 70000} {
		data, _ := json.Marshal(strings.Repeat("x", size))
		p := pages.Push{Seq: uint64(1000 + i), Data: data}
		want = append(want, p)
		buf = appendPushFrame(buf, p)
	}
	r := bytes.NewReader(buf)
	for _, p := range want {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Rsv != 0 {
			t.Fatalf("header %+v", h)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatal(err)
		}
		var f struct {
			Type string          `json:"type"`
			Seq  uint64          `json:"seq"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(payload, &f); err != nil || f.Type != "push" || f.Seq != p.Seq || !bytes.Equal(f.Data, p.Data) {
			t.Fatalf("frame of %d bytes: %v %q %d", len(p.Data), err, f.Type, f.Seq)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left over", r.Len())
	}
}
