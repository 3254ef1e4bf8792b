package pyro

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	ogórek "github.com/kisielk/og-rek"
)

// Pickle opcodes the daemon's pickle.dumps (protocol 5 on Python 3.11) and older
// protocols emit for the values gnrdaemon returns.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opProto          = 0x80
	opNewObj         = 0x81
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
)

// Mutable containers are pointers while decoding: APPEND on a list that the memo also
// holds must change the one list both see (a Go slice header would not). A dict is one
// too so that its map is made at its first SETITEMS, sized for the items (an empty map
// grown key by key rehashed several times per reply). out/done are finish's: the public
// form, made once, so shared references stay shared and cycles end.
type (
	pyList struct {
		items []any
		out   []any
		done  bool
	}
	pyDict struct {
		m    map[any]any // nil until the first item
		done bool
	}
	pySet struct{ items []any }
	mark  struct{}
)

// Unpickle decodes one pickle (protocols 0-5, without out-of-band buffers) into Go values;
// see values.go for the mapping. It never runs code: classes become *Object. The result
// shares no memory with data.
func Unpickle(data []byte) (any, error) {
	var u unpickler
	return u.decode(data)
}

// decode is Unpickle on a reusable unpickler: a connection keeps one, so its stack, memo
// and interned strings carry over from one reply to the next. Not safe for concurrent use.
func (u *unpickler) decode(data []byte) (any, error) {
	u.data, u.pos = data, 0
	v, err := u.run()
	// Drop the references the reused slices hold, so a reply's values do not outlive
	// their use through the decoder.
	clear(u.stack[:cap(u.stack)])
	clear(u.memo[:cap(u.memo)])
	u.data, u.stack, u.memo, u.memoLen = nil, u.stack[:0], u.memo[:0], 0
	if err != nil {
		return nil, fmt.Errorf("unpickle: %w", err)
	}
	var st finishState
	return finish(v, &st), nil
}

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	// strs interns short strings as ready-made interface values: the same dict keys (and
	// many values) come back in every reply, and a fresh string boxed in an any is two
	// allocations. nil (Unpickle's one-shot decoder) interns nothing.
	strs map[string]any
	// memo is indexed by memo id: pickles number them from 0 up, so a slice beats a map
	// (the decoder's hottest structure). memoLen counts the ids set, which is what MEMOIZE
	// uses as the next id (len(memo) in Python's unpickler).
	memo    []memoSlot
	memoLen int
}

type memoSlot struct {
	v   any
	set bool
}

func (u *unpickler) memoPut(idx int, v any) error {
	// A valid pickle cannot name more memo ids than it has bytes.
	if idx < 0 || idx > len(u.data) {
		return fmt.Errorf("memo id %d out of range", idx)
	}
	if idx >= len(u.memo) {
		u.memo = slices.Grow(u.memo, idx+1-len(u.memo))[:idx+1] // slots past the old length were cleared
	}
	if !u.memo[idx].set {
		u.memoLen++
	}
	u.memo[idx] = memoSlot{v: v, set: true}
	return nil
}

var errTruncated = errors.New("truncated pickle")

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || u.pos+n > len(u.data) {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) line() ([]byte, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return nil, errTruncated
	}
	return u.take(i + 1)
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	if _, ok := v.(mark); ok {
		return nil, errors.New("unexpected mark")
	}
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the topmost mark, and the mark.
func (u *unpickler) popMark() ([]any, error) {
	items, err := u.popMarkView()
	if err != nil {
		return nil, err
	}
	return append([]any(nil), items...), nil
}

// popMarkView is popMark without the copy, for opcodes that only read the items: they
// stay in the stack's array and are valid until the next push.
func (u *unpickler) popMarkView() ([]any, error) {
	for i := len(u.stack) - 1; i >= 0; i-- {
		if _, ok := u.stack[i].(mark); ok {
			items := u.stack[i+1:]
			u.stack = u.stack[:i]
			return items, nil
		}
	}
	return nil, errors.New("mark not found")
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, errTruncated
		}
		op := u.data[u.pos]
		u.pos++
		if op == opStop {
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, fmt.Errorf("opcode %#x at %d: %w", op, u.pos-1, err)
		}
	}
}

