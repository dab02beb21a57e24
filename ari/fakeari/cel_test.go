package fakeari

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
)

// celWriter keeps what playback writes and how far it had played then.
type celWriter struct {
	s      *Server
	mu     sync.Mutex
	buf    bytes.Buffer
	played []int
}

func (w *celWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.played = append(w.played, w.s.Played())
	return w.buf.Write(b)
}

// TestCEL: playback writes a recording's CEL rows, moved and tagged like
// its events, in step with them (each row after the events before it,
// before those after it), also with nobody connected; read back they give
// the activities the original cel.csv gives, under the tagged ids and at
// the moved times.
func TestCEL(t *testing.T) {
	for _, name := range []string{"attended_transfer", "queue_local_members", "concurrent_mixed_20"} {
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			rows, err := LoadCEL(filepath.Join(recordings, name, "cel.csv"))
			if err != nil {
				t.Fatal(err)
			}
			rec.CEL, rec.Tag = rows, "-r7"
			rec.Start = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
			w := &celWriter{}
			s := start(t, Options{Recordings: []Recording{rec}, CEL: w})
			w.s = s
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Play waits for a client at its start only; this one goes
			// away at once, and playback goes on to nobody.
			done := make(chan error, 1)
			go func() { done <- s.Play(ctx) }()
			c, err := websocket.Dial(wsURL(s, "app=a&subscribeAll=true&api_key=asterisk:asterisk"), "", "http://localhost/")
			if err != nil {
				t.Fatal(err)
			}
			for s.Played() == 0 && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			c.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			if got, want := w.buf.String(), string(bytes.Join(rec.CELRows(), nil)); got != want {
				t.Fatalf("written rows differ from CELRows")
			}
			// hw[k]: the newest event time once k events were played.
			hw := []time.Time{{}}
			for _, l := range rec.Messages() {
				last := hw[len(hw)-1]
				if ts, ok := timestamp(l); ok && ts.After(last) {
					last = ts
				}
				hw = append(hw, last)
			}
			var due time.Time
			for i, row := range rec.celRows() {
				if row.at.After(due) {
					due = row.at
				}
				// Written before event p: the clock had not reached the
				// row before it and did with it (rows keep file order).
				p := w.played[i]
				late := hw[p].After(due.Add(time.Millisecond))
				early := p+1 < len(hw) && due.After(hw[p+1].Add(time.Millisecond))
				if late || early {
					t.Fatalf("row %d (%s, due %s) written before event %d (clock %s then %s)", i, row.at, due, p, hw[p], hw[min(p+1, len(hw)-1)])
				}
			}

			orig := activitiesOf(t, strings.NewReader(strings.Join(lines(rows), "\n")))
			moved := activitiesOf(t, &w.buf)
			if len(orig) == 0 || len(orig) != len(moved) {
				t.Fatalf("%d activities from the moved rows, %d from the originals", len(moved), len(orig))
			}
			shift := rec.shift()
			for i, a := range orig {
				m := moved[i]
				if m.CallID != a.CallID+"-r7" || !m.StartedAt.Equal(a.StartedAt.Add(shift)) || !m.EndedAt.Equal(a.EndedAt.Add(shift)) ||
					m.State != a.State || m.Reason != a.Reason || m.User != a.User || m.TalkSeconds != a.TalkSeconds {
					t.Errorf("activity %d: moved %+v\n from %+v", i, m, a)
				}
			}
		})
	}
}

func lines(b [][]byte) []string {
	out := make([]string, len(b))
	for i, l := range b {
		out[i] = string(l)
	}
	return out
}

func activitiesOf(t *testing.T, r interface{ Read([]byte) (int, error) }) []bridge.Activity {
	t.Helper()
	e := bridge.New(bridge.Config{Source: "cel", Trunks: []string{"pstn", "pstn2"}})
	var out []bridge.Activity
	var last time.Time
	st, err := cel.ReadRecording(r, time.UTC, func(ev bridge.Event) {
		last = ev.Time
		for _, tr := range e.Apply(ev) {
			if tr.Activity != nil {
				out = append(out, *tr.Activity)
			}
		}
	})
	if err != nil || st.Malformed != 0 {
		t.Fatalf("read: %v %+v", err, st)
	}
	for _, tr := range e.Flush(last) {
		if tr.Activity != nil {
			out = append(out, *tr.Activity)
		}
	}
	return out
}
