package pagerpc

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v as compact JSON exactly as the gnr WASM SDKs do (sdk/go/gnr.Marshal),
// so a page served by a plugin answers the same bytes as its WASM build: struct fields in
// declaration order, no HTML escaping (<, >, & stay as they are), U+2028/U+2029 written
// raw, control characters as \n \r \t \b \f or \u00XX. json.RawMessage values are
// compacted and otherwise kept as they are.
//
// It is a copy rather than an import because abi packages import nothing outside abi.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return unescapeSeparators(b), nil
}

// unescapeSeparators turns the escapes \u2028 and \u2029, which encoding/json always
// writes, back into the characters (E2 80 A8, E2 80 A9). A backslash in JSON text only
// occurs in strings and always starts a two-byte escape (\\, \", \n, \uXXXX...), so
// stepping over escapes keeps the scan aligned.
func unescapeSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if i+5 < len(b) && string(b[i+1:i+5]) == "u202" && (b[i+5] == '8' || b[i+5] == '9') {
			out = append(out, 0xE2, 0x80, 0xA0+b[i+5]-'0')
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}
