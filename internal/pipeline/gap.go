package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
)

// History is the PBX's own record of its calls (Asterisk's CEL): what a
// source did not see whole, while callbridge was stopped or disconnected,
// is rebuilt from it. internal/app makes one from the cel: section. Its
// calls carry the ids the live sources give the same calls, so a call
// delivered from both is one call in the CRM.
type History interface {
	// Gap rebuilds the calls over by the newest record that overlap the
	// window from lastSeen (the last event a source processed) to
	// firstNew (the first event of its new session), the window widened
	// by the History's margin. firstNew zero: up to the newest record.
	Gap(ctx context.Context, lastSeen, firstNew time.Time) (HistoryGap, error)
	// Calls rebuilds from their whole history the calls ids name: call
	// ids, or unique ids of one of their channels.
	Calls(ctx context.Context, ids []string) (map[string]HistoryFound, error)
}

// HistoryGap is what the History says about a window.
type HistoryGap struct {
	// FirstNew is the window's end: as asked, or the newest record's time.
	FirstNew time.Time
	// Calls are the finished calls of the span read, in the order they
	// ended.
	Calls []HistoryCall
}

// HistoryCall is one call rebuilt from the History.
type HistoryCall struct {
	ID         string
	Start, End time.Time // its activities' earliest start and latest end
	Activities []bridge.Activity
}

// HistoryFound is the History's answer about one id.
type HistoryFound struct {
	Call HistoryCall // the call, when it is over
	Open bool        // the call is still in progress at the newest record
	OK   bool        // the records name the id
}

// How long the gap filler waits on the History. CEL is written as things
// happen, so a call's last rows follow its last live event within a
// moment; past these the live source's version of a call, or nothing of a
// window, is what there is.
const (
	// quietAfter: a new session without any event for this long ends its
	// window at the newest record instead.
	quietAfter = 2 * time.Second
	// retryEvery: how often the History is asked again.
	retryEvery = 200 * time.Millisecond
	// holdFor: how long a call's live activities wait for its records.
	holdFor = 30 * time.Second
	// windowFor: how long an unreadable History is retried for a window.
	windowFor = 5 * time.Minute
	// historyTimeout bounds one read.
	historyTimeout = 30 * time.Second
	// boundary: a call begun before the last event processed that CEL
	// shows ending this soon after it was seen ending by the source (CEL
	// writes a channel's HANGUP when it is torn down, a moment after the
	// hang-up the live sources report, and ARI's times are cut to the
	// millisecond).
	boundary = 500 * time.Millisecond
)

// gap fills one source's gaps from the History. After a reconnect or a
// restart the source's snapshot reconciles the engine with the PBX's
// channel list: the calls it closes ended while nobody listened, at
// moments nobody knows, and the calls still open went on unwatched. So:
//
//   - what the snapshot finishes is held, and so is, when it ends, every
//     call open across the snapshot; each is delivered as the History has
//     it once the History shows it over, or as the live source made it if
//     the History does not within holdFor;
//   - the calls the History shows over that overlap the window from the
//     last event processed to the first of the new session (and the held
//     ones) are delivered from it: the calls that began and ended while
//     nobody listened come only from there.
//
// Held activities live in memory only, and the journal is kept whole
// (neither reset nor compacted) while anything is held or a window is
// open, with the snapshot that opened the window journaled only once the
// window has been read. A process that dies meanwhile replays the journal
// into the same state, snapshots and all: the calls its snapshots close
// and those open across them are held again, and the next snapshot opens
// a window from the same last event.
//
// A gap is used under source.mu: from the source's goroutine, which holds
// it while handling an event, and from tick, which takes it itself.
type gap struct {
	src  *source
	hist History
	log  zerolog.Logger
	now  func() time.Time // wall clock, for the waits above

	holding bool            // a snapshot is being applied
	owned   map[string]bool // calls open across a snapshot
	held    []*heldCall
	open    *window   // the window whose first new event has not come
	windows []*window // windows to read
	lastTry time.Time
}

