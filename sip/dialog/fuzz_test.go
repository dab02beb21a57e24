package dialog_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/dialog"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

// FuzzParseAddr: any string parses or fails, never panics, and what
// parses prints back to an address that parses the same.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5060", "10.0.0.5", "192.0.2.0/24", "[2001:db8::5]:5060", "2001:db8::/32", "::ffff:10.0.0.1", "1.2.3.4/40", "pbx.example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := dialog.ParseAddr(s)
		if err != nil {
			return
		}
		b, err := dialog.ParseAddr(a.String())
		if err != nil || b.Prefix != a.Prefix || (b.Port != a.Port && a.Prefix.Bits() == a.Prefix.Addr().BitLen()) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, a, a.String(), b, err)
		}
		if a.Prefix.IsValid() && a.Port == 0 && !a.Match(netip.AddrPortFrom(a.Prefix.Addr(), 5060)) {
			t.Fatalf("%v does not match its own address", a)
		}
	})
}

// FuzzTrackerLearning feeds a recorded call, learning the PBX from the
// traffic, with one fuzz message (payload and capture time) put in among
// its messages: whatever it says, nothing panics, no event has a zero
// time, and after Flush no dialog is open.
func FuzzTrackerLearning(f *testing.F) {
	base := recordedMessages(f, "call_pickup", "sip.pcap")
	for _, sc := range siptest.Scenarios {
		ms := recordedMessages(f, sc, "sip.pcap")
		for i, m := range ms {
			if i%3 == 0 {
				f.Add(uint8(i), int64(0), m.Payload)
			}
		}
		f.Add(uint8(len(ms)), int64(10*365*24*time.Hour), ms[0].Payload)
	}
	f.Fuzz(func(t *testing.T, at uint8, shift int64, payload []byte) {
		tr := dialog.New(dialog.Config{LearnBuffer: 8})
		out := func(ev bridge.Event) {
			if ev.Time.IsZero() || (ev.Kind != bridge.Dial && ev.Channel.ID == "") {
				t.Fatalf("bad event %+v", ev)
			}
		}
		i := int(at) % (len(base) + 1)
		for j := 0; j <= len(base); j++ {
			if j == i {
				m := base[min(j, len(base)-1)]
				m.Payload, m.Time = payload, m.Time.Add(time.Duration(shift))
				_ = tr.Feed(m, out)
			}
			if j < len(base) {
				_ = tr.Feed(base[j], out)
			}
		}
		_ = tr.Flush(base[len(base)-1].Time, out)
		if st := tr.Stats(); st.Live != 0 {
			t.Fatalf("%d dialogs open after Flush", st.Live)
		}
	})
}
