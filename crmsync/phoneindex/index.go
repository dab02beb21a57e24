package phoneindex

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

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
	// Fields are further attributes to select, for the source's own use
	// (the index does not read them): Dynamics keeps their values as the
	// record's Fields (routing rules on a record field); sources whose
	// records have no single name attribute (HubSpot contacts) append
	// them to the name; a type whose source reads none refuses them.
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
	// OrgField, for people, is the attribute holding the id of their
	// organisation (a contact's account), so an activity regarding the
	// person can be linked to the organisation too. Optional.
	OrgField string `yaml:"org_field,omitempty" json:"org_field,omitempty"`
	// OwnerField is the attribute holding the record's owner
	// ("_ownerid_value"), kept as the record's Owner for routing a caller
	// to their owner. Empty: no owner (tables owned by the organisation
	// have none).
	OwnerField string `yaml:"owner_field,omitempty" json:"owner_field,omitempty"`
	Kind       Kind   `yaml:"type" json:"type"`
}

// DefaultOwnerField is Dataverse's owner lookup of user-owned tables.
const DefaultOwnerField = "_ownerid_value"

// DefaultEntities are Dynamics 365's standard tables with numbers.
func DefaultEntities() []Entity {
	return []Entity{
		{Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "fullname",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3", "mobilephone"}, OwnerField: DefaultOwnerField, Kind: Person},
		{Name: "lead", EntitySet: "leads", Key: "leadid", NameField: "fullname",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3", "mobilephone"}, OwnerField: DefaultOwnerField, Kind: Person},
		{Name: "account", EntitySet: "accounts", Key: "accountid", NameField: "name",
			PhoneFields: []string{"telephone1", "telephone2", "telephone3"}, OwnerField: DefaultOwnerField, Kind: Organisation},
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
	if e.OrgField != "" && !identifier(e.OrgField) {
		errs = append(errs, fmt.Errorf("org_field: %q is not an attribute name", e.OrgField))
	}
	if e.OwnerField != "" && !identifier(e.OwnerField) {
		errs = append(errs, fmt.Errorf("owner_field: %q is not an attribute name", e.OwnerField))
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

	// Optional attributes, handed to lookups as they were given (at most
	// 64 KiB of them in all: Put leaves out what goes beyond, Fields
	// last, in key order).

	// URL opens the record in the CRM (screen pops).
	URL string `json:"u,omitempty"`
	// Org is the id of a person's organisation (a contact's account;
	// Entity.OrgField).
	Org string `json:"o,omitempty"`
	// Owner is the id of the CRM user who owns the record (routing a
	// caller to their account manager).
	Owner string `json:"w,omitempty"`
	// Fields are further values to show about the record (a caller card),
	// by the name the source gives them.
	Fields map[string]string `json:"f,omitempty"`
}

func (r *Record) attrs() attrs {
	return attrs{URL: r.URL, Org: r.Org, Owner: r.Owner, Fields: r.Fields}
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
	// The record's attributes, when the source gave them (see Record).
	URL    string            `json:"url,omitempty"`
	Org    string            `json:"org,omitempty"`
	Owner  string            `json:"owner,omitempty"`
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
// Its records live in flat arrays outside the Go heap (store.go).
type Index struct {
	norm     phone.Normalizer
	tail     int
	entities []Entity
	entIdx   map[string]uint16

	mem   *storage
	spill map[string]uint32 // byID entries whose hash another id took
	multi [][]uint32
	mfree []uint32

	live    int // records
	numbers int // keys held (exact + tail, with repeats per record counted once)
	dead    int // records replaced or deleted since the arrays were built
}

// storage is everything the index keeps off the heap.
type storage struct {
	arena arena
	recs  vec[rec]
	keys  vec[uint64]
	exact table // E.164 digits -> slot, or multiBit|index into multi
	tails table // length<<56 | last digits -> same
	byID  table // idHash -> slot
}

func (m *storage) free() {
	m.arena.free()
	m.recs.free()
	m.keys.free()
	m.exact.free()
	m.tails.free()
	m.byID.free()
}

// multiBit marks a table value that indexes multi rather than recs.
const multiBit = 1 << 31

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
		mem:      &storage{},
	}
	// The arrays go when the index does (a full sync replaces it whole).
	runtime.AddCleanup(ix, func(m *storage) { m.free() }, ix.mem)
	for i, e := range entities {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("entities[%d]: %w", i, err)
		}
		if _, dup := ix.entIdx[e.Name]; dup {
			return nil, fmt.Errorf("entities[%d].name: %q listed twice", i, e.Name)
		}
		ix.entIdx[e.Name] = uint16(i)
	}
	return ix, nil
}

// Compact rebuilds the arrays to the size of what they hold: after a full
// sync, whose growth left up to half of them spare.
func (ix *Index) Compact() { ix.rebuild() }

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
	id := makeStoredID(r.ID)
	if slot, ok := ix.findID(ei, &id); ok {
		ix.remove(slot)
	}
	var exact, tails []uint64
	for _, p := range r.Phones {
		if c := compact(p); isE164(c) {
			// Already international: skip the parser.
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
	a := r.attrs()
	ix.insert(ei, &id, []byte(r.Name), a.encode(), r.Modified.UnixNano(), append(exact, tails...), len(tails))
	return true
}

// findID finds the live record of entity ei with id.
func (ix *Index) findID(ei uint16, id *storedID) (uint32, bool) {
	if len(ix.spill) > 0 {
		if slot, ok := ix.spill[spillKey(ei, id)]; ok {
			return slot, true
		}
	}
	slot, ok := ix.mem.byID.get(idHash(ei, id.guid, id.bytes()))
	if !ok || !ix.sameID(slot, ei, id) {
		return 0, false
	}
	return slot, true
}

func (ix *Index) sameID(slot uint32, ei uint16, id *storedID) bool {
	r := ix.mem.recs.all()[slot]
	if r.entity != ei || (r.flags&recGUID != 0) != id.guid {
		return false
	}
	b, _ := ix.mem.arena.idBytes(r.str, id.guid)
	return string(b) == string(id.bytes())
}

func spillKey(ei uint16, id *storedID) string {
	return string([]byte{byte(ei), byte(ei >> 8)}) + string(id.bytes())
}

// appendRecord stores a record without indexing it: loading stores them
// all, then indexes them in one go (indexAppended).
func (ix *Index) appendRecord(ei uint16, id *storedID, name, attrs []byte, modified int64, keys []uint64, tails int) {
	m := ix.mem
	r := rec{modified: modified, entity: ei, nkeys: uint16(len(keys)), tails: uint16(tails), flags: recLive}
	if id.guid {
		r.flags |= recGUID
	}
	r.str = m.arena.put(id.guid, id.bytes(), name, attrs)
	m.keys.reserve(len(keys))
	r.key = uint32(m.keys.n)
	m.keys.n += len(keys)
	copy(m.keys.all()[r.key:], keys)
	m.recs.push(r)
}

// indexAppended puts the records stored by appendRecord into the tables.
// The tables are far larger than the caches, so each insert would wait
// for memory; they go in batches whose slots are first all read, so the
// waits overlap. It fails, changing nothing it has not already, if a
// record is there twice.
func (ix *Index) indexAppended(from int) error {
	m := ix.mem
	recs, keys := m.recs.all(), m.keys.all()
	const batch = 64
	var hs [batch]uint64
	var sink uint32
	for b := from; b < len(recs); b += batch {
		e := min(b+batch, len(recs))
		ids, exact := m.byID.slots.all(), m.exact.slots.all()
		for i := b; i < e; i++ {
			r := &recs[i]
			raw, _ := m.arena.idBytes(r.str, r.flags&recGUID != 0)
			hs[i-b] = idHash(r.entity, r.flags&recGUID != 0, raw)
			if len(ids) > 0 {
				sink += ids[m.byID.home(hs[i-b])].v
			}
			if len(exact) > 0 && r.nkeys > r.tails {
				sink += exact[m.exact.home(keys[r.key])].v
			}
		}
		for i := b; i < e; i++ {
			r := &recs[i]
			slot := uint32(i)
			if other, taken := m.byID.get(hs[i-b]); taken {
				guid := r.flags&recGUID != 0
				raw, _ := m.arena.idBytes(r.str, guid)
				id := storedID{guid: guid}
				if guid {
					copy(id.g[:], raw)
				} else {
					id.s = string(raw)
				}
				if ix.sameID(other, r.entity, &id) {
					return errors.New("a record twice")
				}
				if ix.spill == nil {
					ix.spill = map[string]uint32{}
				}
				ix.spill[spillKey(r.entity, &id)] = slot
			} else {
				m.byID.set(hs[i-b], slot)
			}
			k := keys[r.key : r.key+uint32(r.nkeys)]
			for j, key := range k {
				if j < len(k)-int(r.tails) {
					ix.link(&m.exact, key, slot)
				} else {
					ix.link(&m.tails, key, slot)
				}
			}
			ix.live++
			ix.numbers += len(k)
		}
	}
	if sink == 1<<32-1 {
		runtime.KeepAlive(sink)
	}
	return nil
}

// insert adds a record. keys (tails of them tail keys) must be distinct;
// attrs is a blob as attrs.encode writes it.
func (ix *Index) insert(ei uint16, id *storedID, name, attrs []byte, modified int64, keys []uint64, tails int) {
	m := ix.mem
	r := rec{modified: modified, entity: ei, nkeys: uint16(len(keys)), tails: uint16(tails), flags: recLive}
	if id.guid {
		r.flags |= recGUID
	}
	r.str = m.arena.put(id.guid, id.bytes(), name, attrs)
	m.keys.reserve(len(keys))
	r.key = uint32(m.keys.n)
	m.keys.n += len(keys)
	copy(m.keys.all()[r.key:], keys)
	slot := uint32(m.recs.push(r))
	h := idHash(ei, id.guid, id.bytes())
	if other, taken := m.byID.get(h); taken && ix.mem.recs.all()[other].flags&recLive != 0 {
		if ix.spill == nil {
			ix.spill = map[string]uint32{}
		}
		ix.spill[spillKey(ei, id)] = slot
	} else {
		m.byID.set(h, slot)
	}
	ix.live++
	for i, k := range keys {
		if i < len(keys)-tails {
			ix.link(&m.exact, k, slot)
		} else {
			ix.link(&m.tails, k, slot)
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
	sid := makeStoredID(id)
	if slot, ok := ix.findID(ei, &sid); ok {
		ix.remove(slot)
	}
}

func (ix *Index) remove(slot uint32) {
	m := ix.mem
	r := &m.recs.all()[slot]
	guid := r.flags&recGUID != 0
	raw, _ := m.arena.idBytes(r.str, guid)
	id := storedID{guid: guid}
	if guid {
		copy(id.g[:], raw)
	} else {
		id.s = unsafe.String(unsafe.SliceData(raw), len(raw)) // only for this call
	}
	spilled := false
	if len(ix.spill) > 0 {
		k := spillKey(r.entity, &id)
		if s, ok := ix.spill[k]; ok && s == slot {
			delete(ix.spill, k)
			spilled = true
		}
	}
	if h := idHash(r.entity, guid, id.bytes()); !spilled {
		if v, ok := m.byID.get(h); ok && v == slot {
			m.byID.del(h)
		}
	}
	keys := m.keys.all()[r.key : r.key+uint32(r.nkeys)]
	for i, k := range keys {
		if i < len(keys)-int(r.tails) {
			ix.unlink(&m.exact, k, slot)
		} else {
			ix.unlink(&m.tails, k, slot)
		}
	}
	ix.live--
	ix.numbers -= len(keys)
	r.flags &^= recLive
	ix.dead++
	if ix.dead > 1024 && ix.dead > ix.live {
		ix.rebuild()
	}
}

// rebuild copies the live records into fresh arrays, dropping what
// replaced and deleted records left behind.
func (ix *Index) rebuild() {
	old := *ix.mem
	*ix.mem = storage{}
	arenaBytes, exact := 0, 0
	for _, r := range old.recs.all() {
		if r.flags&recLive != 0 {
			_, end := old.arena.attrBytes(r.str, r.flags&recGUID != 0)
			arenaBytes += end - int(r.str)
			exact += int(r.nkeys - r.tails)
		}
	}
	m := ix.mem
	m.arena.reserve(arenaBytes + 64)
	m.recs.reserve(ix.live)
	m.keys.reserve(ix.numbers)
	m.byID.grow(ix.live)
	m.exact.grow(exact)
	if tails := ix.numbers - exact; tails > 0 {
		m.tails.grow(tails)
	}
	ix.spill, ix.multi, ix.mfree = nil, nil, nil
	ix.live, ix.numbers, ix.dead = 0, 0, 0
	keys := old.keys.all()
	for _, r := range old.recs.all() {
		if r.flags&recLive == 0 {
			continue
		}
		guid := r.flags&recGUID != 0
		raw, _ := old.arena.idBytes(r.str, guid)
		id := storedID{guid: guid}
		if guid {
			copy(id.g[:], raw)
		} else {
			id.s = string(raw)
		}
		name, _ := old.arena.nameBytes(r.str, guid)
		blob, _ := old.arena.attrBytes(r.str, guid)
		ix.insert(r.entity, &id, name, blob, r.modified, keys[r.key:r.key+uint32(r.nkeys)], int(r.tails))
	}
	old.free()
}

func (ix *Index) link(t *table, k uint64, slot uint32) {
	v, ok := t.get(k)
	switch {
	case !ok:
		t.set(k, slot)
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
		t.set(k, i|multiBit)
	}
}

func (ix *Index) unlink(t *table, k uint64, slot uint32) {
	v, ok := t.get(k)
	if !ok {
		return
	}
	if v&multiBit == 0 {
		if v == slot {
			t.del(k)
		}
		return
	}
	i := v &^ multiBit
	l := slices.DeleteFunc(ix.multi[i], func(s uint32) bool { return s == slot })
	ix.multi[i] = l
	if len(l) == 1 {
		t.set(k, l[0])
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
		found = ix.collect(found, &ix.mem.exact, k)
		exactN = len(found)
	}
	if ix.mem.tails.n > 0 {
		if k, ok := tailKey(nationalSignificant(e164[1:]), ix.tail); ok {
			found = ix.collect(found, &ix.mem.tails, k)
		}
	}
	if len(found) == 0 {
		return Match{}, false
	}
	cands := make([]Candidate, 0, len(found))
	recs := ix.mem.recs.all()
	for i, s := range found {
		r := &recs[s]
		if i >= exactN && slices.Contains(found[:exactN], s) {
			continue // already matched exactly
		}
		e := &ix.entities[r.entity]
		guid := r.flags&recGUID != 0
		id, name := ix.mem.arena.strings(r.str, guid)
		blob, _ := ix.mem.arena.attrBytes(r.str, guid)
		a := decodeAttrs(blob)
		cands = append(cands, Candidate{
			Entity: e.Name, EntitySet: e.EntitySet, ID: id, Name: name, Kind: e.Kind,
			Modified: time.Unix(0, r.modified).UTC(), Exact: i < exactN,
			URL: a.URL, Org: a.Org, Owner: a.Owner, Fields: a.Fields,
		})
	}
	rank(cands, ix.entIdx)
	return Match{Best: cands[0], Candidates: cands}, true
}

func (ix *Index) collect(dst []uint32, t *table, k uint64) []uint32 {
	v, ok := t.get(k)
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
	attrs             // u, o, w, f
	Modified int64    `json:"m"`
	Exact    []uint64 `json:"x,omitempty"`
	Tails    []uint64 `json:"t,omitempty"`
}

func (ix *Index) dump() []storedRecord {
	out := make([]storedRecord, 0, ix.live)
	keys := ix.mem.keys.all()
	for _, r := range ix.mem.recs.all() {
		if r.flags&recLive == 0 {
			continue
		}
		guid := r.flags&recGUID != 0
		id, name := ix.mem.arena.strings(r.str, guid)
		blob, _ := ix.mem.arena.attrBytes(r.str, guid)
		k := slices.Clone(keys[r.key : r.key+uint32(r.nkeys)])
		n := len(k) - int(r.tails)
		out = append(out, storedRecord{Entity: ix.entities[r.entity].Name, ID: id, Name: name, attrs: decodeAttrs(blob),
			Modified: r.modified, Exact: k[:n:n], Tails: k[n:]})
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
		id := makeStoredID(r.ID)
		if slot, ok := ix.findID(ei, &id); ok {
			ix.remove(slot)
		}
		keys := make([]uint64, 0, len(r.Exact)+len(r.Tails))
		for _, k := range r.Exact {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		exact := len(keys)
		for _, k := range r.Tails {
			if !slices.Contains(keys[exact:], k) {
				keys = append(keys, k)
			}
		}
		ix.insert(ei, &id, []byte(r.Name), r.attrs.encode(), r.Modified, keys, len(keys)-exact)
	}
}
