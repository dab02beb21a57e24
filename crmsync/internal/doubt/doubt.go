// Package doubt remembers which activities may already be in a CRM that
// offers no upsert for them: a create whose answer was lost (a timeout, a
// dropped connection, a 5xx) may have been carried out. Before creating
// such an activity again, the connector looks for it by a marker it wrote
// into the record (Salesforce's CallObject, a HubSpot property, a note),
// so a lost answer never becomes a second record.
//
// An activity is in doubt when this process lost the answer to its create,
// or when it ended more than Age ago: a job that old may have been pushed
// by a process that crashed (its lease ran out and the job was claimed
// again), and this process cannot know. Fresh activities, the common case,
// cost no lookup.
//
// It also remembers what this process wrote, so pushing a written activity
// again (an Ack that did not reach the store) costs no request at all.
package doubt

import (
	"sync"
	"time"
)

// DefaultAge is the Age of a zero Tracker: well under the delivery lease
// (2 minutes by default), well over the seconds a fresh activity waits.
const DefaultAge = time.Minute

// maxMarks bounds the memory of lost answers; the oldest go first (they
// are old enough by then to be in doubt by Age anyway).
const maxMarks = 100_000

// Tracker is safe for concurrent use. The zero value is ready.
type Tracker struct {
	// Age: an activity that ended longer ago is in doubt. 0: DefaultAge.
	Age time.Duration
	// Now is the clock (tests). Nil: time.Now.
	Now func() time.Time

	mu      sync.Mutex
	marks   map[string]time.Time
	order   []string
	written map[string]bool
	worder  []string
}

func (t *Tracker) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Mark records that the outcome of a create for id is unknown.
func (t *Tracker) Mark(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.marks == nil {
		t.marks = map[string]time.Time{}
	}
	if _, ok := t.marks[id]; !ok {
		t.order = append(t.order, id)
	}
	t.marks[id] = t.now()
	for len(t.marks) > maxMarks && len(t.order) > 0 {
		delete(t.marks, t.order[0])
		t.order = t.order[1:]
	}
}

// Wrote records that id is in the CRM (created, or found there).
func (t *Tracker) Wrote(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear(id)
	if t.written == nil {
		t.written = map[string]bool{}
	}
	if !t.written[id] {
		t.written[id] = true
		t.worder = append(t.worder, id)
	}
	for len(t.worder) > maxMarks {
		delete(t.written, t.worder[0])
		t.worder = t.worder[1:]
	}
}

// Written reports whether this process wrote id (as far as it remembers).
func (t *Tracker) Written(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written[id]
}

// Clear records that id's outcome is known: refused for good.
func (t *Tracker) Clear(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clear(id)
}

func (t *Tracker) clear(id string) {
	delete(t.marks, id)
	if len(t.order) > 2*len(t.marks)+64 {
		kept := t.order[:0]
		for _, k := range t.order {
			if _, ok := t.marks[k]; ok {
				kept = append(kept, k)
			}
		}
		t.order = kept
	}
}

// Suspect reports whether the activity id, which ended at ended, may be in
// the CRM already, and since when it may have been (for CRMs whose search
// lags behind their writes).
func (t *Tracker) Suspect(id string, ended time.Time) (since time.Time, ok bool) {
	t.mu.Lock()
	at, marked := t.marks[id]
	t.mu.Unlock()
	if marked {
		return at, true
	}
	age := t.Age
	if age == 0 {
		age = DefaultAge
	}
	if !ended.IsZero() && t.now().Sub(ended) > age {
		return ended, true
	}
	return time.Time{}, false
}
