package pyro

import (
	"fmt"
	"time"
)

// ClientDataChange is gnrdaemon's gnr.web.gnrwebpage.ClientDataChange decoded into Go.
// It lives here until registry-pyro has a package for gnrdaemon's data model.
type ClientDataChange struct {
	Path       string
	Value      any
	Attributes map[string]any
	Reason     string
	Fired      bool
	Delete     bool
	ChangeTS   time.Time
	ChangeIdx  int64
}

// DecodeClientDataChange reads a ClientDataChange object's attributes.
func DecodeClientDataChange(v any) (ClientDataChange, error) {
	obj, ok := v.(*Object)
	if !ok || obj.Class.Name != "ClientDataChange" {
		return ClientDataChange{}, fmt.Errorf("pyro: want a ClientDataChange object, got %T %v", v, v)
	}
	var dc ClientDataChange
	var err error
	str := func(name string) string {
		s, _ := attrOr[string](obj, name)
		return s
	}
	dc.Path = str("path")
	dc.Reason = str("reason")
	dc.Value, _ = obj.Attr("value")
	dc.Fired, _ = attrOr[bool](obj, "fired")
	dc.Delete, _ = attrOr[bool](obj, "delete")
	dc.ChangeTS, _ = attrOr[time.Time](obj, "change_ts")
	dc.ChangeIdx, _ = attrOr[int64](obj, "change_idx")
	if a, ok := obj.Attr("attributes"); ok && a != nil {
		if dc.Attributes, err = Dict(a); err != nil {
			return dc, fmt.Errorf("pyro: ClientDataChange.attributes: %w", err)
		}
	}
	return dc, nil
}

// attrOr returns the attribute as T; a missing attribute or None gives T's zero value.
func attrOr[T any](o *Object, name string) (T, bool) {
	v, _ := o.Attr(name)
	t, ok := v.(T)
	return t, ok
}
