package phoneindex

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memSource is a CRM in memory. It answers like Dataverse: records modified
// strictly after since, in pages.
type memSource struct {
	mu    sync.Mutex
	recs  map[string][]Record // by entity name
	calls int
	fail  error
}

func (s *memSource) put(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[string][]Record{}
	}
	l := s.recs[r.Entity]
	for i := range l {
		if l[i].ID == r.ID {
			l[i] = r
			return
		}
	}
	s.recs[r.Entity] = append(l, r)
}

func (s *memSource) remove(entity, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.recs[entity]
	for i := range l {
		if l[i].ID == id {
			s.recs[entity] = append(l[:i], l[i+1:]...)
			return
		}
	}
}

func (s *memSource) Records(ctx context.Context, e Entity, since time.Time, fn func([]Record) error) error {
	s.mu.Lock()
	s.calls++
	if s.fail != nil {
		s.mu.Unlock()
		return s.fail
	}
	var out []Record
	for _, r := range s.recs[e.Name] {
		if !r.Modified.Before(since) {
			out = append(out, r)
		}
	}
	s.mu.Unlock()
	for len(out) > 0 {
		n := min(2, len(out))
		if err := fn(out[:n]); err != nil {
			return err
		}
		out = out[n:]
	}
	return nil
}

func (s *memSource) callCount() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func openT(t *testing.T, src Source, store Persister, s Settings, c *clock) *Integration {
	t.Helper()
	in, err := Open(context.Background(), "dyn", src, store, s, IntegrationOptions{Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestIntegrationLifecycle(t *testing.T) {
	ctx := context.Background()
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Phones: []string{"0401234567"}, Modified: t0})
	src.put(Record{Entity: "account", ID: "a1", Name: "Acme", Phones: []string{"09 876 5432"}, Modified: t0})
	src.put(Record{Entity: "lead", ID: "l1", Name: "Lead", Phones: []string{"0441112222"}, Modified: t0})
	store := FileStore{Dir: t.TempDir()}
	c := &clock{t: t0.Add(24 * time.Hour)}
	in := openT(t, src, store, Settings{Region: "FI", Enabled: true}, c)

	if _, ok := in.Lookup("+358401234567"); ok {
		t.Fatal("match before any sync")
	}
	if err := in.Sync(ctx, false); err != nil { // first sync is full whatever was asked
		t.Fatal(err)
	}
	st := in.Status()
	if st.Records != 3 || st.Numbers != 3 || !st.Enabled || st.LastFull.IsZero() || !st.NextSync.Equal(c.now().Add(DefaultInterval)) {
		t.Fatalf("status after full sync: %+v", st)
	}
	if m, ok := in.Lookup("+358401234567"); !ok || m.Best.ID != "c1" || m.Best.Name != "Alice" || m.Best.EntitySet != "contacts" {
		t.Fatalf("lookup after sync: %+v, %v", m, ok)
	}

	// Incremental: a changed number and a new record; a deletion is not
	// seen until the next full sync.
	c.add(time.Hour)
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Phones: []string{"0409999999"}, Modified: t0.Add(time.Hour)})
	src.put(Record{Entity: "contact", ID: "c2", Name: "Bob", Phones: []string{"0501234567"}, Modified: t0.Add(time.Hour)})
	src.remove("lead", "l1")
	if err := in.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("0401234567"); ok {
		t.Error("old number still matches after incremental sync")
	}
	for _, n := range []string{"0409999999", "0501234567", "0441112222"} {
		if _, ok := in.Lookup(n); !ok {
			t.Errorf("%s does not match after incremental sync", n)
		}
	}
	if err := in.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("0441112222"); ok {
		t.Error("deleted lead still matches after full sync")
	}

	// Disable keeps the data, suppresses matches, and is remembered.
	if err := in.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Lookup("0409999999"); ok {
		t.Error("disabled integration matched")
	}
	if st := in.Status(); st.Enabled || st.Records != 3 {
		t.Errorf("disabled status: %+v", st)
	}
	// A restart answers from the persisted cache without calling the CRM.
	calls := src.callCount()
	in2 := openT(t, src, store, Settings{Region: "FI", Enabled: true}, c)
	if in2.Status().Enabled {
		t.Error("Disable was forgotten across a restart")
	}
	if err := in2.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if m, ok := in2.Lookup("0409999999"); !ok || m.Best.ID != "c1" {
		t.Errorf("restored cache: %+v, %v", m, ok)
	}
	if src.callCount() != calls {
		t.Error("opening or looking up called the CRM")
	}
	if !in2.Status().LastRefresh.Equal(in.Status().LastRefresh) {
		t.Error("last refresh not persisted")
	}

	// Delete erases cache and settings.
	if err := in2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := in2.Lookup("0409999999"); ok {
		t.Error("deleted integration matched")
	}
	if err := in2.Sync(ctx, true); !errors.Is(err, ErrDeleted) {
		t.Errorf("Sync after Delete: %v", err)
	}
	if snap, err := store.Load(ctx, "dyn"); err != nil || snap != nil {
		t.Errorf("store after Delete: %v, %v", snap, err)
	}
}

