package demo

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"path"

	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
	"github.com/callbridge/callbridge/internal/pipeline"
)

//go:embed recordings/*.jsonl
var recordings embed.FS

// order tells the calls as a working day might: simple calls first, then
// the ones that trip other bridges up.
var order = []string{
	"inbound_answered", "inbound_missed_cancel", "inbound_busy", "outbound_answered",
	"outbound_unanswered", "internal_answered", "short_call", "ring_group",
	"queue_local_members", "attended_transfer",
}

// Options tune the demo.
type Options struct {
	// Speed divides the recorded pauses between events (10: ten times
	// faster than the real calls); 0 plays as fast as possible.
	Speed float64
	// All also shows activities that are not written by default (ring
	// group and queue members who lost the race: answered elsewhere).
	All bool
	// Live prints what each agent's caller card is told as it happens
	// (offer, open, close, connected, ended), as /agent shows it.
	Live bool
	// Log receives the source's log lines (the default discards them).
	Log zerolog.Logger
	// OnActivity, if set, is called with every activity shown, after it is
	// printed.
	OnActivity func(bridge.Activity)
	// Deliver sends the activities through the policy and the durable
	// queue (embedded store, in a temporary directory) to a local webhook
	// that stands in for a CRM, and prints what arrived.
	Deliver bool
	// CRM is where Deliver delivers: "" or "webhook" for the local
	// webhook, or a preset (CRMs) whose connector writes to its CRM's
	// strict fake, seeded with the demo's users and caller.
	CRM string
}

