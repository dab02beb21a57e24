package cel_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
)

// seedCSV returns the recordings' cel.csv files: fuzz seeds come from what
// a real Asterisk wrote.
func seedCSV(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(recordings, "*", "cel.csv"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no recordings: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkEvent fails on an event the engine could not use the way its kind
// says.
func checkEvent(t *testing.T, ev bridge.Event) {
	t.Helper()
	if ev.Time.IsZero() {
		t.Fatalf("event without a time: %+v", ev)
	}
	switch ev.Kind {
	case bridge.Dial:
		if ev.Peer.ID == "" {
			t.Fatalf("Dial without a peer: %+v", ev)
		}
	case bridge.ChannelCreated, bridge.ChannelUpdated, bridge.BridgeEnter, bridge.BridgeLeave,
		bridge.BlindTransfer, bridge.AttendedTransfer, bridge.VarSet, bridge.HangupRequest, bridge.ChannelDestroyed, bridge.DTMF:
		if ev.Channel.ID == "" {
			t.Fatalf("%v without a channel: %+v", ev.Kind, ev)
		}
	default:
		t.Fatalf("unexpected kind %v", ev.Kind)
	}
	if (ev.Kind == bridge.BridgeEnter || ev.Kind == bridge.BridgeLeave) && ev.Bridge == "" {
		t.Fatalf("bridge event without a bridge: %+v", ev)
	}
}

// FuzzReadRecording: whatever the bytes, reading a CEL CSV neither fails
// nor panics, every line is counted once, and the events it gives are ones
// the engine can take (the engine is fed them too).
func FuzzReadRecording(f *testing.F) {
	for _, rec := range seedCSV(f) {
		for i := 0; i < len(rec); i += 2500 {
			f.Add(rec[i:min(len(rec), i+3500)])
		}
	}
	f.Add([]byte(`"HANGUP","1","","","","","","","","PJSIP/1-1","","","","",1.1,1.1,"","","","{""hangupcause"":999}"`))
	f.Add([]byte("\"BRIDGE_ENTER\",\"x\"\n\"\"\"\n,,,,"))
	f.Fuzz(func(t *testing.T, data []byte) {
		eng := bridge.New(bridge.Config{Trunks: []string{"pstn"}})
		var last time.Time
		st, err := cel.ReadRecording(bytes.NewReader(data), time.UTC, func(ev bridge.Event) {
			checkEvent(t, ev)
			last = ev.Time
			eng.Apply(ev)
		})
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		eng.Flush(last)
		lines := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(strings.TrimRight(l, "\r")) != "" {
				lines++
			}
		}
		if st.Rows != lines || st.Mapped+st.Skipped+st.Malformed != st.Rows {
			t.Fatalf("%d lines, stats %+v", lines, st)
		}
	})
}

// FuzzOtherCall: a row of another call, however broken, changes nothing
// in a call it does not name. The fuzzed line goes into the middle of
// inbound_answered's rows; unless it mentions that call's channels, the
// call's activity is what it is without it.
func FuzzOtherCall(f *testing.F) {
	base, err := os.ReadFile(filepath.Join(recordings, "inbound_answered", "cel.csv"))
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(base)), "\n")
	for _, rec := range seedCSV(f) {
		for _, l := range strings.Split(string(rec), "\n")[:8] {
			f.Add(l)
		}
	}
	replay := func(extra string) []bridge.Activity {
		in := strings.Join(lines[:5], "") + extra + "\n" + strings.Join(lines[5:], "")
		var evs []bridge.Event
		if _, err := cel.ReadRecording(strings.NewReader(in), time.UTC, func(ev bridge.Event) { evs = append(evs, ev) }); err != nil {
			f.Fatal(err)
		}
		var mine []bridge.Activity
		for _, a := range activities("cel", evs) {
			if a.CallID == "1795277374.2" {
				mine = append(mine, a)
			}
		}
		return mine
	}
	want := brief(replay(""))
	if want == "" {
		f.Fatal("no activity in inbound_answered")
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ReplaceAll(line, "\n", " ")
		if strings.Contains(line, "1795277374.") || strings.Contains(line, "PJSIP/pstn-00000002") || strings.Contains(line, "PJSIP/101-00000003") ||
			strings.Contains(line, "0aa18731") {
			t.Skip("names the call")
		}
		if got := brief(replay(line)); got != want {
			t.Fatalf("a row of another call changed it:\n got%s\nwant%s", got, want)
		}
	})
}

// FuzzMapRow: a row with any field values, fed into the middle of a
// recording's rows (as a database reader hands them over, no CSV in
// between), neither panics nor gives an event the engine cannot take, is
// counted once, and leaves the recording's other calls as they were.
// Seeds are the recordings' own rows.
func FuzzMapRow(f *testing.F) {
	for _, sc := range []string{"attended_transfer", "call_park_retrieve", "queue_local_members", "call_pickup"} {
		for _, r := range celRows(f, sc) {
			f.Add(r.Event, r.UserEvent, r.UniqueID, r.LinkedID, r.ChanName, r.AppName, r.AppData, r.Exten, r.Extra, int64(0))
		}
	}
	base := celRows(f, "ring_group")
	other := celRows(f, "inbound_answered")
	want := brief(activities("cel", mapRows(other)))
	f.Fuzz(func(t *testing.T, event, userEvent, unique, linked, chanName, appName, appData, exten, extra string, offset int64) {
		r := base[3]
		if err := r.SetEvent(event, userEvent); err != nil {
			r.Event, r.UserEvent = event, userEvent // as a broken reader might
		}
		r.UniqueID, r.LinkedID, r.ChanName, r.AppName, r.AppData, r.Exten, r.Extra = unique, linked, chanName, appName, appData, exten, extra
		r.Time = r.Time.Add(time.Duration(offset % int64(time.Hour)))
		rows := append(append(append([]cel.Row{}, base[:4]...), r), base[4:]...)
		all := append(rows, other...)
		var evs []bridge.Event
		m := cel.NewMapper(func(ev bridge.Event) { checkEvent(t, ev); evs = append(evs, ev) })
		for _, row := range all {
			m.Feed(row)
		}
		m.Flush()
		st := m.Stats()
		if st.Rows != len(all) || st.Mapped+st.Skipped+st.Malformed != st.Rows {
			t.Fatalf("stats %+v for %d rows", st, len(all))
		}
		var mine []bridge.Activity
		for _, a := range activities("cel", evs) {
			if a.CallID == other[0].LinkedID {
				mine = append(mine, a)
			}
		}
		if strings.Contains(unique+linked+chanName+extra, "1795277374.") || strings.Contains(chanName+extra, "PJSIP/") {
			return // names inbound_answered's call or could
		}
		if got := brief(mine); got != want {
			t.Fatalf("a row of another call changed inbound_answered:\n got%s\nwant%s", got, want)
		}
	})
}
