package phoneindex

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/callbridge/callbridge/internal/phone"
)

// Kind says whether a record is a person or an organisation. People win
// ties: a caller is more likely to be a contact than the company switchboard
// that shares a number with them.
type Kind string

const (
	Person       Kind = "person"
	Organisation Kind = "entity"
)

// Entity describes one CRM table searched for numbers, in the terms a CTI
// admin knows.
type Entity struct {
	// Name is the logical name ("contact"), used in "regarding" bindings.
	Name string `yaml:"name" json:"name"`
	// EntitySet is the plural the API addresses ("contacts").
	EntitySet string `yaml:"entity_set" json:"entity_set"`
	// Key is the primary key attribute ("contactid").
	Key string `yaml:"key" json:"key"`
	// NameField holds the record's display name ("fullname").
	NameField string `yaml:"name_field" json:"name_field"`
	// PhoneFields are the attributes holding numbers ("telephone1",
	// "mobilephone").
	PhoneFields []string `yaml:"phone_fields" json:"phone_fields"`
	// Fields are further attributes fetched with each record and kept
	// in the index beside it ("emailaddress1", "accountnumber"): a lookup
	// returns them (the caller card, /api/lookup, scripts' $(Field)).
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
	Kind   Kind     `yaml:"type" json:"type"`
}

