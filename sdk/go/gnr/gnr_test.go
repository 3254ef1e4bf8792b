package gnr

import (
	"encoding/json"
	"errors"
	"testing"
	"unsafe"
)

func TestMarshal(t *testing.T) {
	type item struct {
		Text string `json:"text"`
		N    int    `json:"n"`
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{item{"a\"b\\c\n\t\x01\x7fé<>&\u2028\u2029😀", 2}, `{"text":"a\"b\\c\n\t\u0001` + "\x7fé<>&\u2028\u2029😀" + `","n":2}`},
		{item{`\u2028`, 0}, `{"text":"\\u2028","n":0}`},
		{item{"\\\u2028", 0}, `{"text":"\\` + "\u2028" + `","n":0}`},
		{[]json.RawMessage{json.RawMessage(` { "a" : 1 } `)}, `[{"a":1}]`},
		{nil, `null`},
		{Error{"bad_params", "x"}, `{"code":"bad_params","message":"x"}`},
		{DBEvent{Action: "I"}, `{"action":"I"}`},
	} {
		got, err := Marshal(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
}

func TestReadBuf(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	calls := 0
	got, err := readBuf(func(buf *byte, cap uint32) int32 {
		calls++
		if int(cap) >= len(data) {
			copy(unsafe.Slice(buf, cap), data)
		}
		return int32(len(data))
	})
	if err != nil || string(got) != string(data) || calls != 2 {
		t.Fatalf("readBuf: %d bytes, %v, %d calls", len(got), err, calls)
	}
	if _, err := readBuf(func(*byte, uint32) int32 { return -1 }); err != ErrNotFound {
		t.Fatalf("readBuf: err %v, want ErrNotFound", err)
	}
}

func TestErrorsAs(t *testing.T) {
	var e Error
	if !errors.As(UnknownMethod("x"), &e) || e.Message != "unknown method: x" {
		t.Fatal(e)
	}
	if ErrTooLarge.Error() != "gnr: too large" {
		t.Fatal(ErrTooLarge.Error())
	}
}

type onlyLoad struct{}

func (onlyLoad) Load(*Page) (string, error) { return "", nil }
func (onlyLoad) RPC(*Page, string, json.RawMessage) (any, error) {
	return nil, nil
}

func TestRegister(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Register accepted FeatureEvents without an Event method")
		}
	}()
	Register(onlyLoad{}, FeatureEvents)
}
