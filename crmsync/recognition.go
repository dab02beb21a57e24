package crmsync

import (
	"sort"
	"sync"

	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// Recognizer looks a caller up in a CRM's phone index: from memory, never
// with a CRM round-trip.
type Recognizer interface {
	LookupE164(e164 string) (phoneindex.Match, bool)
	Lookup(number string) (phoneindex.Match, bool)
}

// Recognizers holds the open phone indexes by connector name. A connector
// is built before its index can be opened (the index syncs from the
// connector), so it is handed a Recognizer that answers from the index once
// it is set, and matches nothing until then.
type Recognizers struct {
	mu sync.RWMutex
	m  map[string]*phoneindex.Integration
}

// Set makes in the index of connector name.
func (r *Recognizers) Set(name string, in *phoneindex.Integration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*phoneindex.Integration{}
	}
	r.m[name] = in
}

// Get returns connector name's index, nil when it has none.
func (r *Recognizers) Get(name string) *phoneindex.Integration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name]
}

// All returns every index, ordered by name.
func (r *Recognizers) All() []*phoneindex.Integration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*phoneindex.Integration, 0, len(r.m))
	for _, in := range r.m {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// For returns connector name's Recognizer.
func (r *Recognizers) For(name string) Recognizer { return lateRecognizer{r, name} }

type lateRecognizer struct {
	r    *Recognizers
	name string
}

func (l lateRecognizer) LookupE164(e164 string) (phoneindex.Match, bool) {
	if in := l.r.Get(l.name); in != nil {
		return in.LookupE164(e164)
	}
	return phoneindex.Match{}, false
}

func (l lateRecognizer) Lookup(number string) (phoneindex.Match, bool) {
	if in := l.r.Get(l.name); in != nil {
		return in.Lookup(number)
	}
	return phoneindex.Match{}, false
}
