package dialog_test

import (
	"bytes"
	"testing"

	"github.com/callbridge/callbridge/sip/dialog"
)

// TestQuickParseRecorded: on every message of every recording and lab
// recording, the tracker's own parser either leaves the message to sipgo
// or reads from it exactly what sipgo's parse gives; and it takes nearly
// all of them, or it would not be worth having.
func TestQuickParseRecorded(t *testing.T) {
	ps := recordedPayloads(t)
	if len(ps) < 1000 {
		t.Fatalf("only %d recorded messages", len(ps))
	}
	taken := 0
	for i, p := range ps {
		quick, sipgo, ok := dialog.ParseQuick(p)
		if !ok {
			continue
		}
		taken++
		if quick != sipgo {
			t.Fatalf("message %d:\n%s\nquick parse:\n%s\nsipgo parse:\n%s", i, p, quick, sipgo)
		}
	}
	t.Logf("%d of %d messages parsed without sipgo", taken, len(ps))
	if taken < len(ps)*9/10 {
		t.Errorf("only %d of %d messages parsed without sipgo", taken, len(ps))
	}
}

// FuzzQuickParse: whatever the message, when the tracker's own parser
// takes it, sipgo parses it and agrees on every value the tracker reads.
func FuzzQuickParse(f *testing.F) {
	for _, p := range recordedPayloads(f) {
		f.Add(p)
	}
	for _, s := range []string{
		"INVITE sip:1@h SIP/2.0\r\nFrom: \"A\" <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:1@h SIP/2.0\r\nf: A <sip:a@h:5060;x=y>;tag=1;tag\r\nt: <sips://b@h>;tag=a=b\r\ni: c\r\nCSeq: 01 INVITE\r\nl: 3\r\n\r\nv=0\r\n",
		"SIP/2.0 200 SIP\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
		"SIP/2.0 180 Ringing\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nFrom: <sip:c@h>\r\n\r\n",
		"BYE sip:1@h SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nReason: Q.850;cause=16\r\nReason: SIP;cause=200\r\nUser-Agent: Asterisk PBX\r\n\r\n",
		"INVITE sip:1@h SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nP-Asserted-Identity: \"B\" <sip:2@h>\r\nReplaces: x;to-tag=1;from-tag=2\r\nDiversion: <sip:3@h>;reason=user-busy\r\n\r\n",
		"INVITE sip:1@h SIP/2.0\r\nFrom \u00a0: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
		"INVITE sip:1@h SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nDiversion:\r\nDiversion: <sip:3@h>\r\nP-Asserted-Identity:\r\nP-Asserted-Identity: <sip:4@h>\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if quick, sipgo, ok := dialog.ParseQuick(p); ok && quick != sipgo {
			t.Fatalf("%q:\nquick parse:\n%s\nsipgo parse:\n%s", p, quick, sipgo)
		}
	})
}

// FuzzQuickParseFields is FuzzQuickParse with the fuzz input put in the
// places the tracker's parser reads (the start line, From, To, CSeq and
// one more header) of an otherwise well-formed message, so that most
// inputs are ones it takes rather than leaves to sipgo.
func FuzzQuickParseFields(f *testing.F) {
	for _, p := range recordedPayloads(f)[:400] {
		start, rest, _ := bytes.Cut(p, []byte("\r\n"))
		var from, to, cseq, other []byte
		for _, line := range bytes.Split(rest, []byte("\r\n")) {
			name, value, _ := bytes.Cut(line, []byte(":"))
			switch string(bytes.ToLower(name)) {
			case "from":
				from = bytes.TrimSpace(value)
			case "to":
				to = bytes.TrimSpace(value)
			case "cseq":
				cseq = bytes.TrimSpace(value)
			case "p-asserted-identity", "reason", "user-agent", "replaces", "diversion", "server":
				other = line
			}
		}
		f.Add(start, from, to, cseq, other)
	}
	f.Fuzz(func(t *testing.T, start, from, to, cseq, other []byte) {
		var b bytes.Buffer
		b.Write(start)
		b.WriteString("\r\nFrom: ")
		b.Write(from)
		b.WriteString("\r\nTo: ")
		b.Write(to)
		b.WriteString("\r\nCall-ID: c1\r\nCSeq: ")
		b.Write(cseq)
		b.WriteString("\r\n")
		b.Write(other)
		b.WriteString("\r\nContent-Length: 0\r\n\r\n")
		p := b.Bytes()
		if quick, sipgo, ok := dialog.ParseQuick(p); ok && quick != sipgo {
			t.Fatalf("%q:\nquick parse:\n%s\nsipgo parse:\n%s", p, quick, sipgo)
		}
	})
}

// BenchmarkParse: the parse of every recorded message, as Feed does it
// (quick) and with sipgo alone (sipgo, on the slim copy).
func BenchmarkParse(b *testing.B) {
	ps := recordedPayloads(b)
	for _, sipgoOnly := range []bool{false, true} {
		name := "quick"
		if sipgoOnly {
			name = "sipgo"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dialog.ParseEach(ps, sipgoOnly)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/msg")
		})
	}
}