// window is the stretch of the PBX's time a source did not see.
type window struct {
	lastSeen, firstNew time.Time
	opened             time.Time // wall clock: the snapshot
	failing            time.Time // wall clock: the first failed read, zero if none
}

// heldCall is a call's live activities, waiting for its records.
type heldCall struct {
	id    string
	acts  []bridge.Activity
	since time.Time // wall clock
}

func newGap(s *source, h History, log zerolog.Logger) *gap {
	return &gap{src: s, hist: h, log: log, now: time.Now, owned: map[string]bool{}}
}

// seen implements watcher.
func (g *gap) seen(ev bridge.Event, replay bool) {
	if ev.Kind == bridge.Snapshot {
		g.holding = true
		if !replay && g.open == nil && !g.src.engine.Last().IsZero() {
			g.open = &window{lastSeen: g.src.engine.Last(), opened: g.now()}
			g.log.Info().Time("last_seen", g.open.lastSeen).
				Msg("reconnected after a gap; calls that ended or went on meanwhile will come from CEL")
		}
		return
	}
	if !replay && g.open != nil && !ev.Time.IsZero() {
		g.close(ev.Time)
	}
}

// applied implements watcher.
func (g *gap) applied(ev bridge.Event, _ bool) {
	if ev.Kind == bridge.Snapshot {
		g.holding = false
		clear(g.owned)
		for _, id := range g.src.engine.OpenCalls() {
			g.owned[id] = true
		}
		return
	}
	if len(g.owned) > 0 {
		if st, _ := g.src.engine.Stats(); st.Calls == 0 {
			clear(g.owned)
		}
	}
}

// deferJournal implements watcher: a snapshot that opens a window waits.
func (g *gap) deferJournal(ev bridge.Event) bool {
	return ev.Kind == bridge.Snapshot && g.open != nil
}

// keep implements watcher.
func (g *gap) keep() bool { return g.open != nil || len(g.windows) > 0 || len(g.held) > 0 }

// hold takes a finished activity the snapshot closed or of a call open
// across one; false leaves it to the intake.
func (g *gap) hold(a bridge.Activity) bool {
	if !g.holding && !g.owned[a.CallID] {
		return false
	}
	for _, h := range g.held {
		if h.id == a.CallID {
			h.acts = append(h.acts, a)
			return true
		}
	}
	g.held = append(g.held, &heldCall{id: a.CallID, acts: []bridge.Activity{a}, since: g.now()})
	return true
}

// close ends the open window at firstNew (zero: at the newest record) and
// journals the snapshots it held back; the next tick reads it.
func (g *gap) close(firstNew time.Time) {
	w := g.open
	g.open = nil
	if !firstNew.IsZero() && firstNew.Before(w.lastSeen) {
		firstNew = w.lastSeen
	}
	w.firstNew = firstNew
	g.windows = append(g.windows, w)
	g.src.engine.Commit()
	g.lastTry = time.Time{}
}

// windowRead is what the History said about a window.
type windowRead struct {
	w   *window
	res HistoryGap
	err error
}

// tick is the source's timer, called every retryEvery without source.mu:
// a quiet new session's window is closed, then the windows are read and
// the held calls looked up with the lock released, so that a slow or
// unreachable CEL never holds up the source, and what was read is
// delivered under it.
func (g *gap) tick() {
	mu := &g.src.mu
	mu.Lock()
	if g.open != nil && g.now().Sub(g.open.opened) >= quietAfter {
		g.close(time.Time{})
	}
	t := g.now()
	if (len(g.windows) == 0 && len(g.held) == 0) || t.Sub(g.lastTry) < retryEvery {
		mu.Unlock()
		return
	}
	g.lastTry = t
	windows := slices.Clone(g.windows)
	ids := make([]string, 0, len(g.held))
	for _, h := range g.held {
		ids = append(ids, h.id)
	}
	ctx := g.src.ctx
	mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	reads := make([]windowRead, len(windows))
	for i, w := range windows {
		res, err := g.hist.Gap(ctx, w.lastSeen, w.firstNew)
		reads[i] = windowRead{w: w, res: res, err: err}
	}
	var found map[string]HistoryFound
	var err error
	if len(ids) > 0 {
		found, err = g.hist.Calls(ctx, ids)
	}
	cancel()

	mu.Lock()
	defer mu.Unlock()
	sent := map[string]bool{}
	for _, rd := range reads {
		if g.read(rd, t, sent) {
			g.windows = slices.DeleteFunc(g.windows, func(w *window) bool { return w == rd.w })
		}
	}
	if len(ids) > 0 {
		g.lookup(found, err, t, sent)
	}
	if !g.keep() {
		g.src.engine.tidy()
	}
}

