package phoneindex

// The records' further fields (Entity.Fields) are kept beside the index's
// records, on the heap, only for records that have some: most setups
// list none, and the records themselves stay as compact as the index
// makes them. A snapshot carries them as a list of their own.

// fieldKey names one record: its entity's index and its id.
type fieldKey struct {
	entity uint16
	id     string
}

// setFields keeps what of fields the entity lists and is not empty, or
// forgets the record's fields (nil, or nothing left).
func (ix *Index) setFields(ei uint16, id string, fields map[string]string) {
	var keep map[string]string
	for _, f := range ix.entities[ei].Fields {
		if v := fields[f]; v != "" {
			if keep == nil {
				keep = make(map[string]string, len(ix.entities[ei].Fields))
			}
			keep[f] = v
		}
	}
	k := fieldKey{ei, id}
	switch {
	case keep != nil && ix.fields == nil:
		ix.fields = map[fieldKey]map[string]string{k: keep}
	case keep != nil:
		ix.fields[k] = keep
	default:
		delete(ix.fields, k)
	}
}

// fieldsOf is the record's fields (shared: not to be modified), nil when
// it has none.
func (ix *Index) fieldsOf(ei uint16, id string) map[string]string { return ix.fields[fieldKey{ei, id}] }

// storedFields is one record's fields as a snapshot keeps them.
type storedFields struct {
	Entity string            `json:"e"`
	ID     string            `json:"id"`
	Fields map[string]string `json:"f"`
}

func (ix *Index) dumpFields() []storedFields {
	if len(ix.fields) == 0 {
		return nil
	}
	out := make([]storedFields, 0, len(ix.fields))
	for k, f := range ix.fields {
		out = append(out, storedFields{Entity: ix.entities[k.entity].Name, ID: k.id, Fields: f})
	}
	return out
}

// restoreFields puts back what dumpFields wrote, for records the index
// holds, of entities still configured, and the fields they still list.
func (ix *Index) restoreFields(fs []storedFields) {
	for _, f := range fs {
		ei, ok := ix.entIdx[f.Entity]
		if !ok {
			continue
		}
		if _, held := ix.byID[ei][f.ID]; held {
			ix.setFields(ei, f.ID, f.Fields)
		}
	}
}