// DefaultEntities are Dynamics 365's standard tables with numbers.
func DefaultEntities() []Entity {
	return []Entity{
		{Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "fullname",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3", "mobilephone"}, Kind: Person},
		{Name: "lead", EntitySet: "leads", Key: "leadid", NameField: "fullname",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3", "mobilephone"}, Kind: Person},
		{Name: "account", EntitySet: "accounts", Key: "accountid", NameField: "name",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3"}, Kind: Organisation},
	}
}

// Validate checks the entity, naming fields.
func (e Entity) Validate() error {
	var errs []error
	for _, f := range []struct{ key, v string }{{"name", e.Name}, {"entity_set", e.EntitySet}, {"key", e.Key}, {"name_field", e.NameField}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s: required", f.key))
		} else if !identifier(f.v) {
			errs = append(errs, fmt.Errorf("%s: %q is not an attribute or table name", f.key, f.v))
		}
	}
	if len(e.PhoneFields) == 0 {
		errs = append(errs, errors.New("phone_fields: at least one required"))
	}
	for i, f := range append(slices.Clone(e.PhoneFields), e.Fields...) {
		if !identifier(f) {
			errs = append(errs, fmt.Errorf("fields[%d]: %q is not an attribute name", i, f))
		}
	}
	if e.Kind != Person && e.Kind != Organisation {
		errs = append(errs, fmt.Errorf("type: %q: want %q or %q", e.Kind, Person, Organisation))
	}
	return errors.Join(errs...)
}

// identifier accepts what Dataverse logical names are made of, which also
// keeps them safe to put in a query string unescaped.
func identifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Record is one CRM record as a Source delivers it.
type Record struct {
	Entity   string    `json:"e"` // Entity.Name
	ID       string    `json:"id"`
	Name     string    `json:"n,omitempty"`
	Phones   []string  `json:"p,omitempty"` // as the CRM holds them
	Modified time.Time `json:"m"`
	// Fields are the values of Entity.Fields the record has, as text;
	// empty ones are left out.
	Fields map[string]string `json:"f,omitempty"`
}

// Candidate is a record that holds a looked-up number.
type Candidate struct {
	Entity    string    `json:"entity"`
	EntitySet string    `json:"entity_set"`
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Kind      Kind      `json:"type"`
	Modified  time.Time `json:"modified"`
	// Exact is true for an E.164 match, false for a last-digits match.
	Exact bool `json:"exact"`
	// Fields are the record's values of its entity's fields (shared with
	// the index: do not modify).
	Fields map[string]string `json:"fields,omitempty"`
}

// Match is the answer to a lookup: the chosen record and every candidate,
// best first (Candidates[0] == Best).
type Match struct {
	Best       Candidate   `json:"best"`
	Candidates []Candidate `json:"candidates"`
}

// DefaultTailDigits is how many trailing significant digits identify a
// number the CRM holds in a form that does not normalise.
const DefaultTailDigits = 9

// minTail is the fewest significant digits a last-digits key is made of:
// shorter strings (extensions, short codes) would match far too much.
const minTail = 6

// Options shape an index.
type Options struct {
	// Region is the default region (ISO 3166 "FI") for numbers written
	// in national form, both in the CRM and in lookups.
	Region string
	// TailDigits: how many trailing significant digits are compared for
	// CRM numbers that do not normalise. 0 means DefaultTailDigits; at
	// most 15.
	TailDigits int
}

// Index is an immutable-shape, mutable-content map from numbers to records.
// It is not safe for concurrent use on its own: Integration guards it.
type Index struct {
	norm     phone.Normalizer
	tail     int
	entities []Entity
	entIdx   map[string]uint16

	recs  []rec
	free  []uint32
	byID  []map[string]uint32 // per entity: id -> slot (keys share rec.id)
	live  int
	exact map[uint64]uint32 // E.164 digits -> slot, or multiBit|index into multi
	tails map[uint64]uint32 // length<<56 | last digits -> same
	multi [][]uint32
	mfree []uint32

	numbers int // keys held (exact + tail, with repeats per record counted once)

	// fields are the records' Entity.Fields values, beside the records
	// rather than in them (fields.go).
	fields map[fieldKey]map[string]string
}

// multiBit marks a map value that indexes multi rather than recs.
const multiBit = 1 << 31

type rec struct {
	id       string
	name     string
	modified int64 // unix nanoseconds
	keys     []uint64
	tails    int // keys[len(keys)-tails:] are tail keys
	entity   uint16
	live     bool
}

// NewIndex returns an empty index over entities.
func NewIndex(entities []Entity, opts Options) (*Index, error) {
	if opts.TailDigits == 0 {
		opts.TailDigits = DefaultTailDigits
	}
	if opts.TailDigits < minTail || opts.TailDigits > 15 {
		return nil, fmt.Errorf("tail_digits: %d: want %d to 15", opts.TailDigits, minTail)
	}
	if opts.Region != "" && !phone.SupportedRegion(opts.Region) {
		return nil, fmt.Errorf("region: %q is not a supported region", opts.Region)
	}
	if len(entities) == 0 || len(entities) > 1<<15 {
		return nil, errors.New("entities: at least one required")
	}
	ix := &Index{
		norm:     phone.NewNormalizer(opts.Region),
		tail:     opts.TailDigits,
		entities: slices.Clone(entities),
		entIdx:   make(map[string]uint16, len(entities)),
		byID:     make([]map[string]uint32, len(entities)),
		exact:    make(map[uint64]uint32),
		tails:    make(map[uint64]uint32),
	}
	for i, e := range entities {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("entities[%d]: %w", i, err)
		}
		if _, dup := ix.entIdx[e.Name]; dup {
			return nil, fmt.Errorf("entities[%d].name: %q listed twice", i, e.Name)
		}
		ix.entIdx[e.Name] = uint16(i)
		ix.byID[i] = make(map[string]uint32)
	}
	return ix, nil
}

// Records is how many records hold at least one usable number.
func (ix *Index) Records() int { return ix.live }

// Numbers is how many (record, number) pairs are indexed.
func (ix *Index) Numbers() int { return ix.numbers }

// Put adds r or replaces the record with its entity and id. A record
// without a usable number is removed. It reports false for a record of an
// unknown entity or without an id, which is skipped.
func (ix *Index) Put(r Record) bool {
	ei, ok := ix.entIdx[r.Entity]
	if !ok || r.ID == "" {
		return false
	}
	if slot, ok := ix.byID[ei][r.ID]; ok {
		ix.remove(ei, slot)
	}
	var exact, tails []uint64
	for _, p := range r.Phones {
		if c := compact(p); isE164(c) {
			// Already international: skip the parser, which is most of
			// a sync's CPU time.
			if k, ok := digitsKey(c[1:]); ok && !slices.Contains(exact, k) {
				exact = append(exact, k)
			}
			continue
		}
		if e164, ok := ix.norm.Normalize(p); ok {
			if k, ok := digitsKey(e164[1:]); ok && !slices.Contains(exact, k) {
				exact = append(exact, k)
			}
			continue
		}
		if k, ok := tailKey(digitsOf(p), ix.tail); ok && !slices.Contains(tails, k) {
			tails = append(tails, k)
		}
	}
	if len(exact)+len(tails) == 0 {
		return true
	}
	ix.insert(ei, r.ID, r.Name, r.Modified.UnixNano(), append(exact, tails...), len(tails))
	ix.setFields(ei, r.ID, r.Fields)
	return true
}

func (ix *Index) insert(ei uint16, id, name string, modified int64, keys []uint64, tails int) {
	var slot uint32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		slot = uint32(len(ix.recs))
		ix.recs = append(ix.recs, rec{})
	}
	ix.recs[slot] = rec{id: id, name: name, modified: modified, keys: keys, tails: tails, entity: ei, live: true}
	ix.byID[ei][id] = slot
	ix.live++
	for i, k := range keys {
		if i < len(keys)-tails {
			ix.link(ix.exact, k, slot)
		} else {
			ix.link(ix.tails, k, slot)
		}
	}
	ix.numbers += len(keys)
}

