package registrypyro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"time"

	ogórek "github.com/kisielk/og-rek"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// The registry contract stores JSON; gnrdaemon stores Python values. JSON maps onto
// Python as json.loads would (object -> dict, array -> list, integer -> int, other
// number -> float, string, bool, null -> None). Back from Python, tuples and sets become
// arrays, datetimes RFC 3339 strings (naive daemon times read as local time), bytes
// strings, Bags objects of their leaves; anything else (a foreign object) is refused
// rather than guessed.

// fromJSON decodes raw into a value the pickler sends as the matching Python value.
func fromJSON(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || !json.Valid(raw) {
		return nil, fmt.Errorf("%w: value is not valid JSON: %.40q", abi.ErrInvalid, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", abi.ErrInvalid, err)
	}
	return pythonize(v), nil
}

func pythonize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if b, ok := new(big.Int).SetString(x.String(), 10); ok {
			return b
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, it := range x {
			x[k] = pythonize(it)
		}
		return x
	case []any:
		for i, it := range x {
			x[i] = pythonize(it)
		}
		return x
	}
	return v
}

// toJSON encodes a decoded Python value as JSON.
func toJSON(v any) (json.RawMessage, error) {
	plain, err := jsonable(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, fmt.Errorf("registry-pyro: encode value as JSON: %w", err)
	}
	return b, nil
}

func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case *big.Int:
		return json.Number(x.String()), nil
	case ogórek.Bytes:
		return string(x), nil
	case []byte:
		return string(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case []any:
		return jsonableList(x)
	case ogórek.Tuple:
		return jsonableList(x)
	case pyro.Set:
		return jsonableList(x)
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			c, err := jsonable(it)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case *pyro.Bag:
		flat := x.Flatten()
		out := make(map[string]any, len(flat))
		for k, it := range flat {
			c, err := jsonable(it)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case *pyro.Object:
		if x.Class.Name == "Bag" {
			bag, err := pyro.DecodeBag(x)
			if err != nil {
				return nil, err
			}
			return jsonable(bag)
		}
		return nil, fmt.Errorf("registry-pyro: a %v value has no JSON form", x)
	}
	return nil, fmt.Errorf("registry-pyro: a %T value has no JSON form", v)
}

func jsonableList[S ~[]any](in S) ([]any, error) {
	out := make([]any, len(in))
	for i, it := range in {
		c, err := jsonable(it)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// field helpers read an item dict as gnrdaemon returns it: decoded (map[any]any) or
// converted by pyro.Dict (map[string]any).

func str[K comparable](m map[K]any, key K) string {
	switch v := m[key].(type) {
	case string:
		return v
	case nil:
		return ""
	case []any: // user_tags may be a list in some sites
		parts := make([]string, 0, len(v))
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return joinComma(parts)
	default:
		return fmt.Sprint(v)
	}
}

func joinComma(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}

func ts[K comparable](m map[K]any, key K) time.Time {
	t, _ := m[key].(time.Time)
	return t
}

func strList(v any) []string {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case ogórek.Tuple:
		items = x
	case pyro.Set:
		items = x
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedStrings(v any) []string {
	out := strList(v)
	sort.Strings(out)
	return out
}