func TestSyncFailureKeepsIndex(t *testing.T) {
	ctx := context.Background()
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Phones: []string{"0401234567"}, Modified: t0})
	c := &clock{t: t0}
	in := openT(t, src, FileStore{Dir: t.TempDir()}, Settings{Region: "FI", Enabled: true}, c)
	if err := in.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.fail = errors.New("HTTP 503")
	src.mu.Unlock()
	err := in.Sync(ctx, true)
	if err == nil {
		t.Fatal("sync against a failing CRM succeeded")
	}
	if _, ok := in.Lookup("0401234567"); !ok {
		t.Error("a failed full sync emptied the index")
	}
	st := in.Status()
	if st.LastError == "" || !st.NextSync.Before(c.now().Add(DefaultInterval)) {
		t.Errorf("status after failure: %+v", st)
	}
}

func TestSettingsChangeDropsCache(t *testing.T) {
	ctx := context.Background()
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Phones: []string{"0401234567"}, Modified: t0})
	store := FileStore{Dir: t.TempDir()}
	c := &clock{t: t0}
	in := openT(t, src, store, Settings{Region: "FI", Enabled: true}, c)
	if err := in.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	in2 := openT(t, src, store, Settings{Region: "SE", Enabled: true}, c)
	if st := in2.Status(); st.Records != 0 || !st.LastFull.IsZero() {
		t.Errorf("cache kept across a region change: %+v", st)
	}
}

func TestCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dyn.json.gz"), []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := openT(t, &memSource{}, FileStore{Dir: dir}, Settings{Region: "FI", Enabled: true}, &clock{t: t0})
	if st := in.Status(); st.Records != 0 {
		t.Errorf("status: %+v", st)
	}
}

func TestRunSchedules(t *testing.T) {
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Phones: []string{"0401234567"}, Modified: t0})
	in := openT(t, src, FileStore{Dir: t.TempDir()}, Settings{Region: "FI", Enabled: true}, &clock{t: time.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for in.Status().LastFull.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not sync")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOpenValidates(t *testing.T) {
	for _, name := range []string{"", "../x", "a b"} {
		if _, err := Open(context.Background(), name, &memSource{}, FileStore{Dir: t.TempDir()}, Settings{}, IntegrationOptions{}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := Open(context.Background(), "x", &memSource{}, FileStore{Dir: t.TempDir()}, Settings{Interval: time.Second}, IntegrationOptions{}); err == nil {
		t.Error("interval 1s accepted")
	}
}

// Fields come with a sync, change with an incremental one, go with the
// record, and survive a restart in the snapshot.
func TestIntegrationFields(t *testing.T) {
	ctx := context.Background()
	ents := DefaultEntities()
	ents[0].Fields = []string{"emailaddress1"}
	src := &memSource{}
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Phones: []string{"0401234567"}, Modified: t0,
		Fields: map[string]string{"emailaddress1": "alice@example.com"}})
	store := FileStore{Dir: t.TempDir()}
	c := &clock{t: t0.Add(time.Hour)}
	s := Settings{Region: "FI", Enabled: true, Entities: ents}
	in := openT(t, src, store, s, c)
	if err := in.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	email := func(in *Integration) string {
		m, ok := in.Lookup("0401234567")
		if !ok {
			return "<no match>"
		}
		return m.Best.Fields["emailaddress1"]
	}
	if got := email(in); got != "alice@example.com" {
		t.Fatalf("after a full sync: %q", got)
	}
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Phones: []string{"0401234567"}, Modified: t0.Add(2 * time.Hour),
		Fields: map[string]string{"emailaddress1": "alice@new.example.com"}})
	if err := in.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := email(in); got != "alice@new.example.com" {
		t.Fatalf("after an incremental sync: %q", got)
	}
	again := openT(t, &memSource{}, store, s, c)
	if got := email(again); got != "alice@new.example.com" {
		t.Fatalf("after a restart: %q", got)
	}
	src.put(Record{Entity: "contact", ID: "c1", Name: "Alice", Modified: t0.Add(3 * time.Hour)}) // no number left
	if err := in.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := len(in.ix.fields); n != 0 {
		t.Errorf("%d records' fields kept for a record gone from the index", n)
	}
}