func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		_, err := u.take(1)
		return err
	case opFrame:
		_, err := u.take(8) // frames only group bytes; we hold the whole pickle
		return err
	case opMark:
		u.push(mark{})
	case opPop:
		_, err := u.pop()
		return err
	case opPopMark:
		_, err := u.popMark()
		return err
	case opDup:
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		v, err := u.uint(4)
		u.push(int64(int32(uint32(v))))
		return err
	case opBinInt1:
		v, err := u.uint(1)
		u.push(int64(v))
		return err
	case opBinInt2:
		v, err := u.uint(2)
		u.push(int64(v))
		return err
	case opLong1, opLong4:
		size := 1
		if op == opLong4 {
			size = 4
		}
		n, err := u.uint(size)
		if err != nil {
			return err
		}
		b, err := u.take(int(n))
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opInt, opLong:
		return u.textInt(op)
	case opBinFloat:
		b, err := u.take(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opFloat:
		l, err := u.line()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(l)), 64)
		if err != nil {
			return err
		}
		u.push(f)
	case opShortBinUni, opBinUnicode, opBinUnicode8, opShortBinBytes, opBinBytes, opBinBytes8,
		opByteArray8, opShortBinString, opBinString:
		return u.sized(op)
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case opAppend, opAppends:
		var items []any
		var err error
		if op == opAppend {
			var v any
			v, err = u.pop()
			items = []any{v}
		} else {
			items, err = u.popMarkView() // appended (copied) below before any push
		}
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		l, ok := t.(*pyList)
		if !ok {
			return fmt.Errorf("append to %T", t)
		}
		l.items = append(l.items, items...)
	case opEmptyTuple:
		u.push(ogórek.Tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(ogórek.Tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n {
			return errors.New("stack underflow")
		}
		t := make(ogórek.Tuple, n)
		for i := n - 1; i >= 0; i-- {
			v, err := u.pop()
			if err != nil {
				return err
			}
			t[i] = v
		}
		u.push(t)
	case opEmptyDict:
		u.push(&pyDict{})
	case opDict:
		items, err := u.popMarkView()
		if err != nil {
			return err
		}
		d := &pyDict{}
		if err := setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case opSetItem, opSetItems:
		var items []any
		var err error
		if op == opSetItem {
			if len(u.stack) < 2 {
				return errors.New("stack underflow")
			}
			items = u.stack[len(u.stack)-2:]
			u.stack = u.stack[:len(u.stack)-2]
		} else {
			items, err = u.popMarkView()
		}
		if err != nil {
			return err
		}
		for _, it := range items {
			if _, ok := it.(mark); ok {
				return errors.New("unexpected mark")
			}
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return fmt.Errorf("setitem on %T", t)
		}
		return setItems(d, items)
	case opEmptySet:
		u.push(&pySet{})
	case opAddItems:
		items, err := u.popMarkView() // appended (copied) below before any push
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		s, ok := t.(*pySet)
		if !ok {
			return fmt.Errorf("additems on %T", t)
		}
		s.items = append(s.items, items...)
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pySet{items: items})
	case opGlobal:
		mod, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		u.push(ogórek.Class{Module: string(mod[:len(mod)-1]), Name: string(name[:len(name)-1])})
	case opStackGlobal:
		name, err := u.pop()
		if err != nil {
			return err
		}
		mod, err := u.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("stack_global with %T, %T", mod, name)
		}
		u.push(ogórek.Class{Module: ms, Name: ns})
	case opReduce, opNewObj:
		args, err := u.pop()
		if err != nil {
			return err
		}
		callable, err := u.pop()
		if err != nil {
			return err
		}
		cls, ok := callable.(ogórek.Class)
		if !ok {
			return fmt.Errorf("call of %T", callable)
		}
		t, ok := args.(ogórek.Tuple)
		if !ok {
			return fmt.Errorf("call args are %T", args)
		}
		v, err := construct(cls, t, op == opNewObj)
		if err != nil {
			return err
		}
		u.push(v)
	case opNewObjEx:
		if _, err := u.pop(); err != nil { // kwargs: no Go use for them
			return err
		}
		return u.step(opNewObj)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		obj, ok := t.(*Object)
		if !ok {
			return fmt.Errorf("build on %T", t)
		}
		if cur, ok := obj.State.(*pyDict); ok {
			if add, ok := state.(*pyDict); ok {
				var items []any
				for k, v := range add.m {
					items = append(items, k, v)
				}
				return setItems(cur, items)
			}
		}
		obj.State = state
	case opMemoize:
		v, err := u.top()
		if err != nil {
			return err
		}
		if err := u.memoPut(u.memoLen, v); err != nil {
			return err
		}
	case opBinPut, opLongBinPut, opPut:
		idx, err := u.memoIndex(op == opBinPut, op == opPut)
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		if err := u.memoPut(idx, v); err != nil {
			return err
		}
	case opBinGet, opLongBinGet, opGet:
		idx, err := u.memoIndex(op == opBinGet, op == opGet)
		if err != nil {
			return err
		}
		if idx < 0 || idx >= len(u.memo) || !u.memo[idx].set {
			return fmt.Errorf("memo %d not set", idx)
		}
		u.push(u.memo[idx].v)
	default:
		return errors.New("unsupported opcode")
	}
	return nil
}