// read delivers a window's calls; true when done with it.
func (g *gap) read(rd windowRead, t time.Time, sent map[string]bool) bool {
	m := g.src.path.m
	w, res := rd.w, rd.res
	if rd.err != nil {
		m.backfillErrors.WithLabelValues(g.src.name).Inc()
		if w.failing.IsZero() {
			w.failing = t
		}
		if t.Sub(w.failing) >= windowFor {
			g.log.Error().Err(rd.err).Time("last_seen", w.lastSeen).Time("first_new", w.firstNew).
				Msg("CEL unreadable: calls that began and ended in this gap are not delivered")
			return true
		}
		g.log.Warn().Err(rd.err).Time("last_seen", w.lastSeen).Msg("CEL unreadable, retrying")
		return false
	}
	held := map[string]bool{}
	for _, h := range g.held {
		held[h.id] = true
	}
	n := 0
	for _, c := range res.Calls {
		// A call over before the gap was seen whole unless the snapshot
		// or the journal says otherwise; one begun after it is the new
		// session's.
		inGap := c.Start.Before(res.FirstNew) && (c.Start.After(w.lastSeen) || c.End.After(w.lastSeen.Add(boundary)))
		if held[c.ID] || inGap {
			if g.deliver(c, sent) {
				n++
			}
		}
	}
	m.backfillGaps.WithLabelValues(g.src.name).Inc()
	g.log.Info().Time("last_seen", w.lastSeen).Time("first_new", res.FirstNew).Int("calls", n).
		Msg("gap filled from CEL")
	return true
}

// lookup delivers the held calls the History shows over, and, past
// holdFor, the live activities of those it does not. Calls held since the
// lookup began wait for the next.
func (g *gap) lookup(found map[string]HistoryFound, err error, t time.Time, sent map[string]bool) {
	m := g.src.path.m
	if err != nil {
		m.backfillErrors.WithLabelValues(g.src.name).Inc()
		g.log.Warn().Err(err).Int("calls", len(g.held)).Msg("CEL unreadable, retrying")
	}
	g.held = slices.DeleteFunc(g.held, func(h *heldCall) bool {
		if sent[h.id] {
			return true
		}
		if f := found[h.id]; f.OK && !f.Open {
			g.deliver(f.Call, sent)
			return true
		}
		if t.Sub(h.since) < holdFor {
			return false
		}
		m.backfillFallbacks.WithLabelValues(g.src.name).Inc()
		g.log.Warn().Str("call_id", h.id).Dur("waited", t.Sub(h.since)).
			Msg("call not over in CEL: delivered as the live source saw it")
		for _, a := range h.acts {
			g.src.path.intake.Handle(g.src.ctx, a)
		}
		return true
	})
}

// deliver hands a call's activities from the History to the intake, once
// per try; false when it was already handed on.
func (g *gap) deliver(c HistoryCall, sent map[string]bool) bool {
	if sent[c.ID] {
		return false
	}
	sent[c.ID] = true
	for _, a := range c.Activities {
		a = g.src.engine.complete(a)
		g.src.path.m.backfilled.WithLabelValues(g.src.name).Inc()
		g.src.path.intake.Handle(g.src.ctx, a)
	}
	return true
}
