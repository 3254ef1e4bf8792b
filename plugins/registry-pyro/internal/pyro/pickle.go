package pyro

import (
	"bytes"
	"fmt"
	"time"

	ogórek "github.com/kisielk/og-rek"
)

// Pickle encodes v for the daemon with og-rek. Go values map onto Python as og-rek does
// (string -> str, int/uint -> int, float -> float, bool, nil -> None, []any -> list,
// ogórek.Tuple -> tuple, maps -> dict, ogórek.Bytes -> bytes) plus time.Time ->
// datetime.datetime (naive, in the time's own zone) and Set -> set.
//
// Protocol 3 with StrictUnicode: every Go string becomes a Python 3 str even when it is
// not ASCII (protocol 2 would send py2 byte strings that Python 3 decodes as ASCII).
func Pickle(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := pickleTo(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pickleEncoderConfig is shared: the encoder only reads it.
var pickleEncoderConfig = &ogórek.EncoderConfig{Protocol: 3, StrictUnicode: true}

// pickleTo appends the pickle of v to buf (Pickle without its own buffer).
func pickleTo(buf *bytes.Buffer, v any) error {
	if out, ok := appendFastPickle(buf.AvailableBuffer(), v); ok {
		buf.Write(out) // AvailableBuffer's bytes: Write only extends the length
		return nil
	}
	conv, err := toPickleable(v)
	if err != nil {
		return err
	}
	if err := ogórek.NewEncoderWithConfig(buf, pickleEncoderConfig).Encode(conv); err != nil {
		return fmt.Errorf("pickle: %w", err)
	}
	return nil
}

// toPickleable rewrites the values og-rek would get wrong: time.Time (a struct og-rek
// would send as a dict), Set, and containers holding them.
func toPickleable(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return datetimeCall(x), nil
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		return datetimeCall(*x), nil
	case Set:
		items, err := toPickleableSlice(x)
		if err != nil {
			return nil, err
		}
		return ogórek.Call{Callable: ogórek.Class{Module: "builtins", Name: "set"},
			Args: ogórek.Tuple{items}}, nil
	case ogórek.Tuple:
		items, err := toPickleableSlice(x)
		return ogórek.Tuple(items), err
	case []any:
		return toPickleableSlice(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case map[string]any:
		out := make(map[any]any, len(x))
		for k, it := range x {
			c, err := toPickleable(it)
			if err != nil {
				return nil, fmt.Errorf("pickle: key %q: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, it := range x {
			c, err := toPickleable(it)
			if err != nil {
				return nil, fmt.Errorf("pickle: key %v: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case *Object, Object:
		return nil, fmt.Errorf("pickle: cannot send a Python object (%v)", x)
	}
	return v, nil
}

func toPickleableSlice(in []any) ([]any, error) {
	out := make([]any, len(in))
	for i, it := range in {
		c, err := toPickleable(it)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// datetimeCall is datetime.datetime(state_bytes), the form datetime itself pickles to.
func datetimeCall(t time.Time) ogórek.Call {
	us := t.Nanosecond() / 1000
	state := []byte{byte(t.Year() >> 8), byte(t.Year()), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()), byte(us >> 16), byte(us >> 8), byte(us)}
	return ogórek.Call{Callable: ogórek.Class{Module: "datetime", Name: "datetime"},
		Args: ogórek.Tuple{ogórek.Bytes(state)}}
}
