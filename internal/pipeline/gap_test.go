package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// celHistory is a History over a cel_custom CSV, as internal/app makes one
// from the cel: section.
type celHistory struct {
	mu     sync.Mutex
	src    cel.Source
	margin time.Duration
	ec     bridge.Config
	reads  int
}

func newCELHistory(t *testing.T, path string) *celHistory {
	t.Helper()
	src, err := cel.Open(context.Background(), cel.Config{Type: cel.TypeCSV, File: path, TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	return &celHistory{src: src, margin: 2 * time.Second, ec: cfg}
}

func (h *celHistory) Gap(ctx context.Context, lastSeen, firstNew time.Time) (HistoryGap, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if firstNew.IsZero() {
		rows, err := h.src.Window(ctx, lastSeen.Add(-h.margin), lastSeen.Add(1000*time.Hour))
		if err != nil {
			return HistoryGap{}, err
		}
		firstNew = lastSeen
		for _, r := range rows {
			if r.Time.After(firstNew) {
				firstNew = r.Time
			}
		}
	}
	g, err := cel.Backfill(ctx, h.src, cel.Window{LastSeen: lastSeen, FirstNew: firstNew}, h.margin, h.ec)
	if err != nil {
		return HistoryGap{}, err
	}
	out := HistoryGap{FirstNew: firstNew}
	for _, c := range g.Calls {
		out.Calls = append(out.Calls, HistoryCall{ID: c.ID, Start: c.Start, End: c.End, Activities: c.Activities})
	}
	return out, nil
}

func (h *celHistory) Calls(ctx context.Context, ids []string) (map[string]HistoryFound, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	g, err := cel.Lookup(ctx, h.src, ids, h.ec)
	if err != nil {
		return nil, err
	}
	out := map[string]HistoryFound{}
	for _, id := range ids {
		c, open, ok := g.CallOf(id)
		out[id] = HistoryFound{Call: HistoryCall{ID: c.ID, Start: c.Start, End: c.End, Activities: c.Activities}, Open: open, OK: ok}
	}
	return out, nil
}

// snapshotAt is the channel list a PBX would give after evs[:n]: every
// channel created and not destroyed, as last described, in its bridge.
func snapshotAt(evs []bridge.Event, n int) bridge.Event {
	chans := map[string]*bridge.Channel{}
	var order []string
	merge := func(c bridge.Channel) {
		have := chans[c.ID]
		if have == nil {
			return
		}
		if c.State != bridge.StateUnknown {
			have.State = c.State
		}
		for dst, src := range map[*string]string{&have.Name: c.Name, &have.CallerNumber: c.CallerNumber,
			&have.CallerName: c.CallerName, &have.ConnectedNumber: c.ConnectedNumber,
			&have.ConnectedName: c.ConnectedName, &have.App: c.App} {
			if src != "" {
				*dst = src
			}
		}
	}
	for _, ev := range evs[:n] {
		switch ev.Kind {
		case bridge.ChannelCreated:
			c := ev.Channel
			if c.Created.IsZero() {
				c.Created = ev.Time
			}
			chans[c.ID] = &c
			order = append(order, c.ID)
		case bridge.ChannelUpdated:
			merge(ev.Channel)
		case bridge.BridgeEnter:
			if c := chans[ev.Channel.ID]; c != nil {
				c.Bridge = ev.Bridge
			}
		case bridge.BridgeLeave:
			if c := chans[ev.Channel.ID]; c != nil {
				c.Bridge = ""
			}
		case bridge.ChannelDestroyed:
			delete(chans, ev.Channel.ID)
		}
	}
	snap := bridge.Event{Kind: bridge.Snapshot}
	for _, id := range order {
		if c := chans[id]; c != nil {
			snap.Channels = append(snap.Channels, *c)
			delete(chans, id)
		}
	}
	return snap
}

// byCall runs events through an engine and groups the activities by call.
func byCall(source string, evs []bridge.Event) map[string][]bridge.Activity {
	c := cfg
	c.Source = source
	out := map[string][]bridge.Activity{}
	e := NewEngine(c, phone.Normalizer{}, func(a bridge.Activity) { out[a.CallID] = append(out[a.CallID], a) }, nil)
	for _, ev := range evs {
		e.Handle(ev)
	}
	e.Flush()
	return out
}

func celEventsOf(t *testing.T, path string) []bridge.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []bridge.Event
	if _, err := cel.ReadRecording(f, time.UTC, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

// sinkOf keeps every activity the intake gets, in order.
type sinkOf struct {
	mu   sync.Mutex
	acts []bridge.Activity
}

func (s *sinkOf) Write(a bridge.Activity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acts = append(s.acts, a)
	return nil
}

// clock is a wall clock the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// gapRig is one source's path with a History, driven event by event.
type gapRig struct {
	t     *testing.T
	hist  History
	dir   string
	sink  *sinkOf
	clock *clock
	p     *Path
	s     *source
}

func newGapRig(t *testing.T, hist History, dir string, sink *sinkOf, clk *clock) *gapRig {
	t.Helper()
	p, err := Build(Parts{Sources: map[string]Source{"ari": replaySource(nil)}, Engine: bridge.Config{Trunks: cfg.Trunks},
		Sink: sink, History: hist, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s := p.sources[0]
	s.gap.now = clk.now
	if err := p.Restore(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	return &gapRig{t: t, hist: hist, dir: dir, sink: sink, clock: clk, p: p, s: s}
}

func (r *gapRig) feed(evs ...bridge.Event) {
	for _, ev := range evs {
		r.clock.t = r.clock.t.Add(10 * time.Millisecond)
		r.s.handle(ev)
	}
}

// wait moves the clock on by d and lets the source's timer run.
func (r *gapRig) wait(d time.Duration) {
	r.clock.t = r.clock.t.Add(d)
	r.s.gap.tick()
}

// crash is the process dying: the journal stays as it is.
func (r *gapRig) crash() { r.p.Close() }

// check compares what the intake got with the recordings: every activity
// equal, field by field, to the one its source gives for its call over
// the whole recording; every call there; the calls that overlap the gap
// from CEL, the others from ARI.
func checkGap(t *testing.T, got []bridge.Activity, ariCalls, celCalls map[string][]bridge.Activity, inGap func(id string) bool) {
	t.Helper()
	want := map[string]bridge.Activity{}
	for _, as := range ariCalls {
		for _, a := range as {
			want["ari/"+a.ID] = a
		}
	}
	for _, as := range celCalls {
		for _, a := range as {
			want["cel/"+a.ID] = a
		}
	}
	seen := map[string]bridge.Activity{}
	for _, a := range got {
		a = utc(a)
		w, ok := want[a.Source+"/"+a.ID]
		w = utc(w)
		if !ok {
			t.Errorf("activity %s (%s, call %s) is not one the recording makes", a.ID, a.Source, a.CallID)
			continue
		}
		if a != w {
			t.Errorf("call %s user %s differs from the recording's %s version:\n got %+v\nwant %+v", a.CallID, a.User, a.Source, a, w)
		}
		if prev, dup := seen[a.ID]; dup && prev != a {
			t.Errorf("activity %s delivered in two versions: %s and %s", a.ID, prev.Source, a.Source)
		}
		seen[a.ID] = a
		if gapCall := inGap(a.CallID); gapCall != (a.Source == "cel") {
			t.Errorf("call %s (over the gap: %v) delivered from %s", a.CallID, gapCall, a.Source)
		}
	}
	var missing []string
	for id, as := range ariCalls {
		for _, a := range as {
			if _, ok := seen[a.ID]; !ok {
				missing = append(missing, fmt.Sprintf("%s/%s", id, a.User))
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d activities missing: %s", len(missing), strings.Join(missing, " "))
	}
}

// utc puts an activity's times in one form, so that == compares them as
// instants (a time read back from the journal has another *Location).
func utc(a bridge.Activity) bridge.Activity {
	a.StartedAt, a.AnsweredAt, a.EndedAt = a.StartedAt.UTC(), a.AnsweredAt.UTC(), a.EndedAt.UTC()
	return a
}

// gapScene is a recording with a gap cut into it: the source sees the
// events before the gap, then a snapshot of the channels alive at its end,
// then the rest.
type gapScene struct {
	evs                []bridge.Event
	celPath            string
	ariCalls, celCalls map[string][]bridge.Activity
	cut1, cut2         int
}

func newGapScene(t *testing.T, name string, from, to float64) *gapScene {
	evs := events(t, name)
	celPath := filepath.Join("../../testdata/recordings", name, "cel.csv")
	sc := &gapScene{evs: evs, celPath: celPath, ariCalls: byCall("ari", evs), celCalls: byCall("cel", celEventsOf(t, celPath))}
	t0, t1 := evs[0].Time, evs[len(evs)-1].Time
	at := func(f float64) int {
		when := t0.Add(time.Duration(f * float64(t1.Sub(t0))))
		for i, ev := range evs {
			if ev.Time.After(when) {
				return i
			}
		}
		return len(evs)
	}
	sc.cut1, sc.cut2 = at(from), at(to)
	return sc
}

// inGap: the call was alive at some moment the source did not see.
func (sc *gapScene) inGap(id string) bool {
	lo, hi := sc.evs[sc.cut1-1].Time, sc.evs[len(sc.evs)-1].Time.Add(time.Hour)
	if sc.cut2 < len(sc.evs) {
		hi = sc.evs[sc.cut2].Time
	}
	for _, a := range sc.ariCalls[id] {
		if a.EndedAt.After(lo) && a.StartedAt.Before(hi) {
			return true
		}
	}
	// An offer starts at ringing: the call's first channel may be older.
	for _, ev := range sc.evs[sc.cut1:sc.cut2] {
		if ev.Channel.ID == id {
			return true
		}
	}
	return false
}

// Reconnect: the source loses the PBX in the middle of a busy stretch
// (calls ending, beginning and going on meanwhile) and comes back with a
// snapshot. The calls over the gap come from CEL, each exactly as CEL
// gives it over the whole recording, including those the snapshot closed
// at the last event seen; the others as ARI gave them; none missing.
func TestGapReconnect(t *testing.T) {
	sc := newGapScene(t, "concurrent_mixed_20", 0.3, 0.6)
	sink := &sinkOf{}
	hist := newCELHistory(t, sc.celPath)
	r := newGapRig(t, hist, t.TempDir(), sink, &clock{t: time.Unix(1e9, 0)})
	defer r.p.Close()
	r.feed(sc.evs[:sc.cut1]...)
	lastSeen := r.s.engine.Last()
	r.feed(snapshotAt(sc.evs, sc.cut2))
	if len(r.s.gap.held) == 0 {
		t.Fatal("the snapshot closed no call: the gap is too short to test anything")
	}
	// What the snapshot made of them: ended at the last event seen.
	closed := map[string]bridge.Activity{}
	for _, h := range r.s.gap.held {
		for _, a := range h.acts {
			if !a.EndedAt.Equal(lastSeen) {
				t.Fatalf("the snapshot closed %s at %v, not at the last event seen %v", a.CallID, a.EndedAt, lastSeen)
			}
			closed[a.ID] = a
		}
	}
	if r.s.engine.j.Len() != 0 && r.s.engine.deferred == nil {
		t.Fatal("the snapshot that opens a window was journaled before the window was read")
	}
	r.feed(sc.evs[sc.cut2:]...)
	r.wait(time.Second)
	if r.s.gap.keep() {
		t.Fatalf("still waiting: %d held, %d windows", len(r.s.gap.held), len(r.s.gap.windows))
	}
	checkGap(t, sink.acts, sc.ariCalls, sc.celCalls, sc.inGap)
	// The CEL versions won: the CRM gets the real ends, not the snapshot's.
	for _, a := range sink.acts {
		if c, ok := closed[a.ID]; ok && (a.Source != "cel" || a.EndedAt.Equal(c.EndedAt)) {
			t.Errorf("call %s user %s delivered as the snapshot closed it", a.CallID, a.User)
		}
	}
	var fromCEL, overGap int
	for id := range sc.ariCalls {
		if sc.inGap(id) {
			overGap++
		}
	}
	for _, a := range sink.acts {
		if a.Source == "cel" {
			fromCEL++
		}
	}
	t.Logf("%d calls, %d over the gap, %d activities from CEL", len(sc.ariCalls), overGap, fromCEL)
	if overGap < 5 {
		t.Errorf("only %d calls over the gap", overGap)
	}
}

// Restart: the daemon dies in the middle of a busy stretch, and dies again
// after the restart before the first event of the new session; the
// journal brings back what it had, CEL what happened meanwhile.
func TestGapRestart(t *testing.T) {
	sc := newGapScene(t, "concurrent_mixed_20", 0.3, 0.6)
	sink := &sinkOf{}
	hist := newCELHistory(t, sc.celPath)
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1e9, 0)}
	r := newGapRig(t, hist, dir, sink, clk)
	r.feed(sc.evs[:sc.cut1]...)
	r.crash()
	r = newGapRig(t, hist, dir, sink, clk)
	if !r.s.engine.Last().Equal(sc.evs[sc.cut1-1].Time) {
		t.Fatalf("restored engine's last event %v, want %v", r.s.engine.Last(), sc.evs[sc.cut1-1].Time)
	}
	r.feed(snapshotAt(sc.evs, (sc.cut1+sc.cut2)/2))
	r.crash()
	r = newGapRig(t, hist, dir, sink, clk)
	r.feed(snapshotAt(sc.evs, sc.cut2))
	r.feed(sc.evs[sc.cut2:]...)
	r.wait(time.Second)
	defer r.p.Close()
	checkGap(t, sink.acts, sc.ariCalls, sc.celCalls, sc.inGap)
}

// Quiet: after a restart the PBX says nothing more; the window ends at the
// newest CEL record, and every call over by then is delivered.
func TestGapQuiet(t *testing.T) {
	sc := newGapScene(t, "concurrent_mixed_20", 0.3, 1)
	sink := &sinkOf{}
	hist := newCELHistory(t, sc.celPath)
	r := newGapRig(t, hist, t.TempDir(), sink, &clock{t: time.Unix(1e9, 0)})
	defer r.p.Close()
	r.feed(sc.evs[:sc.cut1]...)
	r.feed(bridge.Event{Kind: bridge.Snapshot})
	r.wait(quietAfter / 2)
	if len(r.s.gap.windows) != 0 || r.s.gap.open == nil {
		t.Fatal("the window closed before the session was quiet for long")
	}
	r.wait(quietAfter)
	r.wait(time.Second)
	if r.s.gap.keep() {
		t.Fatalf("still waiting: %d held, %d windows", len(r.s.gap.held), len(r.s.gap.windows))
	}
	inGap := func(id string) bool {
		return sc.inGap(id) || len(sc.ariCalls[id]) > 0 && sc.ariCalls[id][0].EndedAt.After(sc.evs[sc.cut1-1].Time)
	}
	checkGap(t, sink.acts, sc.ariCalls, sc.celCalls, inGap)
}

// brokenHistory cannot be read, or knows no call.
type brokenHistory struct{ err error }

func (b brokenHistory) Gap(context.Context, time.Time, time.Time) (HistoryGap, error) {
	return HistoryGap{}, b.err
}

func (b brokenHistory) Calls(_ context.Context, ids []string) (map[string]HistoryFound, error) {
	if b.err != nil {
		return nil, b.err
	}
	return map[string]HistoryFound{}, nil
}

// When CEL does not have a call (or cannot be read), its live version is
// delivered once holdFor has passed, never lost; the journal is kept whole
// meanwhile and tidied after.
func TestGapFallback(t *testing.T) {
	for _, h := range []brokenHistory{{}, {err: fmt.Errorf("connection refused")}} {
		t.Run(fmt.Sprint(h.err), func(t *testing.T) {
			sc := newGapScene(t, "inbound_answered", 0.6, 0.9)
			sink := &sinkOf{}
			r := newGapRig(t, h, t.TempDir(), sink, &clock{t: time.Unix(1e9, 0)})
			defer r.p.Close()
			r.feed(sc.evs[:sc.cut1]...)
			r.feed(bridge.Event{Kind: bridge.Snapshot}, sc.evs[len(sc.evs)-1])
			if len(sink.acts) != 0 || len(r.s.gap.held) != 1 {
				t.Fatalf("delivered %d, held %d before holdFor", len(sink.acts), len(r.s.gap.held))
			}
			if r.s.engine.j.Len() == 0 {
				t.Fatal("journal reset while a call is held")
			}
			r.wait(holdFor)
			if len(sink.acts) != 1 || sink.acts[0].Source != "ari" || sink.acts[0].State != bridge.Connected {
				t.Fatalf("after holdFor: %+v", sink.acts)
			}
			if h.err != nil {
				r.wait(windowFor)
			}
			if r.s.gap.keep() || r.s.engine.j.Len() != 0 {
				t.Errorf("still keeping the journal (%d events): held %d, windows %d", r.s.engine.j.Len(), len(r.s.gap.held), len(r.s.gap.windows))
			}
		})
	}
}

// fixedHistory shows the same calls for any window.
type fixedHistory struct{ calls []HistoryCall }

func (f fixedHistory) Gap(_ context.Context, _, firstNew time.Time) (HistoryGap, error) {
	return HistoryGap{FirstNew: firstNew, Calls: f.calls}, nil
}

func (f fixedHistory) Calls(context.Context, []string) (map[string]HistoryFound, error) {
	return map[string]HistoryFound{}, nil
}

// Which calls of a window come from CEL: those begun in it (however short
// and however soon after the last event), and those begun before it that
// end past the boundary; not those that ended with the last event seen,
// nor those the new session began.
func TestGapWindowCalls(t *testing.T) {
	evs := events(t, "inbound_answered")
	last := evs[len(evs)-1].Time
	first := last.Add(time.Minute)
	call := func(id string, start, end time.Duration) HistoryCall {
		return HistoryCall{ID: id, Start: last.Add(start), End: last.Add(end), Activities: []bridge.Activity{
			{ID: "a-" + id, CallID: id, User: "101", StartedAt: last.Add(start), EndedAt: last.Add(end), Source: "cel"}}}
	}
	h := fixedHistory{calls: []HistoryCall{
		call("ended-with-the-last-event", -5*time.Second, 200*time.Millisecond),
		call("short-right-after", 100*time.Millisecond, 300*time.Millisecond),
		call("began-before-ended-in-gap", -3*time.Second, 2*time.Second),
		call("new-session", time.Minute+time.Second, time.Minute+5*time.Second),
	}}
	sink := &sinkOf{}
	r := newGapRig(t, h, t.TempDir(), sink, &clock{t: time.Unix(1e9, 0)})
	defer r.p.Close()
	r.feed(evs...)
	r.feed(bridge.Event{Kind: bridge.Snapshot})
	r.feed(bridge.Event{Kind: bridge.ChannelCreated, Time: first, Channel: bridge.Channel{ID: "n1", Name: "PJSIP/pstn-9", State: bridge.StateRing}})
	r.wait(time.Second)
	var got []string
	for _, a := range sink.acts {
		if a.Source == "cel" {
			got = append(got, a.CallID)
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "began-before-ended-in-gap short-right-after" {
		t.Errorf("from CEL: %v", got)
	}
}

// stuckHistory answers only once released, as a CEL database behind a
// dead network would.
type stuckHistory struct {
	asked   chan struct{}
	release chan struct{}
}

func (s stuckHistory) Gap(ctx context.Context, _, firstNew time.Time) (HistoryGap, error) {
	s.asked <- struct{}{}
	<-s.release
	return HistoryGap{FirstNew: firstNew}, nil
}

func (s stuckHistory) Calls(context.Context, []string) (map[string]HistoryFound, error) {
	return map[string]HistoryFound{}, nil
}

// A CEL read that hangs does not hold up the source: its events are
// handled while the read waits.
func TestGapSlowHistory(t *testing.T) {
	evs := events(t, "inbound_answered")
	h := stuckHistory{asked: make(chan struct{}), release: make(chan struct{})}
	r := newGapRig(t, h, t.TempDir(), &sinkOf{}, &clock{t: time.Unix(1e9, 0)})
	defer r.p.Close()
	half := len(evs) / 2
	r.feed(evs[:half]...)
	r.feed(bridge.Event{Kind: bridge.Snapshot}, evs[half])
	done := make(chan struct{})
	go func() { r.wait(time.Second); close(done) }()
	<-h.asked
	handled := make(chan struct{})
	go func() {
		for _, ev := range evs[half+1:] {
			r.s.handle(ev)
		}
		close(handled)
	}()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the source waited for a CEL read")
	}
	close(h.release)
	<-done
}
