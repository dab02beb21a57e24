package phoneindex

import (
	"sort"
	"sync"
)

// Recognizer looks a caller up in a CRM's phone index: from memory, never
// with a CRM round-trip.
type Recognizer interface {
	LookupE164(e164 string) (Match, bool)
	Lookup(number string) (Match, bool)
}

// Set holds the open phone indexes by connector name. A connector is built
// before its index can be opened (the index syncs from the connector), so
// it is handed a Recognizer that answers from the index once it is set,
// and matches nothing until then.
type Set struct {
	mu sync.RWMutex
	m  map[string]*Integration
	// all is m's indexes ordered by name, made anew by every Set so that
	// All, asked on every lookup, hands it out without copying or sorting.
	all []*Integration
}

// Set makes in the index of connector name.
func (r *Set) Set(name string, in *Integration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*Integration{}
	}
	r.m[name] = in
	all := make([]*Integration, 0, len(r.m))
	for _, in := range r.m {
		all = append(all, in)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	r.all = all
}

// Get returns connector name's index, nil when it has none.
func (r *Set) Get(name string) *Integration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name]
}

// All returns every index, ordered by name. The slice is shared: read
// it, never change it.
func (r *Set) All() []*Integration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all
}

// For returns connector name's Recognizer.
func (r *Set) For(name string) Recognizer { return lateRecognizer{r, name} }

type lateRecognizer struct {
	r    *Set
	name string
}

func (l lateRecognizer) LookupE164(e164 string) (Match, bool) {
	if in := l.r.Get(l.name); in != nil {
		return in.LookupE164(e164)
	}
	return Match{}, false
}

func (l lateRecognizer) Lookup(number string) (Match, bool) {
	if in := l.r.Get(l.name); in != nil {
		return in.Lookup(number)
	}
	return Match{}, false
}
