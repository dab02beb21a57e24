package phoneindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// A record's attributes are what a source knows of it beyond its name and
// numbers: where it opens in the CRM, the organisation of a person, the
// record's owner, display fields for a caller card. Most records of most
// sources have none, so they are kept as one blob in the arena after the
// name, its length in front (an empty blob costs that one byte), and
// decoded only when a lookup builds its Candidates.
//
// The blob is a sequence of tagged values in ascending tag order, each
// value its length (uvarint) and bytes:
//
//	1 URL    value
//	2 Org    value
//	3 Owner  value
//	4 field  key value   one per entry of Fields, keys ascending
//
// An empty URL, Org or Owner is left out; a field's value may be empty.
// New attributes take new tags, so a blob written before them still reads.
const (
	attrURL = 1 + iota
	attrOrg
	attrOwner
	attrField
)

// maxAttrs bounds a record's blob, as the cache loader does; Put leaves out
// what would go beyond it (fields last, in key order).
const maxAttrs = 64 << 10

var errAttrs = errors.New("record attributes malformed")

// attrs are a record's attributes, as Record and Candidate carry them and
// as dump writes them.
type attrs struct {
	URL    string            `json:"u,omitempty"`
	Org    string            `json:"o,omitempty"`
	Owner  string            `json:"w,omitempty"`
	Fields map[string]string `json:"f,omitempty"`
}

func (a *attrs) empty() bool {
	return a.URL == "" && a.Org == "" && a.Owner == "" && len(a.Fields) == 0
}

// encode returns the blob of a, nil when a is empty. The same attributes
// always give the same bytes.
func (a *attrs) encode() []byte {
	if a.empty() {
		return nil
	}
	var b []byte
	add := func(tag byte, k *string, v string) {
		n := 1 + binary.MaxVarintLen32 + len(v)
		if k != nil {
			n += binary.MaxVarintLen32 + len(*k)
		}
		if len(b)+n > maxAttrs {
			return
		}
		b = append(b, tag)
		if k != nil {
			b = binary.AppendUvarint(b, uint64(len(*k)))
			b = append(b, *k...)
		}
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	for _, x := range []struct {
		tag byte
		v   string
	}{{attrURL, a.URL}, {attrOrg, a.Org}, {attrOwner, a.Owner}} {
		if x.v != "" {
			add(x.tag, nil, x.v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Fields)) {
		add(attrField, &k, a.Fields[k])
	}
	return b
}

// decodeAttrs reads a blob that checkAttrs accepted (the arena holds no
// other), into strings of their own.
func decodeAttrs(b []byte) attrs {
	var a attrs
	if len(b) == 0 {
		return a
	}
	_ = walkAttrs(b, func(tag byte, k, v []byte) {
		switch tag {
		case attrURL:
			a.URL = string(v)
		case attrOrg:
			a.Org = string(v)
		case attrOwner:
			a.Owner = string(v)
		case attrField:
			if a.Fields == nil {
				a.Fields = map[string]string{}
			}
			a.Fields[string(k)] = string(v)
		}
	})
	return a
}

// checkAttrs accepts a blob as encode writes it, so a damaged cache file
// is refused when loaded rather than misread at a lookup.
func checkAttrs(b []byte) error {
	if len(b) > maxAttrs {
		return errAttrs
	}
	return walkAttrs(b, nil)
}

// walkAttrs checks b and calls fn, if set, for each value in order.
func walkAttrs(b []byte, fn func(tag byte, k, v []byte)) error {
	var last byte
	var lastKey []byte
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		if tag < attrURL || tag > attrField || tag < last || tag == last && tag != attrField {
			return errAttrs
		}
		var k, v []byte
		var ok bool
		if tag == attrField {
			if k, b, ok = cutValue(b); !ok || last == attrField && bytes.Compare(k, lastKey) <= 0 {
				return errAttrs
			}
			lastKey = k
		}
		if v, b, ok = cutValue(b); !ok || tag != attrField && len(v) == 0 {
			return errAttrs
		}
		last = tag
		if fn != nil {
			fn(tag, k, v)
		}
	}
	return nil
}

// cutValue splits a length-prefixed value off b.
func cutValue(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
