package journal

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The mark is the time of the newest event the journal's source processed,
// kept beside the journal (<path>.seen) for when the journal itself is
// empty: a daemon restarted after a crash knows from it where its gap in
// the PBX's history began, which a backfill from the PBX's own records
// (CEL) needs. It is written when the journal is reset or compacted, the
// two moments the newest event may leave the journal; otherwise the
// journal's own last event is newer.

// markWidth is the fixed size of the mark: Unix nanoseconds, zero-padded,
// and a newline, so that rewriting it in place never leaves a longer old
// value's tail behind.
const markWidth = 21

func markPath(path string) string { return path + ".seen" }

// readMark reads the mark at path; a missing or unreadable one is zero
// (nothing is known of earlier sessions).
func readMark(path string) time.Time {
	b, err := os.ReadFile(markPath(path))
	if err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Marked is the mark as it was when the journal was opened, or as last set
// by Mark: zero when none was ever written.
func (j *Journal) Marked() time.Time { return j.mark }

// Mark records t as the newest event processed, unless the mark is newer
// already.
func (j *Journal) Mark(t time.Time) error {
	if t.IsZero() || !t.After(j.mark) {
		return nil
	}
	if j.markf == nil {
		f, err := os.OpenFile(markPath(j.path), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("journal: mark: %w", err)
		}
		j.markf = f
	}
	b := fmt.Appendf(nil, "%020d\n", t.UnixNano())
	if _, err := j.markf.WriteAt(b, 0); err != nil {
		return fmt.Errorf("journal: mark: %w", err)
	}
	j.mark = t
	return nil
}
