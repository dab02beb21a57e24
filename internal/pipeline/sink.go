package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
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

// File appends activities to a JSON-lines file and syncs each line to disk
// before Write returns, so an activity written is an activity kept.
type File struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFile opens (creating it and its directory if needed) path for appending.
func OpenFile(path string) (*File, error) {
	f, err := openSink(path)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
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
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("sink: encode activity %s: %w", a.ID, err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("sink: write %s: %w", s.f.Name(), err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sink: sync %s: %w", s.f.Name(), err)
	}
	return nil
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