// Delete removes the record of entity with id, if indexed.
func (ix *Index) Delete(entity, id string) {
	ei, ok := ix.entIdx[entity]
	if !ok {
		return
	}
	if slot, ok := ix.byID[ei][id]; ok {
		ix.remove(ei, slot)
	}
}

func (ix *Index) remove(ei uint16, slot uint32) {
	r := &ix.recs[slot]
	delete(ix.byID[ei], r.id)
	ix.setFields(ei, r.id, nil)
	ix.live--
	for i, k := range r.keys {
		if i < len(r.keys)-r.tails {
			ix.unlink(ix.exact, k, slot)
		} else {
			ix.unlink(ix.tails, k, slot)
		}
	}
	ix.numbers -= len(r.keys)
	*r = rec{}
	ix.free = append(ix.free, slot)
}

func (ix *Index) link(m map[uint64]uint32, k uint64, slot uint32) {
	v, ok := m[k]
	switch {
	case !ok:
		m[k] = slot
	case v&multiBit != 0:
		i := v &^ multiBit
		ix.multi[i] = append(ix.multi[i], slot)
	default:
		var i uint32
		if n := len(ix.mfree); n > 0 {
			i = ix.mfree[n-1]
			ix.mfree = ix.mfree[:n-1]
			ix.multi[i] = append(ix.multi[i][:0], v, slot)
		} else {
			i = uint32(len(ix.multi))
			ix.multi = append(ix.multi, []uint32{v, slot})
		}
		m[k] = i | multiBit
	}
}

func (ix *Index) unlink(m map[uint64]uint32, k uint64, slot uint32) {
	v, ok := m[k]
	if !ok {
		return
	}
	if v&multiBit == 0 {
		if v == slot {
			delete(m, k)
		}
		return
	}
	i := v &^ multiBit
	l := slices.DeleteFunc(ix.multi[i], func(s uint32) bool { return s == slot })
	ix.multi[i] = l
	if len(l) == 1 {
		m[k] = l[0]
		ix.multi[i] = l[:0]
		ix.mfree = append(ix.mfree, i)
	}
}

// Lookup finds the records holding number, which may be in any form the PBX
// presents (national, international, E.164). It never calls the CRM.
func (ix *Index) Lookup(number string) (Match, bool) {
	if isE164(number) {
		return ix.LookupE164(number) // already normal: skip the slow parser
	}
	e164, ok := ix.norm.Normalize(number)
	if !ok {
		return Match{}, false
	}
	return ix.LookupE164(e164)
}

// LookupE164 is Lookup for a number already in E.164 form (an activity's
// remote_e164), skipping the normaliser.
func (ix *Index) LookupE164(e164 string) (Match, bool) {
	if !isE164(e164) {
		return Match{}, false
	}
	var slots [8]uint32
	found := slots[:0]
	var exactN int
	if k, ok := digitsKey(e164[1:]); ok {
		found = ix.collect(found, ix.exact, k)
		exactN = len(found)
	}
	if len(ix.tails) > 0 {
		if k, ok := tailKey(nationalSignificant(e164[1:]), ix.tail); ok {
			found = ix.collect(found, ix.tails, k)
		}
	}
	if len(found) == 0 {
		return Match{}, false
	}
	cands := make([]Candidate, 0, len(found))
	for i, s := range found {
		r := &ix.recs[s]
		if i >= exactN && slices.Contains(found[:exactN], s) {
			continue // already matched exactly
		}
		e := &ix.entities[r.entity]
		cands = append(cands, Candidate{
			Entity: e.Name, EntitySet: e.EntitySet, ID: r.id, Name: r.name, Kind: e.Kind,
			Modified: time.Unix(0, r.modified).UTC(), Exact: i < exactN, Fields: ix.fieldsOf(r.entity, r.id),
		})
	}
	rank(cands, ix.entIdx)
	return Match{Best: cands[0], Candidates: cands}, true
}

