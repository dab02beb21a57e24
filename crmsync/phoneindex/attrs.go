package phoneindex

// A record's owner and field values repeat across records (a few hundred
// owners, a handful of category codes among a million records), so the
// index keeps one copy of each string.

// interner hands out one shared copy of equal strings.
type interner map[string]string

func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	if *in == nil {
		*in = interner{}
	}
	if v, ok := (*in)[s]; ok {
		return v
	}
	(*in)[s] = s
	return s
}

// attrsOf orders fields' values as entity ei's Fields; nil when the entity
// keeps none or the record has none of them.
func (ix *Index) attrsOf(ei uint16, fields map[string]string) []string {
	names := ix.entities[ei].Fields
	if len(names) == 0 || len(fields) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fields[n]
	}
	return out
}

// setAttrs stores owner and attrs (interned) on the record in slot.
func (ix *Index) setAttrs(slot uint32, owner string, attrs []string) {
	r := &ix.recs[slot]
	r.owner = ix.vals.get(owner)
	if len(attrs) == 0 {
		r.attrs = nil
		return
	}
	r.attrs = make([]string, len(attrs))
	for i, v := range attrs {
		r.attrs[i] = ix.vals.get(v)
	}
}

// fieldMap is a record's attrs by field name, nil when it has none.
func fieldMap(names, attrs []string) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for i, n := range names {
		if i < len(attrs) && attrs[i] != "" {
			m[n] = attrs[i]
		}
	}
	return m
}