func (u *unpickler) memoIndex(short, text bool) (int, error) {
	if text {
		l, err := u.line()
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(string(bytes.TrimSpace(l)))
	}
	n := 4
	if short {
		n = 1
	}
	v, err := u.uint(n)
	return int(v), err
}

func (u *unpickler) sized(op byte) error {
	// A switch, not a map literal: this runs for every string in a reply, and a map
	// built per call was half of the decoder's allocations.
	var lenSize int
	switch op {
	case opShortBinUni, opShortBinBytes, opShortBinString:
		lenSize = 1
	case opBinUnicode, opBinBytes, opBinString:
		lenSize = 4
	case opBinUnicode8, opBinBytes8, opByteArray8:
		lenSize = 8
	}
	n, err := u.uint(lenSize)
	if err != nil {
		return err
	}
	if n > uint64(len(u.data)) {
		return errTruncated
	}
	b, err := u.take(int(n))
	if err != nil {
		return err
	}
	switch op {
	case opShortBinBytes, opBinBytes, opBinBytes8:
		u.push(ogórek.Bytes(b))
	case opByteArray8:
		u.push(append([]byte(nil), b...))
	default: // str (and py2 str, taken as UTF-8 text)
		u.push(u.str(b))
	}
	return nil
}

// Bounds of the string interning: short strings only (keys and the like), and a table
// that stops growing when full, so a stream of unique values (ids, timestamps) costs a
// bounded amount of memory and the strings that repeat, met first, stay.
const (
	maxInternLen = 40
	maxInterned  = 512
)

// str returns b as a string in an interface value, interned when u has a table.
func (u *unpickler) str(b []byte) any {
	if u.strs == nil || len(b) > maxInternLen {
		return string(b)
	}
	if v, ok := u.strs[string(b)]; ok { // no allocation for the lookup key
		return v
	}
	var v any = string(b)
	if len(u.strs) < maxInterned {
		u.strs[v.(string)] = v
	}
	return v
}

func (u *unpickler) textInt(op byte) error {
	l, err := u.line()
	if err != nil {
		return err
	}
	s := string(bytes.TrimSpace(l))
	if op == opInt && (s == "00" || s == "01") {
		u.push(s == "01") // protocol 0 bools
		return nil
	}
	if op == opLong && len(s) > 0 && s[len(s)-1] == 'L' {
		s = s[:len(s)-1]
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("bad int %q", s)
	}
	u.push(normInt(b))
	return nil
}

// decodeLong reads a little-endian two's complement integer (LONG1/LONG4).
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(v)
}

func normInt(v *big.Int) any {
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of dict items")
	}
	if d.m == nil {
		d.m = make(map[any]any, len(items)/2)
	}
	for i := 0; i < len(items); i += 2 {
		k := items[i]
		switch k.(type) {
		case ogórek.Tuple, *pyList, *pyDict, *pySet, []byte, *Object:
			// Go maps cannot hold these keys; gnrdaemon's dicts are keyed by strings.
			return fmt.Errorf("dict key of type %T not supported", k)
		}
		d.m[k] = items[i+1]
	}
	return nil
}

