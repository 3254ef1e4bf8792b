package pluginset

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The decoder walks yaml.v3 nodes instead of using yaml.Unmarshal so that every problem
// keeps its line and column (KnownFields reports lines only, and stops at the first).

var (
	durationType = reflect.TypeOf(Duration(0))
	rawJSONType  = reflect.TypeOf(json.RawMessage(nil))
	positionType = reflect.TypeOf(Position{})
)

type decoder struct {
	problems *problemList
	// where maps each dotted key to the position of its value, for checks after decoding.
	where map[string]Position
}

func posOf(n *yaml.Node) Position { return Position{Line: n.Line, Column: n.Column} }

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "null"
		default:
			return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
		}
	}
	return "an unsupported node"
}

// decode fills v (a pointer's elem) from n; key is the dotted path used in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	n = resolveAlias(n)
	d.where[key] = posOf(n)
	switch {
	case v.Type() == durationType:
		d.decodeDuration(n, v, key)
		return
	case v.Type() == rawJSONType:
		d.decodeRawJSON(n, v, key)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), key)
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.Slice:
		d.decodeSlice(n, v, key)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.problems.add(posOf(n), key, "expected a string, found %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.problems.add(posOf(n), key, "expected an integer, found %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			d.problems.add(posOf(n), key, "expected an integer in 32-bit range, found %s", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.problems.add(posOf(n), key, "expected true or false, found %s", kindName(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.problems.add(posOf(n), key, "expected true or false: %v", err)
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("pluginset: no decoder for %s", v.Type()))
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.problems.add(posOf(n), key, `expected a duration such as "500ms" or "10s", found %s`, kindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil || dur < 0 {
		d.problems.add(posOf(n), key, `expected a non-negative duration such as "500ms" or "10s", found %q`, n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeRawJSON(n *yaml.Node, v reflect.Value, key string) {
	val, ok := d.plain(n, key)
	if !ok {
		return
	}
	raw, err := json.Marshal(val)
	if err != nil {
		d.problems.add(posOf(n), key, "cannot be expressed as JSON: %v", err)
		return
	}
	v.SetBytes(raw)
}

// plain converts a node to JSON-compatible Go values (maps with string keys only).
func (d *decoder) plain(n *yaml.Node, key string) (any, bool) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				d.problems.add(posOf(k), key, "expected string keys, found %s", kindName(k))
				ok = false
				continue
			}
			if _, dup := out[k.Value]; dup {
				d.problems.add(posOf(k), key+"."+k.Value, "key appears twice")
				ok = false
				continue
			}
			val, vok := d.plain(n.Content[i+1], key+"."+k.Value)
			ok = ok && vok
			out[k.Value] = val
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			val, vok := d.plain(c, fmt.Sprintf("%s[%d]", key, i))
			ok = ok && vok
			out = append(out, val)
		}
		return out, ok
	case yaml.ScalarNode:
		var val any
		if err := n.Decode(&val); err != nil {
			d.problems.add(posOf(n), key, "bad value: %v", err)
			return nil, false
		}
		if f, isFloat := val.(float64); isFloat && (math.IsInf(f, 0) || math.IsNaN(f)) {
			d.problems.add(posOf(n), key, "expected a finite number, found %s", n.Value)
			return nil, false
		}
		return val, true
	}
	d.problems.add(posOf(n), key, "unsupported YAML node")
	return nil, false
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.problems.add(posOf(n), key, "expected a list, found %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", key, i))
	}
	v.Set(s)
}

type fieldInfo struct {
	index    int
	name     string
	required bool
}

func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("yaml")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, fieldInfo{index: i, name: name, required: f.Tag.Get("required") == "true"})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string) {
	if at := v.FieldByName("At"); at.IsValid() && at.Type() == positionType {
		at.Set(reflect.ValueOf(posOf(n)))
	}
	if n.Kind != yaml.MappingNode {
		d.problems.add(posOf(n), keyOrTop(key), "expected a mapping, found %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	byName := make(map[string]fieldInfo, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	seen := make(map[string]bool, len(fields))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		child := joinKey(key, k.Value)
		f, known := byName[k.Value]
		if !known {
			d.problems.add(posOf(k), child, "unknown key; expected one of: %s", expectedKeys(fields))
			continue
		}
		if seen[k.Value] {
			d.problems.add(posOf(k), child, "key appears twice")
			continue
		}
		seen[k.Value] = true
		if k.Value == "config" {
			if at := v.FieldByName("ConfigAt"); at.IsValid() && at.Type() == positionType {
				at.Set(reflect.ValueOf(posOf(resolveAlias(val))))
			}
		}
		d.decode(val, v.Field(f.index), child)
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.problems.add(posOf(n), joinKey(key, f.name), "missing required key")
		}
	}
}

func expectedKeys(fields []fieldInfo) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func joinKey(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func keyOrTop(key string) string {
	if key == "" {
		return "(top level)"
	}
	return key
}
