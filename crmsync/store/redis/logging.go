package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// LogLibraryTo routes go-redis's own log lines (pool messages, reconnects,
// Sentinel's master changes, Cluster reloads), which it otherwise prints
// as plain text to stderr, into log as JSON warnings, or as info for the
// Sentinel client's reports of the master it found. go-redis keeps one
// logger per process, so only main calls this, once. The lines never
// carry the password: go-redis logs addresses, not URLs.
func LogLibraryTo(log zerolog.Logger) {
	goredis.SetLogger(libraryLog{log})
}

type libraryLog struct{ log zerolog.Logger }

func (l libraryLog) Printf(_ context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	e := l.log.Warn()
	if strings.HasPrefix(msg, "sentinel: ") {
		e = l.log.Info()
	}
	e.Msg(msg)
}
