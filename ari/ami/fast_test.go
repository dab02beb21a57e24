package ami

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"
)

// frames reads every packet of in, one string per packet or error. With
// slow, the input arrives a byte at a time, so no message is ever whole in
// the buffer and every one goes through the line by line path.
func frames(in []byte, slow bool) []string {
	var src io.Reader = bytes.NewReader(in)
	if slow {
		src = iotest.OneByteReader(src)
	}
	r := NewReader(src)
	var out []string
	for {
		p, err := r.ReadPacket()
		switch {
		case errors.Is(err, ErrMalformed):
			out = append(out, "malformed")
			continue
		case err != nil:
			return append(out, fmt.Sprint("end: ", err), "banner: "+r.Banner())
		}
		out = append(out, string(p))
	}
}

func recordingStreams(t testing.TB) [][]byte {
	paths, err := filepath.Glob(filepath.Join(testRecordings, "*", "ami.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func sameFrames(t *testing.T, in []byte) {
	t.Helper()
	fast, slow := frames(in, false), frames(in, true)
	if len(fast) != len(slow) {
		t.Fatalf("%d packets from the buffer, %d line by line", len(fast), len(slow))
	}
	for i := range fast {
		if fast[i] != slow[i] {
			t.Fatalf("packet %d: %q from the buffer, %q line by line", i, fast[i], slow[i])
		}
	}
}

// TestReaderBufferedSameAsLines: taking a whole message from the read
// buffer gives what the line by line path gives, on every recording.
func TestReaderBufferedSameAsLines(t *testing.T) {
	for _, in := range recordingStreams(t) {
		sameFrames(t, in)
	}
}

func FuzzReaderBuffered(f *testing.F) {
	for _, s := range seedRecordings(f) {
		f.Add(s)
	}
	f.Add([]byte("\r\n\r\nEvent: A\nB: c\r\n\r\nAsterisk Call Manager/1\r\nEvent: B\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sameFrames(t, in)
	})
}

// sameHeaders checks parseHeaders against goami2's parse on pkt: whatever
// parseHeaders takes, parse takes too, with the same headers in the same
// order. It reports whether parseHeaders took it.
func sameHeaders(t *testing.T, pkt []byte) bool {
	t.Helper()
	fast, ok := parseHeaders(string(pkt))
	m, err := parse(pkt)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%q: parseHeaders took it, parse: %v", pkt, err)
	}
	if !slices.Equal(fast, headers(m.Headers())) {
		t.Fatalf("%q: parseHeaders %q, parse %q", pkt, fast, m.Headers())
	}
	return true
}

// TestParseHeadersSameAsGoami2: every message of every recording parses
// the plain way, to what goami2 gives.
func TestParseHeadersSameAsGoami2(t *testing.T) {
	n := 0
	for _, in := range recordingStreams(t) {
		r := NewReader(bytes.NewReader(in))
		for {
			pkt, err := r.ReadPacket()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameHeaders(t, pkt) {
				t.Fatalf("%q: not taken by parseHeaders", pkt)
			}
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d messages", n)
	}
}

func FuzzParseHeaders(f *testing.F) {
	for _, in := range seedRecordings(f) {
		r := NewReader(bytes.NewReader(in))
		for i := 0; i < 20; i++ {
			pkt, err := r.ReadPacket()
			if err != nil {
				break
			}
			f.Add(bytes.Clone(pkt))
		}
	}
	f.Add([]byte("Event: A\r\nX:\r\nY:   \r\nZ: a\rb\r\n\r\n"))
	f.Add([]byte("Ev(t)@;: x\r\n\r\nMore: y\r\n\r\n"))
	// An LF inside a value, a CR not before an LF, a name that stops short.
	f.Add([]byte("Event: A\r\nX: b\nc\r\n\r\n"))
	f.Add([]byte("Event: A\r\nX: b\rc\r\n\r\n"))
	f.Add([]byte("Event: A\r\nX\r\n\r\n"))
	f.Add([]byte("Event: A\r\n-X: b\r\n\r\n"))
	f.Add([]byte("Event: A\r\nX: b\r"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		sameHeaders(t, pkt)
		fast, ferr := parseFast(pkt)
		m, err := parse(pkt)
		if (ferr == nil) != (err == nil) || err == nil && !slices.Equal(fast, headers(m.Headers())) {
			t.Fatalf("%q: parseFast %q, %v; parse %v", pkt, fast, ferr, err)
		}
	})
}

// containsOurVariable is how wanted used to look for the variables.
func containsOurVariable(pkt []byte) bool {
	return bytes.Contains(pkt, privacyHeader) || bytes.Contains(pkt, dialStatusHeader)
}

// TestOurVariableSameAsContains: on every message of every recording (and
// a few made up) searching for the tails first finds what searching the whole
// message for the two headers finds.
func TestOurVariableSameAsContains(t *testing.T) {
	found := 0
	check := func(pkt []byte) {
		t.Helper()
		got, want := ourVariable(pkt), containsOurVariable(pkt)
		if got != want {
			t.Fatalf("%q: ourVariable %v, Contains %v", pkt, got, want)
		}
		if got {
			found++
		}
	}
	for _, in := range recordingStreams(t) {
		r := NewReader(bytes.NewReader(in))
		for {
			pkt, err := r.ReadPacket()
			if err != nil {
				break
			}
			check(pkt)
		}
	}
	if found == 0 {
		t.Fatal("no recording sets a variable the engine uses")
	}
	for _, s := range []string{
		"Event: VarSet\r\nVariable: DIALSTATUS\r\n\r\n",
		"Variable: DIALSTATUS\r\n",
		"Event: VarSet\nVariable: DIALSTATUS\r\n\r\n",
		"Event: VarSet\r\nVariable: __CALLBRIDGE_PRIVACY\r\n",
		"Event: VarSet\r\nValue: xCALLBRIDGE_PRIVACY\r\n",
		"CALLBRIDGE_PRIVACY\n",
		"Event: VarSet\r\nVariable: DIALSTATUS",
	} {
		check([]byte(s))
	}
}

func FuzzOurVariable(f *testing.F) {
	f.Add([]byte("Event: VarSet\r\nVariable: DIALSTATUS\r\n\r\n"))
	f.Add([]byte("Event: VarSet\r\nVariable: CALLBRIDGE_PRIVACY\r\nValue: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if got, want := ourVariable(pkt), containsOurVariable(pkt); got != want {
			t.Fatalf("%q: ourVariable %v, Contains %v", pkt, got, want)
		}
	})
}
