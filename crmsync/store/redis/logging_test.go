package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

// go-redis's lines come out as the daemon's JSON log lines: Sentinel's
// reports of the master it found as info, the rest as warnings.
func TestLibraryLog(t *testing.T) {
	var buf bytes.Buffer
	l := libraryLog{zerolog.New(&buf)}
	l.Printf(context.Background(), "sentinel: new master=%q addr=%q", "callbridge", "127.0.0.1:6380")
	l.Printf(context.Background(), "redis: connection pool: %v", "dial tcp: connection refused")
	dec := json.NewDecoder(&buf)
	for _, want := range []struct{ level, msg string }{
		{"info", `sentinel: new master="callbridge" addr="127.0.0.1:6380"`},
		{"warn", "redis: connection pool: dial tcp: connection refused"},
	} {
		var line struct{ Level, Message string }
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		if line.Level != want.level || line.Message != want.msg {
			t.Errorf("%+v, want %+v", line, want)
		}
	}
}
