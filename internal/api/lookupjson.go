package api

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/callbridge/callbridge/internal/jsonstr"
)

// lookupBufs are the buffers /api/lookup's answers are encoded into.
var lookupBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeLookup answers res as writeJSON would, byte for byte.
func writeLookup(w http.ResponseWriter, res *LookupResult) {
	bp := lookupBufs.Get().(*[]byte)
	b, ok := appendLookup((*bp)[:0], res)
	if !ok {
		lookupBufs.Put(bp)
		writeJSON(w, http.StatusOK, res)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 { // keep no outsized buffer for the next one
		*bp = b
		lookupBufs.Put(bp)
	}
}

// appendLookup appends r as writeJSON writes it (encoding/json's Encoder
// with two-space indent and HTML escaping, and its final newline), without
// reflection or the second pass that indenting takes: /api/lookup is on a
// call's path. It reports false, having appended nothing, for a result
// encoding/json would refuse (a Modified outside years 0-9999, or with a
// zone offset of a day or more); writeJSON then answers as it always did.
// TestLookupJSON and FuzzLookupJSON hold it to encoding/json's bytes.
func appendLookup(b []byte, r *LookupResult) ([]byte, bool) {
	n0 := len(b)
	b = append(b, "{\n  \"number\": "...)
	b = jsonstr.Append(b, r.Number)
	b = append(b, ",\n  \"found\": "...)
	b = appendBool(b, r.Found)
	if r.Connector != "" {
		b = append(b, ",\n  \"connector\": "...)
		b = jsonstr.Append(b, r.Connector)
	}
	ok := true
	if r.Best != nil {
		b = append(b, ",\n  \"best\": "...)
		if b, ok = appendRecord(b, r.Best, "  "); !ok {
			return b[:n0], false
		}
	}
	if len(r.Candidates) > 0 {
		b = append(b, ",\n  \"candidates\": [\n    "...)
		for i := range r.Candidates {
			if i > 0 {
				b = append(b, ",\n    "...)
			}
			if b, ok = appendRecord(b, &r.Candidates[i], "    "); !ok {
				return b[:n0], false
			}
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}\n"...), true
}

// appendRecord appends rec as an object whose opening brace is already
// indented by in.
func appendRecord(b []byte, rec *Record, in string) ([]byte, bool) {
	field := func(b []byte, name string, first bool) []byte {
		if !first {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = append(b, in...)
		b = append(b, "  \""...)
		b = append(b, name...)
		return append(b, "\": "...)
	}
	b = append(b, '{')
	b = jsonstr.Append(field(b, "entity", true), rec.Entity)
	b = jsonstr.Append(field(b, "entity_set", false), rec.EntitySet)
	b = jsonstr.Append(field(b, "id", false), rec.ID)
	if rec.Name != "" {
		b = jsonstr.Append(field(b, "name", false), rec.Name)
	}
	b = jsonstr.Append(field(b, "type", false), rec.Kind)
	var ok bool
	if b, ok = appendTime(field(b, "modified", false), rec.Modified); !ok {
		return b, false
	}
	b = appendBool(field(b, "exact", false), rec.Exact)
	if rec.Owner != "" {
		b = jsonstr.Append(field(b, "owner", false), rec.Owner)
	}
	if len(rec.Fields) > 0 {
		b = append(field(b, "fields", false), '{')
		keys := sortedKeys(rec.Fields)
		for i, k := range *keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
			b = append(b, in...)
			b = append(b, "    "...)
			b = jsonstr.Append(b, k)
			b = append(b, ": "...)
			b = jsonstr.Append(b, rec.Fields[k])
		}
		keyPool.Put(keys)
		b = append(b, '\n')
		b = append(b, in...)
		b = append(b, "  }"...)
	}
	if rec.URL != "" {
		b = jsonstr.Append(field(b, "url", false), rec.URL)
	}
	b = append(b, '\n')
	b = append(b, in...)
	return append(b, '}'), true
}

var keyPool = sync.Pool{New: func() any { return new([]string) }}

// sortedKeys are m's keys in encoding/json's order (byte-wise), in a
// slice from keyPool.
func sortedKeys(m map[string]string) *[]string {
	keys := keyPool.Get().(*[]string)
	*keys = (*keys)[:0]
	for k := range m {
		*keys = append(*keys, k)
	}
	slices.Sort(*keys)
	return keys
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), or reports false where MarshalJSON fails.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	switch {
	case len(b) < n0+len("9999-") || b[n0+len("9999")] != '-': // not a four-digit year
		return b, false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		if ('0' <= c && c <= '9') || 10*(b[len(b)-5]-'0')+(b[len(b)-4]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}
