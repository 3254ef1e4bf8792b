package pyro

import (
	"encoding/binary"
	"math"

	ogórek "github.com/kisielk/og-rek"
)

// appendFastPickle appends the protocol 3 pickle of v to dst when v holds only the plain
// types a call's arguments usually are (nil, bool, integers, float64, string, []any,
// []string, ogórek.Tuple, map[string]any), and reports false otherwise, leaving the
// general encoder (og-rek, after toPickleable) to do it. For those types og-rek's
// reflection and the copies toPickleable makes of every map and slice were most of the
// cost of sending a call.
func appendFastPickle(dst []byte, v any) ([]byte, bool) {
	if !fastPickleable(v, 0) {
		return dst, false
	}
	dst = append(dst, opProto, 3)
	dst = appendFast(dst, v)
	return append(dst, opStop), true
}

// maxFastDepth bounds fastPickleable's recursion; deeper values take the general path.
const maxFastDepth = 32

func fastPickleable(v any, depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, float64, string, []string:
		return true
	case uint:
		return uint64(x) <= math.MaxInt64
	case uint64:
		return x <= math.MaxInt64
	case []any:
		for _, it := range x {
			if !fastPickleable(it, depth+1) {
				return false
			}
		}
		return true
	case ogórek.Tuple:
		for _, it := range x {
			if !fastPickleable(it, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, it := range x {
			if !fastPickleable(it, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// appendFast encodes a value fastPickleable accepted.
func appendFast(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, opNone)
	case bool:
		if x {
			return append(dst, opNewTrue)
		}
		return append(dst, opNewFalse)
	case int:
		return appendInt(dst, int64(x))
	case int8:
		return appendInt(dst, int64(x))
	case int16:
		return appendInt(dst, int64(x))
	case int32:
		return appendInt(dst, int64(x))
	case int64:
		return appendInt(dst, x)
	case uint8:
		return appendInt(dst, int64(x))
	case uint16:
		return appendInt(dst, int64(x))
	case uint32:
		return appendInt(dst, int64(x))
	case uint:
		return appendInt(dst, int64(x))
	case uint64:
		return appendInt(dst, int64(x))
	case float64:
		dst = append(dst, opBinFloat)
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(x))
	case string:
		return appendStr(dst, x)
	case []string:
		dst = append(dst, opEmptyList)
		if len(x) == 0 {
			return dst
		}
		dst = append(dst, opMark)
		for _, s := range x {
			dst = appendStr(dst, s)
		}
		return append(dst, opAppends)
	case []any:
		dst = append(dst, opEmptyList)
		if len(x) == 0 {
			return dst
		}
		dst = append(dst, opMark)
		for _, it := range x {
			dst = appendFast(dst, it)
		}
		return append(dst, opAppends)
	case ogórek.Tuple:
		switch len(x) {
		case 0:
			return append(dst, opEmptyTuple)
		case 1, 2, 3:
			for _, it := range x {
				dst = appendFast(dst, it)
			}
			return append(dst, opTuple1+byte(len(x)-1))
		}
		dst = append(dst, opMark)
		for _, it := range x {
			dst = appendFast(dst, it)
		}
		return append(dst, opTuple)
	case map[string]any:
		dst = append(dst, opEmptyDict)
		if len(x) == 0 {
			return dst
		}
		dst = append(dst, opMark)
		for k, it := range x {
			dst = appendStr(dst, k)
			dst = appendFast(dst, it)
		}
		return append(dst, opSetItems)
	}
	panic("pyro: appendFast on a value fastPickleable refused") // unreachable
}

func appendInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 0xff:
		return append(dst, opBinInt1, byte(n))
	case n >= 0 && n <= 0xffff:
		return append(dst, opBinInt2, byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		dst = append(dst, opBinInt)
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(n)))
	}
	// LONG1: 8 bytes of two's complement, little endian.
	dst = append(dst, opLong1, 8)
	return binary.LittleEndian.AppendUint64(dst, uint64(n))
}

// appendStr writes a str as BINUNICODE (Go strings are sent as UTF-8 text, as og-rek's
// StrictUnicode does).
func appendStr(dst []byte, s string) []byte {
	dst = append(dst, opBinUnicode)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}
