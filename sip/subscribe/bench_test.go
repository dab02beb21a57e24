package subscribe

import (
	"testing"
	"time"
)

// BenchmarkNotifyBody measures the per-NOTIFY work after the SIP layer:
// parsing an Asterisk body and applying it.
func BenchmarkNotifyBody(b *testing.B) {
	bodies := [][]byte{[]byte(asteriskEarly), []byte(asteriskConfirmed), []byte(asteriskIdle)}
	l := newLive()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		info, err := ParseDialogInfo(bodies[i%len(bodies)])
		if err != nil {
			b.Fatal(err)
		}
		info.Version = uint64(i)
		l.apply("101", info, time.Time{})
	}
}