// Recordings returns the embedded recordings in demo order.
func Recordings() ([]fakeari.Recording, error) {
	var recs []fakeari.Recording
	for _, name := range order {
		b, err := recordings.ReadFile(path.Join("recordings", name+".jsonl"))
		if err != nil {
			return nil, err
		}
		r, err := fakeari.ReadRecording(name, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Run plays every recording and writes the table to w. It returns when all
// calls have been played and their activities printed, or ctx is done.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	recs, err := Recordings()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	names := scenarioByCall(recs)
	expected := mappedEvents(recs)
	recs = fakeari.Chain(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), 1500*time.Millisecond, recs...)
	srv, err := fakeari.New(fakeari.Options{Recordings: recs, Speed: opts.Speed, AwaitList: true,
		Username: "callbridge", Password: "demo-only-secret"})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer srv.Close()

	src, err := ari.NewSource(ari.Config{URL: srv.URL(), Username: srv.Username(), Password: srv.Password(),
		Application: "callbridge", Logger: opts.Log}, nil)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	var dl *deliverer
	if opts.Deliver {
		if dl, err = startDelivery(opts.Log, opts.CRM); err != nil {
			return fmt.Errorf("demo: delivery: %w", err)
		}
	}

	t := newTable(w, names, opts)
	t.header()
	// The same path as the daemon's, with the table for sink.file: the
	// table shows what the engine finished, the policy decides what the
	// CRM gets.
	parts := pipeline.Parts{
		Sources: map[string]pipeline.Source{"ari": src},
		Engine: bridge.Config{Trunks: []string{"pstn"},
			Users: []bridge.User{{Extension: "101", Name: "Alice"}, {Extension: "102", Name: "Bob"}, {Extension: "103", Name: "Carol"}}},
		Normalizer: phone.NewNormalizer("FI"),
		Sink:       t,
		Logger:     opts.Log,
	}
	if opts.Live {
		d := newDesk(t)
		parts.Live = func(_ string, tr bridge.Transition) { d.transition(tr) }
	}
	if dl != nil {
		parts.CRM = dl.parts()
	}
	p, err := pipeline.Build(parts)
	if err != nil {
		if dl != nil {
			dl.close()
		}
		return fmt.Errorf("demo: %w", err)
	}
	if dl != nil {
		dl.start(ctx, p)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcDone := make(chan error, 1)
	go func() { srcDone <- p.RunSources(sctx) }()
	if err := srv.Play(sctx); err != nil {
		cancel()
		<-srcDone
		if dl != nil {
			dl.stop()
		}
		return fmt.Errorf("demo: play: %w", err)
	}
	// Play returns once everything is written to the websocket; wait for
	// the source to have read and handled it all. (The engine holding no
	// call is not enough: it is also true between two calls.)
	deadline := time.Now().Add(30 * time.Second)
	for {
		calls, handled := p.Stats()
		if (handled >= expected && calls == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-srcDone; err != nil && !errors.Is(err, context.Canceled) {
		if dl != nil {
			dl.stop()
		}
		return fmt.Errorf("demo: ari source: %w", err)
	}
	p.Flush(ctx)
	t.footer()
	if dl != nil {
		dl.finish(w)
	}
	return nil
}

// mappedEvents counts the events the recordings hold for the engine.
func mappedEvents(recs []fakeari.Recording) int {
	n := 0
	for _, r := range recs {
		for _, l := range r.Lines {
			if _, ok, err := ari.Decode(l); err == nil && ok {
				n++
			}
		}
	}
	return n
}

// scenarioByCall names each recording's call by its first channel id, which
// the engine uses as call id.
func scenarioByCall(recs []fakeari.Recording) map[string]string {
	m := make(map[string]string)
	for _, r := range recs {
		for _, l := range r.Lines {
			ev, ok, err := ari.Decode(l)
			if err == nil && ok && ev.Kind == bridge.ChannelCreated {
				m[ev.Channel.ID] = r.Name
				break
			}
		}
	}
	return m
}

// table prints the activities as they are finished: the demo's sink.
type table struct {
	w      io.Writer
	names  map[string]string
	opts   Options
	mu     sync.Mutex
	shown  int
	hidden int
}

func newTable(w io.Writer, names map[string]string, opts Options) *table {
	return &table{w: w, names: names, opts: opts}
}

// Write implements pipeline.Writer: one row, unless it is an
// answered-elsewhere leg and --all is off.
func (t *table) Write(a bridge.Activity) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.Reason == bridge.ReasonAnsweredElsewhere && !t.opts.All {
		t.hidden++
		return nil
	}
	t.row(a)
	t.shown++
	if t.opts.OnActivity != nil {
		t.opts.OnActivity(a)
	}
	return nil
}

const rowFormat = "%-8s  %-21s  %-11s  %-8s  %-10s  %-18s  %-14s  %5s  %5s  %s\n"

func (t *table) header() {
	speed := "as fast as possible"
	if t.opts.Speed > 0 {
		speed = fmt.Sprintf("%g× real time", t.opts.Speed)
	}
	fmt.Fprintf(t.w, "callbridge demo: %d real calls recorded on Asterisk 22, replayed over a local ARI websocket (%s)\n\n", len(order), speed)
	fmt.Fprintf(t.w, rowFormat, "STARTED", "SCENARIO", "USER", "DIR", "STATE", "REASON", "REMOTE", "RING", "TALK", "NOTE")
}

func (t *table) row(a bridge.Activity) {
	user := a.User
	if a.UserName != "" {
		user += " " + a.UserName
	}
	remote := a.RemoteNumber
	if a.RemoteE164 != "" {
		remote = a.RemoteE164
	}
	var note []string
	if a.Internal {
		note = append(note, "internal")
	}
	if a.DDI != "" {
		note = append(note, "dialled "+a.DDI)
	}
	if a.TransferredBy != "" {
		note = append(note, "transferred by "+a.TransferredBy)
	}
	fmt.Fprintf(t.w, rowFormat, a.StartedAt.UTC().Format("15:04:05"), t.names[a.CallID], user, a.Direction,
		a.State, a.Reason, remote, secs(a.RingSeconds), secs(a.TalkSeconds), strings.Join(note, ", "))
}

func (t *table) footer() {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "\n%d activities", t.shown)
	if t.hidden > 0 {
		fmt.Fprintf(t.w, "; %d ring-group/queue members who lost the race to a colleague are not written (see them with --all)", t.hidden)
	}
	fmt.Fprintln(t.w, ".")
}

func secs(s float64) string { return fmt.Sprintf("%.1fs", s) }