func (ix *Index) collect(dst []uint32, m map[uint64]uint32, k uint64) []uint32 {
	v, ok := m[k]
	switch {
	case !ok:
		return dst
	case v&multiBit != 0:
		return append(dst, ix.multi[v&^multiBit]...)
	default:
		return append(dst, v)
	}
}

// rank orders candidates best first: exact matches, people, most recently
// modified, then entity order and id so that equal records always come out
// the same way.
func rank(c []Candidate, entIdx map[string]uint16) {
	slices.SortStableFunc(c, func(a, b Candidate) int {
		if a.Exact != b.Exact {
			if a.Exact {
				return -1
			}
			return 1
		}
		if a.Kind != b.Kind {
			if a.Kind == Person {
				return -1
			}
			return 1
		}
		if d := b.Modified.Compare(a.Modified); d != 0 {
			return d
		}
		if d := cmp.Compare(entIdx[a.Entity], entIdx[b.Entity]); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// storedRecord is a record as persisted: its keys rather than the CRM's
// text, so a restart rebuilds exactly the index it had.
type storedRecord struct {
	Entity   string   `json:"e"`
	ID       string   `json:"id"`
	Name     string   `json:"n,omitempty"`
	Modified int64    `json:"m"`
	Exact    []uint64 `json:"x,omitempty"`
	Tails    []uint64 `json:"t,omitempty"`
}

func (ix *Index) dump() []storedRecord {
	out := make([]storedRecord, 0, ix.live)
	for _, r := range ix.recs {
		if !r.live {
			continue
		}
		n := len(r.keys) - r.tails
		out = append(out, storedRecord{Entity: ix.entities[r.entity].Name, ID: r.id, Name: r.name, Modified: r.modified,
			Exact: r.keys[:n:n], Tails: r.keys[n:]})
	}
	return out
}

// restore puts back what dump wrote, skipping records of entities no
// longer configured.
func (ix *Index) restore(recs []storedRecord) {
	for _, r := range recs {
		ei, ok := ix.entIdx[r.Entity]
		if !ok || r.ID == "" || len(r.Exact)+len(r.Tails) == 0 {
			continue
		}
		if slot, ok := ix.byID[ei][r.ID]; ok {
			ix.remove(ei, slot)
		}
		keys := make([]uint64, 0, len(r.Exact)+len(r.Tails))
		keys = append(append(keys, r.Exact...), r.Tails...)
		ix.insert(ei, r.ID, r.Name, r.Modified, keys, len(r.Tails))
	}
}

func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitsKey packs up to 15 digits without a leading zero into a number.
func digitsKey(d string) (uint64, bool) {
	if d == "" || len(d) > 15 || d[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(d, 10, 64)
	return v, err == nil
}

// tailKey keys the last n significant digits of d (leading zeros, the
// trunk or international prefix, are not significant). A number with fewer
// than n but at least minTail significant digits keys them all; the length
// is part of the key so "0123456" and "123456" differ.
func tailKey(d string, n int) (uint64, bool) {
	d = strings.TrimLeft(d, "0")
	if len(d) < minTail {
		return 0, false
	}
	if len(d) > n {
		d = d[len(d)-n:]
	}
	v, err := strconv.ParseUint(d, 10, 64)
	if err != nil {
		return 0, false
	}
	return uint64(len(d))<<56 | v, true
}

// compact drops the visual separators people type into numbers.
func compact(s string) string {
	if len(s) > 32 {
		return s
	}
	var b [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '-', '.', '(', ')', '/':
		default:
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// digitsOf keeps the digits of s, at most 32 (more is not a number).
func digitsOf(s string) string {
	var b [32]byte
	n := 0
	for i := 0; i < len(s) && n < len(b); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// nationalSignificant strips the country code from E.164 digits. Country
// codes are prefix-free, so the first known prefix is the one.
func nationalSignificant(d string) string {
	for l := 1; l <= 3 && l < len(d); l++ {
		cc, _ := strconv.Atoi(d[:l])
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) > 0 {
			return d[l:]
		}
	}
	return d
}
