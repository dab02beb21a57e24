package doubt

import (
	"fmt"
	"testing"
	"time"
)

func TestSuspect(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)
	tr := &Tracker{Now: func() time.Time { return now }}
	if _, ok := tr.Suspect("a", now.Add(-10*time.Second)); ok {
		t.Error("a fresh activity is in doubt")
	}
	if since, ok := tr.Suspect("a", now.Add(-2*time.Minute)); !ok || !since.Equal(now.Add(-2*time.Minute)) {
		t.Errorf("an old activity: %v %v", since, ok)
	}
	tr.Mark("a")
	if since, ok := tr.Suspect("a", now); !ok || !since.Equal(now) {
		t.Errorf("a lost answer: %v %v", since, ok)
	}
	tr.Clear("a")
	if _, ok := tr.Suspect("a", now); ok {
		t.Error("cleared but still in doubt")
	}
	if _, ok := tr.Suspect("z", time.Time{}); ok {
		t.Error("no end time is no evidence")
	}
}

func TestMarksBounded(t *testing.T) {
	tr := &Tracker{}
	for i := range maxMarks + 10 {
		tr.Mark(fmt.Sprint(i))
	}
	if len(tr.marks) != maxMarks {
		t.Fatalf("%d marks kept", len(tr.marks))
	}
	if _, ok := tr.Suspect("0", time.Now()); ok {
		t.Error("the oldest mark was kept")
	}
	for i := range maxMarks + 10 {
		tr.Clear(fmt.Sprint(i))
	}
	if len(tr.order) > 64 {
		t.Errorf("order not compacted: %d", len(tr.order))
	}
}

func TestWritten(t *testing.T) {
	tr := &Tracker{}
	tr.Mark("a")
	tr.Wrote("a")
	if !tr.Written("a") || tr.Written("b") {
		t.Error("written")
	}
	if _, ok := tr.Suspect("a", time.Now()); ok {
		t.Error("written, yet in doubt")
	}
	for i := range maxMarks + 5 {
		tr.Wrote(fmt.Sprint("w", i))
	}
	if tr.Written("a") || len(tr.written) != maxMarks {
		t.Errorf("written not bounded: %d", len(tr.written))
	}
}
