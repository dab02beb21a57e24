package pcap_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/internal/siptest"
	"github.com/callbridge/callbridge/sip/pcap"
)

var tagRE = regexp.MustCompile(`;tag=([^;>\s,]+)`)

// copyOf makes copy k of a recorded call: its own Call-IDs and tags,
// its own ports for every party but the PBX (5060), and its times moved
// so that it starts at start.
func copyOf(ds []pcap.Datagram, k int, start time.Time) []pcap.Datagram {
	shift := start.Sub(ds[0].Time)
	port := func(ap netip.AddrPort) netip.AddrPort {
		if ap.Port() == 5060 {
			return ap
		}
		return netip.AddrPortFrom(ap.Addr(), uint16(20000+20*k+int(ap.Port())-5090))
	}
	out := make([]pcap.Datagram, len(ds))
	for i, d := range ds {
		lines := strings.Split(string(d.Payload), "\r\n")
		for j, l := range lines {
			if l == "" {
				break // the body
			}
			name, v, ok := strings.Cut(l, ":")
			switch n := strings.ToLower(strings.TrimSpace(name)); {
			case !ok:
			case n == "call-id" || n == "i":
				lines[j] = fmt.Sprintf("%s: k%03d-%s", name, k, strings.TrimSpace(v))
			case n == "from" || n == "f" || n == "to" || n == "t":
				lines[j] = tagRE.ReplaceAllString(l, fmt.Sprintf(";tag=k%03d-$1", k))
			}
		}
		out[i] = pcap.Datagram{Time: d.Time.Add(shift), Src: port(d.Src), Dst: port(d.Dst), Payload: []byte(strings.Join(lines, "\r\n"))}
	}
	return out
}

// TestFiveHundredOverlappingCalls: for each recording, one capture of 500
// copies of its call, started 30 ms apart so that hundreds are in
// progress at once with the same users and numbers, gives for every copy
// exactly the activities the recording gives alone: the same fields and
// the same times, moved by the copy's start. Left out: conference_room
// (its copies would all meet in the one room), and load_50 and
// concurrent_mixed_20, which are loads of their own (TestFourSources).
// Under the race detector five recordings are played; .ci/test plays all
// of them again without it.
func TestFiveHundredOverlappingCalls(t *testing.T) {
	const calls = 500
	underRace := map[string]bool{"attended_transfer": true, "call_pickup": true, "queue": true, "ring_group": true, "click_to_dial_originate": true}
	for _, sc := range siptest.Scenarios {
		if sc == "conference_room" || sc == "load_50" || sc == "concurrent_mixed_20" || (raceEnabled && !underRace[sc]) {
			continue
		}
		t.Run(sc, func(t *testing.T) {
			t.Parallel()
			record := datagrams(t, sc, "sip.pcap")
			alone := readActivities(t, record)
			if len(alone) == 0 {
				t.Fatal("no activities alone")
			}
			base := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
			var all []pcap.Datagram
			for k := range calls {
				all = append(all, copyOf(record, k, base.Add(time.Duration(k)*30*time.Millisecond))...)
			}
			slices.SortStableFunc(all, func(a, b pcap.Datagram) int { return a.Time.Compare(b.Time) })
			got := readActivities(t, all)
			if len(got) != calls*len(alone) {
				t.Errorf("%d activities from %d calls, want %d", len(got), calls, calls*len(alone))
			}
			byCopy := map[int][]bridge.Activity{}
			for _, a := range got {
				var k int
				if _, err := fmt.Sscanf(a.CallID, "k%03d-", &k); err != nil {
					t.Fatalf("activity of no copy: call_id %q", a.CallID)
				}
				byCopy[k] = append(byCopy[k], a)
			}
			bad := 0
			for k := range calls {
				shift := base.Add(time.Duration(k) * 30 * time.Millisecond).Sub(record[0].Time)
				g := byCopy[k]
				siptest.Sort(g)
				var want []bridge.Activity
				for _, w := range alone {
					w.StartedAt, w.EndedAt = w.StartedAt.Add(shift), w.EndedAt.Add(shift)
					if !w.AnsweredAt.IsZero() {
						w.AnsweredAt = w.AnsweredAt.Add(shift)
					}
					want = append(want, w)
				}
				if d := siptest.SameActivities(want, g, 0); len(d) > 0 {
					if bad++; bad <= 5 {
						t.Errorf("copy %d: %s", k, strings.Join(d, "; "))
					}
				}
			}
			if bad > 5 {
				t.Errorf("%d copies differ in all", bad)
			}
		})
	}
}

// readActivities writes datagrams as a capture and replays it, learning
// the PBX and trunks from the traffic.
func readActivities(t *testing.T, ds []pcap.Datagram) []bridge.Activity {
	t.Helper()
	var buf bytes.Buffer
	if err := pcap.Write(&buf, ds); err != nil {
		t.Fatal(err)
	}
	var st pcap.Stats
	acts, err := siptest.Activities(siptest.SIPConfig, func(fn func(bridge.Event)) error {
		var err error
		st, err = pcap.Read(&buf, dialog.Config{}, fn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Malformed != 0 || st.Dialog.BadTime != 0 || st.Dialog.Flushed != 0 {
		t.Errorf("stats %+v", st)
	}
	return acts
}
