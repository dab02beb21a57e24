package ami

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

const testRecordings = "../../testdata/recordings"

// seedRecordings returns the recorded streams; fuzz seeds come from what a
// real Asterisk sent.
func seedRecordings(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(testRecordings, "*", "ami.txt"))
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

func FuzzReadRecording(f *testing.F) {
	for _, rec := range seedRecordings(f) {
		// Small pieces keep the fuzzer quick; the cut ends exercise
		// truncation.
		for i := 0; i < len(rec); i += 3000 {
			f.Add(rec[i:min(len(rec), i+4000)])
		}
	}
	f.Add([]byte("Asterisk Call Manager/11.0.0\r\n\r\n\r\nEvent: Hangup\r\nUniqueid\r\n"))
	// A session that resynced: the lab's adopt_mid_talk opens with its
	// CoreShowChannels list.
	if rec, err := os.ReadFile("../../testdata/lab/adopt_mid_talk/ami.txt"); err == nil {
		f.Add(rec[:min(len(rec), 4000)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ReadRecording(bytes.NewReader(data), func(ev bridge.Event) {
			if ev.Kind == bridge.Snapshot {
				if ev.Channels == nil {
					t.Fatalf("snapshot without a channel list: %+v", ev)
				}
				return
			}
			checkEvent(t, ev)
		})
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		if st.Mapped+st.Skipped+st.Malformed != st.Messages {
			t.Fatalf("stats do not add up: %+v", st)
		}
	})
}

func FuzzDecode(f *testing.F) {
	seen := map[string]bool{}
	for _, rec := range seedRecordings(f) {
		for _, msg := range strings.Split(string(rec), "\r\n\r\n") {
			name, _, _ := strings.Cut(msg, "\r\n")
			if !seen[name] {
				seen[name] = true
				f.Add([]byte(msg + "\r\n\r\n"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, ok, err := Decode(data, time.Unix(1, 0))
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if ok {
			checkEvent(t, ev)
		}
	})
}

// checkEvent holds what the engine may rely on for any delivered event.
func checkEvent(t *testing.T, ev bridge.Event) {
	t.Helper()
	switch {
	case ev.Kind == bridge.KindUnknown || ev.Kind == bridge.Snapshot:
		t.Fatalf("delivered kind %v", ev.Kind)
	case ev.Kind == bridge.Dial && ev.Peer.ID == "":
		t.Fatalf("dial without peer: %+v", ev)
	case ev.Kind != bridge.Dial && ev.Channel.ID == "":
		t.Fatalf("%v without channel: %+v", ev.Kind, ev)
	case ev.Time.IsZero() && ev.Kind != bridge.KindUnknown:
		// Zero only when neither a Timestamp nor a previous event gave a
		// time, which ReadRecording allows for the very first event.
	}
}
