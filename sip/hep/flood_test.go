package hep_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/internal/siptest"
)

// feedAll runs HEP packets through a Feeder (the collector's own path for
// each packet) and an engine, and returns the activities as JSON lines.
func feedAll(t *testing.T, pkts [][]byte) (string, *hep.Feeder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	eng := bridge.New(siptest.SIPConfig)
	var acts []bridge.Activity
	var last time.Time
	out := func(ev bridge.Event) {
		if ev.Time.After(last) {
			last = ev.Time
		}
		for _, tr := range eng.Apply(ev) {
			if tr.Activity != nil {
				acts = append(acts, *tr.Activity)
			}
		}
	}
	f := hep.NewFeeder(hep.Config{Logger: zerolog.Nop(), Registerer: reg}, out)
	for _, b := range pkts {
		if err := f.Packet(b, "udp"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tr := range eng.Flush(last) {
		if tr.Activity != nil {
			acts = append(acts, *tr.Activity)
		}
	}
	var sb strings.Builder
	for _, a := range acts {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String(), f, reg
}

// garbage is a burst of malformed HEP packets made around next, the real
// packet that follows it: packets that do not decode, SIP that does not
// parse or lacks the dialog headers, and copies of next itself whose
// capture time is missing, zero, out of range, years before or after the
// call. None of them may change any call.
func garbage(t *testing.T, rng *rand.Rand, next []byte) [][]byte {
	t.Helper()
	p, err := hep.Decode(next)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(q hep.Packet) []byte {
		b, err := hep.Encode(q)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var out [][]byte
	// Bytes that are not HEP, and HEP cut short.
	for range 4 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		out = append(out, b)
	}
	for _, n := range []int{0, 3, 5, 6, 12, len(next) / 2, len(next) - 1} {
		out = append(out, next[:n])
	}
	// A length field beyond the packet, and a chunk claiming more than
	// the packet holds.
	long := bytes.Clone(next)
	binary.BigEndian.PutUint16(long[4:], uint16(len(next)+40))
	badChunk := bytes.Clone(next)
	binary.BigEndian.PutUint16(badChunk[10:], 0xfff0)
	out = append(out, long, badChunk)
	// SIP that does not parse, and SIP without the dialog headers.
	for _, body := range []string{"", "garbage\r\n\r\n", "SIP/2.0 200\r\n", "INVITE sip:101@x SIP/2.0\r\nVia: x\r\n\r\n",
		"BYE sip:x SIP/2.0\r\nCall-ID: " + callID(p.Payload) + "\r\n\r\n"} {
		q := p
		q.Payload = []byte(body)
		out = append(out, enc(q))
	}
	// The real next message with a broken capture time: none, zero,
	// microseconds out of range, ten years before, ten years after.
	q := p
	q.Time = time.Time{}
	out = append(out, enc(q))
	zero := enc(q)
	zero = appendChunk(zero, hep.ChunkTimeSec, []byte{0, 0, 0, 0})
	out = append(out, zero)
	badUsec := appendChunk(enc(q), hep.ChunkTimeSec, binary.BigEndian.AppendUint32(nil, uint32(p.Time.Unix())))
	badUsec = appendChunk(badUsec, hep.ChunkTimeUsec, binary.BigEndian.AppendUint32(nil, 2_000_000))
	out = append(out, badUsec)
	for _, d := range []time.Duration{-10 * 365 * 24 * time.Hour, 10 * 365 * 24 * time.Hour} {
		q.Time = p.Time.Add(d)
		out = append(out, enc(q))
	}
	// Not SIP at all (RTCP reports), with the real payload.
	q = p
	q.ProtoType = 5
	out = append(out, enc(q))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// appendChunk adds a vendor-0 chunk to a HEP3 packet and fixes its length.
func appendChunk(b []byte, typ uint16, v []byte) []byte {
	b = bytes.Clone(b)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
	b = append(b, v...)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

func callID(msg []byte) string {
	for _, l := range strings.Split(string(msg), "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && (strings.EqualFold(k, "Call-ID") || k == "i") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestMalformedFloodChangesNoCall: a flood of malformed HEP packets before
// every packet of real calls leaves their activities byte-identical to
// the same calls without it.
func TestMalformedFloodChangesNoCall(t *testing.T) {
	for _, sc := range []string{"inbound_answered", "ring_group", "attended_transfer", "inbound_noanswer_timeout", "concurrent_mixed_20"} {
		t.Run(sc, func(t *testing.T) {
			var clean [][]byte
			for _, d := range recorded(t, sc) {
				clean = append(clean, d.Payload)
			}
			want, _, _ := feedAll(t, clean)
			if want == "" {
				t.Fatal("no activities without the flood")
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(sc))))
			var flooded [][]byte
			for i, b := range clean {
				if i > 0 {
					flooded = append(flooded, garbage(t, rng, b)...)
				}
				flooded = append(flooded, b)
			}
			got, f, _ := feedAll(t, flooded)
			if got != want {
				t.Errorf("activities with the flood:\n%s\nwithout:\n%s", got, want)
			}
			if st := f.Stats(); st.BadTime == 0 {
				t.Errorf("no bad capture time counted: %+v", st)
			}
			for _, kind := range []string{"hep", "sip", "time"} {
				if n := testutil.ToFloat64(f.MalformedCounter(kind)); n == 0 {
					t.Errorf("malformed %s not counted", kind)
				}
			}
		})
	}
}

// FuzzFeeder feeds a recorded call's HEP packets, one of them replaced by
// fuzz bytes, through the collector's per-packet path: nothing panics,
// no event has a zero time, and after Flush no dialog is open.
func FuzzFeeder(f *testing.F) {
	base := recorded(f, "attended_transfer")
	for _, sc := range siptest.Scenarios {
		for i, d := range recorded(f, sc) {
			if i%4 == 0 {
				f.Add(uint8(i), d.Payload)
			}
		}
	}
	f.Fuzz(func(t *testing.T, at uint8, b []byte) {
		out := func(ev bridge.Event) {
			if ev.Time.IsZero() {
				t.Fatalf("event without a time: %+v", ev)
			}
		}
		fd := hep.NewFeeder(hep.Config{Logger: zerolog.Nop()}, out)
		i := int(at) % len(base)
		for j, d := range base {
			p := d.Payload
			if j == i {
				p = b
			}
			if err := fd.Packet(p, "udp"); err != nil {
				return // the PBX could not be learnt: an error, not a crash
			}
		}
		_ = fd.Flush()
		if st := fd.Stats(); st.Live != 0 {
			t.Fatalf("%d dialogs open after Flush", st.Live)
		}
	})
}
