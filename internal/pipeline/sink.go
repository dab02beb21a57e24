package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/activityjson"
)

// Sink is the sink stage of the path: every finished activity, whatever
// the policy will say about it, is written to the sink (sink.file) before
// anything else happens to it. An activity that cannot be written goes no
// further: it is counted and logged.
type Sink struct {
	To     Writer
	Log    zerolog.Logger
	Errors prometheus.Counter // callbridge_sink_errors_total; may be nil
}

// Writer takes finished activities; File is one.
type Writer interface {
	Write(a bridge.Activity) error
}

// BatchWriter is a Writer that keeps many activities at once for the
// price of one (File: one write and one sync).
type BatchWriter interface {
	Writer
	WriteBatch(as []bridge.Activity) error
}

// Handle implements Stage.
func (s Sink) Handle(_ context.Context, a bridge.Activity) bool {
	if err := s.To.Write(a); err != nil {
		if s.Errors != nil {
			s.Errors.Inc()
		}
		s.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity not written")
		return false
	}
	s.Log.Debug().Str("call_id", a.CallID).Str("user", a.User).Str("state", string(a.State)).Msg("activity")
	return true
}

// HandleBatch implements BatchStage: the activities still going are
// written together; when that fails, none goes further.
func (s Sink) HandleBatch(ctx context.Context, as []bridge.Activity, pass []bool) {
	w, ok := s.To.(BatchWriter)
	if !ok {
		for i, a := range as {
			pass[i] = pass[i] && s.Handle(ctx, a)
		}
		return
	}
	batch := as
	if slices.Contains(pass, false) {
		batch = nil
		for i, a := range as {
			if pass[i] {
				batch = append(batch, a)
			}
		}
	}
	if len(batch) == 0 {
		return
	}
	err := w.WriteBatch(batch)
	for i, a := range as {
		if !pass[i] {
			continue
		}
		if err != nil {
			pass[i] = false
			if s.Errors != nil {
				s.Errors.Inc()
			}
			s.Log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity not written")
			continue
		}
		s.Log.Debug().Str("call_id", a.CallID).Str("user", a.User).Str("state", string(a.State)).Msg("activity")
	}
}

// File appends activities to a JSON-lines file and syncs them to disk
// before Write or WriteBatch returns, so an activity written is an
// activity kept. A batch costs one write and one sync, however many
// activities it holds; batches that come while another is being written
// (several sources) wait and are then written and synced together.
type File struct {
	mu sync.Mutex
	f  *os.File
	// next collects the lines of the batches that wait for the write
	// under way (busy); the first of them to wake writes them all.
	next *commit
	busy bool
	// spare is the lines buffer of the last commit written, for the next.
	spare []byte
	idle  sync.Cond // on mu: a write and sync ended
	// beforeWrite, if set, is called by the writer before each write
	// (tests).
	beforeWrite func()
}

// commit is one write and sync and the batches it carries.
type commit struct {
	lines []byte
	done  bool
	err   error
}

// OpenFile opens (creating it and its directory if needed) path for appending.
func OpenFile(path string) (*File, error) {
	f, err := openSink(path)
	if err != nil {
		return nil, err
	}
	s := &File{f: f}
	s.idle.L = &s.mu
	return s, nil
}

func openSink(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	return f, nil
}

// Reopen writes to path from now on (SIGHUP: after logrotate renamed the
// file, the same path is a new file). The new file is opened before the
// old one is closed: when it cannot be, writing goes on where it was.
// No activity is written to neither: Write holds the lock across the swap.
func (s *File) Reopen(path string) error {
	f, err := openSink(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for s.busy {
		s.idle.Wait() // the write under way goes to the old file
	}
	old := s.f
	s.f = f
	s.mu.Unlock()
	return old.Close()
}

// Path is the file's name.
func (s *File) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Name()
}

// Write appends one activity.
func (s *File) Write(a bridge.Activity) error {
	return s.WriteBatch([]bridge.Activity{a})
}

// WriteBatch appends the activities, one line each, with one write and
// one sync (shared with batches written at the same time). A batch that
// cannot be encoded is not written at all.
func (s *File) WriteBatch(as []bridge.Activity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = &commit{lines: s.spare}
		s.spare = nil
	}
	c := s.next
	// Encoded straight into the commit's lines (activityjson: the bytes
	// json.Marshal gives); what a failed batch added is cut off again.
	start := len(c.lines)
	for i := range as {
		var err error
		if c.lines, err = activityjson.Append(c.lines, &as[i]); err != nil {
			c.lines = c.lines[:start]
			return fmt.Errorf("sink: encode activity %s: %w", as[i].ID, err)
		}
		c.lines = append(c.lines, '\n')
	}
	for !c.done {
		if s.busy {
			s.idle.Wait()
			continue
		}
		// Write c, with whatever joined it meanwhile.
		s.busy, s.next = true, nil
		f := s.f
		s.mu.Unlock()
		err := s.write(f, c.lines)
		s.mu.Lock()
		s.busy, c.done, c.err = false, true, err
		if cap(c.lines) <= maxSpare {
			s.spare = c.lines[:0]
		}
		c.lines = nil
		s.idle.Broadcast()
	}
	return c.err
}

// maxSpare keeps an odd huge batch's buffer from being kept for the next.
const maxSpare = 256 << 10

func (s *File) write(f *os.File, b []byte) error {
	if s.beforeWrite != nil {
		s.beforeWrite()
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("sink: write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sink: sync %s: %w", f.Name(), err)
	}
	return nil
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy {
		s.idle.Wait()
	}
	return s.f.Close()
}
