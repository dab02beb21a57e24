package ami

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
