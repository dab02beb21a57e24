package cel

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Source is where the rows of a gap are read from: a CEL table or a
// cel_custom CSV file.
type Source interface {
	// Window returns the rows with from <= time < to, in written order.
	Window(ctx context.Context, from, to time.Time) ([]Row, error)
	// Related returns every row whose linked id is in linked or whose
	// unique id is in unique (the whole history of those calls and
	// channels), in written order.
	Related(ctx context.Context, linked, unique []string) ([]Row, error)
	// Stats counts the rows read and those that could not be read.
	Stats() Stats
	Close() error
}

// File reads a cel_custom CSV. It has no index, so each read goes through
// the whole file; a CSV is for replays, tests and small installations.
// A File is not safe for concurrent use.
type File struct {
	Path   string
	Layout *Layout

	stats Stats
}

// Window implements Source.
func (f *File) Window(ctx context.Context, from, to time.Time) ([]Row, error) {
	return f.read(ctx, func(r *Row) bool { return !r.Time.Before(from) && r.Time.Before(to) })
}

// Related implements Source.
func (f *File) Related(ctx context.Context, linked, unique []string) ([]Row, error) {
	l, u := set(linked), set(unique)
	return f.read(ctx, func(r *Row) bool { return l[r.LinkedID] || u[r.UniqueID] })
}

// Stats implements Source.
func (f *File) Stats() Stats { return f.stats }

// Close implements Source.
func (f *File) Close() error { return nil }

func (f *File) read(ctx context.Context, keep func(*Row) bool) ([]Row, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("cel: %w", err)
	}
	defer fh.Close()
	var out []Row
	st, err := f.Layout.ReadCSV(fh, func(r Row) {
		if keep(&r) {
			out = append(out, r)
		}
	})
	f.stats.add(st)
	if err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// rank orders rows of one instant when the source has no id column: a
// channel's CHAN_START first, its HANGUP, CHAN_END and the call's
// LINKEDID_END last and in that order, as Asterisk writes them.
func rank(ev string) int {
	switch ev {
	case EventChanStart:
		return 0
	case EventHangup:
		return 2
	case EventChanEnd:
		return 3
	case EventLinkedIDEnd:
		return 4
	}
	return 1
}

// sortRows puts rows in written order: by Seq when the source has one,
// else by time (rank breaking ties; otherwise the order given stands).
func sortRows(rows []Row, bySeq bool) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		if bySeq {
			return cmpInt(a.Seq, b.Seq)
		}
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return rank(a.Event) - rank(b.Event)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dedupe sorts rows into written order and drops repeats (a row read both
// for its linked id and for its unique id).
func dedupe(rows []Row, bySeq bool) []Row {
	sortRows(rows, bySeq)
	seen := make(map[string]bool, len(rows))
	out := rows[:0]
	for _, r := range rows {
		k := rowKey(&r, bySeq)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	return out
}

func rowKey(r *Row, bySeq bool) string {
	if bySeq && r.Seq != 0 {
		return fmt.Sprint(r.Seq)
	}
	return strings.Join([]string{r.Event, r.UserEvent, r.Time.Format(time.RFC3339Nano), r.UniqueID, r.LinkedID,
		r.ChanName, r.AppName, r.AppData, r.Exten, r.CallerNum, r.Peer, r.Extra}, "\x00")
}
