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

// Bag is a Genropy gnr.core.gnrbag.Bag decoded into Go: the ordered nodes of one level.
// A node whose value is itself a Bag holds a *Bag.
type Bag struct {
	Nodes []BagNode
}

// BagNode is one node of a Bag: its label, value and attributes.
type BagNode struct {
	Label string
	Value any
	Attr  map[string]any
}

// DecodeBag reads a pickled Bag (an object whose state holds _nodes, a list of BagNode
// objects with label, _value and attr). None decodes to an empty Bag.
func DecodeBag(v any) (*Bag, error) {
	if v == nil {
		return &Bag{}, nil
	}
	obj, ok := v.(*Object)
	if !ok || obj.Class.Name != "Bag" {
		return nil, fmt.Errorf("pyro: want a Bag object, got %T %v", v, v)
	}
	raw, _ := obj.Attr("_nodes")
	nodes, ok := raw.([]any)
	if raw != nil && !ok {
		return nil, fmt.Errorf("pyro: Bag._nodes is %T, not a list", raw)
	}
	b := &Bag{Nodes: make([]BagNode, 0, len(nodes))}
	for i, n := range nodes {
		nobj, ok := n.(*Object)
		if !ok || nobj.Class.Name != "BagNode" {
			return nil, fmt.Errorf("pyro: Bag node %d is %T %v, not a BagNode", i, n, n)
		}
		label, _ := attrOr[string](nobj, "label")
		value, _ := nobj.Attr("_value")
		if vobj, ok := value.(*Object); ok && vobj.Class.Name == "Bag" {
			sub, err := DecodeBag(vobj)
			if err != nil {
				return nil, fmt.Errorf("pyro: Bag node %q: %w", label, err)
			}
			value = sub
		}
		node := BagNode{Label: label, Value: value}
		if a, ok := nobj.Attr("attr"); ok && a != nil {
			attr, err := Dict(a)
			if err != nil {
				return nil, fmt.Errorf("pyro: Bag node %q attributes: %w", label, err)
			}
			node.Attr = attr
		}
		b.Nodes = append(b.Nodes, node)
	}
	return b, nil
}

// Flatten maps the dotted path of every leaf (a node whose value is not a Bag) to its
// value. Empty nested Bags have no leaves and do not appear.
func (b *Bag) Flatten() map[string]any {
	out := map[string]any{}
	b.flattenInto("", out)
	return out
}

func (b *Bag) flattenInto(prefix string, out map[string]any) {
	for _, n := range b.Nodes {
		path := n.Label
		if prefix != "" {
			path = prefix + "." + n.Label
		}
		if sub, ok := n.Value.(*Bag); ok {
			sub.flattenInto(path, out)
			continue
		}
		out[path] = n.Value
	}
}
