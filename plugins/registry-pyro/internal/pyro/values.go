package pyro

import (
	"fmt"

	ogórek "github.com/kisielk/og-rek"
)

// Decoded Python values (Unpickle) map onto Go as:
//
//	None -> nil, bool -> bool, int -> int64 (or *big.Int when it does not fit),
//	float -> float64, str -> string, bytes -> ogórek.Bytes, bytearray -> []byte,
//	list -> []any, tuple -> ogórek.Tuple, dict -> map[any]any, set/frozenset -> Set,
//	datetime.datetime/date -> time.Time (naive values in time.Local, as the daemon's
//	datetime.now() is local time), any other object -> *Object.

// Object is a Python object that has no natural Go form: an instance of a user class
// (ClientDataChange) or an exception. Class names its type; Args are the constructor
// arguments the pickle carried (an exception's args); State is what BUILD set, usually
// the instance __dict__ as map[any]any.
type Object struct {
	Class ogórek.Class
	Args  ogórek.Tuple
	State any
}

// Attr returns the attribute name from the object's __dict__ state.
func (o *Object) Attr(name string) (any, bool) {
	if m, ok := o.State.(map[any]any); ok {
		v, ok := m[name]
		return v, ok
	}
	return nil, false
}

// String names the object's class, e.g. <gnr.web.gnrwebpage.ClientDataChange>.
func (o *Object) String() string {
	return fmt.Sprintf("<%s.%s>", o.Class.Module, o.Class.Name)
}

// Set is a Python set or frozenset, in pickle order.
type Set []any

// Dict builds a map[string]any from a decoded dict whose keys are all strings.
func Dict(v any) (map[string]any, error) {
	m, ok := v.(map[any]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("pyro: want a dict, got %T", v)
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		s, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("pyro: dict key %v is %T, not str", k, k)
		}
		out[s] = val
	}
	return out, nil
}