// construct turns cls(*args) into a Go value: the few stdlib types gnrdaemon sends get
// their Go form, anything else becomes an *Object.
func construct(cls ogórek.Class, args ogórek.Tuple, newobj bool) (any, error) {
	switch cls.Module + "." + cls.Name {
	case "datetime.datetime", "datetime.date":
		if len(args) >= 1 {
			if b, ok := args[0].(ogórek.Bytes); ok {
				return decodeDatetime([]byte(b), cls.Name == "date")
			}
		}
	case "builtins.set", "builtins.frozenset", "__builtin__.set":
		if len(args) == 1 {
			if l, ok := args[0].(*pyList); ok {
				return &pySet{items: l.items}, nil
			}
		}
		if len(args) == 0 {
			return &pySet{}, nil
		}
	case "builtins.bytearray", "__builtin__.bytearray":
		if len(args) == 1 {
			if b, ok := args[0].(ogórek.Bytes); ok {
				return []byte(b), nil
			}
		}
	case "_codecs.encode":
		// protocol <= 2 bytes: _codecs.encode(latin1-decoded str, 'latin1')
		if len(args) == 2 {
			if s, ok := args[0].(string); ok {
				out := make([]byte, 0, len(s))
				for _, r := range s {
					out = append(out, byte(r))
				}
				return ogórek.Bytes(out), nil
			}
		}
	case "copyreg._reconstructor", "copy_reg._reconstructor":
		if len(args) >= 1 {
			if c, ok := args[0].(ogórek.Class); ok {
				return &Object{Class: c}, nil
			}
		}
	case "collections.OrderedDict":
		return &pyDict{}, nil
	}
	return &Object{Class: cls, Args: args}, nil
}

// decodeDatetime reads datetime's pickled state: year(2, big endian), month, day, then
// for datetime hour, minute, second and microseconds (3 bytes, big endian). The fold bit
// rides in the month byte's top bit.
func decodeDatetime(b []byte, dateOnly bool) (time.Time, error) {
	if dateOnly {
		if len(b) != 4 {
			return time.Time{}, fmt.Errorf("date state of %d bytes", len(b))
		}
		return time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]), int(b[3]), 0, 0, 0, 0, time.Local), nil
	}
	if len(b) != 10 {
		return time.Time{}, fmt.Errorf("datetime state of %d bytes", len(b))
	}
	us := int(b[7])<<16 | int(b[8])<<8 | int(b[9])
	return time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]&0x7f), int(b[3]),
		int(b[4]), int(b[5]), int(b[6]), us*1000, time.Local), nil
}

// finishState remembers the objects finish already walked, so cycles through them end
// (lists and dicts carry their own mark). Made on the first object: most replies have none.
type finishState struct {
	seen map[*Object]bool
}

// finish replaces the decoding-time containers with their public forms. A list that
// contains itself ends up holding nil at the cycle.
func finish(v any, st *finishState) any {
	switch x := v.(type) {
	case *pyList:
		if x.done {
			return x.out
		}
		x.done = true
		x.out = make([]any, len(x.items))
		for i, it := range x.items {
			x.out[i] = finish(it, st)
		}
		return x.out
	case *pyDict:
		if x.m == nil {
			x.m = map[any]any{}
		}
		if x.done {
			return x.m
		}
		x.done = true
		for k, it := range x.m {
			if needsFinish(it) { // assigning every value back costs a map write each
				x.m[k] = finish(it, st)
			}
		}
		return x.m
	case *pySet:
		out := make(Set, len(x.items))
		for i, it := range x.items {
			out[i] = finish(it, st)
		}
		return out
	case ogórek.Tuple:
		out := make(ogórek.Tuple, len(x))
		for i, it := range x {
			out[i] = finish(it, st)
		}
		return out
	case *Object:
		if st.seen[x] {
			return x
		}
		if st.seen == nil {
			st.seen = map[*Object]bool{}
		}
		st.seen[x] = true
		x.Args, _ = finish(x.Args, st).(ogórek.Tuple)
		x.State = finish(x.State, st)
		return x
	}
	return v
}

// needsFinish reports whether finish would replace v.
func needsFinish(v any) bool {
	switch v.(type) {
	case *pyList, *pyDict, *pySet, ogórek.Tuple, *Object:
		return true
	}
	return false
}
