package registrymem

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/gnrhost/gnrhost/abi"
)

// Deep copies: the registry never shares a byte slice, map or slice with its callers, so a
// caller mutating what it passed or got back cannot corrupt the registers or race with them.

func copyRaw(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	return slices.Clone(v)
}

func copyStore(s map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s))
	for k, v := range s {
		out[k] = copyRaw(v)
	}
	return out
}

func copyItem(it abi.Item) abi.Item {
	it.SubscribedTables = slices.Clone(it.SubscribedTables)
	if it.Data != nil {
		it.Data = copyStore(it.Data)
	}
	return it
}

func copyChange(c abi.Datachange) abi.Datachange {
	c.Value = copyRaw(c.Value)
	c.Attributes = maps.Clone(c.Attributes)
	return c
}

func copyEvents(evs []abi.DbEvent) []abi.DbEvent {
	out := make([]abi.DbEvent, len(evs))
	for i, ev := range evs {
		ev.Data = copyRaw(ev.Data)
		out[i] = ev
	}
	return out
}

func copyNotice(n abi.DbEventNotice) abi.DbEventNotice {
	n.Events = copyEvents(n.Events)
	n.PageIDs = slices.Clone(n.PageIDs)
	return n
}

// Validation of what callers hand in; every failure wraps ErrInvalid.

func checkPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty store path: %w", abi.ErrInvalid)
	}
	return nil
}

func checkValue(path string, v json.RawMessage) error {
	if !json.Valid(v) {
		return fmt.Errorf("value at %q is not valid JSON: %w", path, abi.ErrInvalid)
	}
	return nil
}

func checkStore(s map[string]json.RawMessage) error {
	for k, v := range s {
		if err := checkPath(k); err != nil {
			return err
		}
		if err := checkValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// dedupTables keeps the first occurrence of each table, in order.
func dedupTables(tables []string) ([]string, error) {
	out := make([]string, 0, len(tables))
	for _, t := range tables {
		if t == "" {
			return nil, fmt.Errorf("empty table name: %w", abi.ErrInvalid)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
