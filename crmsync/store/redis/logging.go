package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// LogLibraryTo routes go-redis's own log lines (pool and reconnect
// messages it otherwise prints to stderr as plain text) into log as JSON
// warnings. It is a package global of go-redis, so only main calls it.
func LogLibraryTo(log zerolog.Logger) {
	goredis.SetLogger(printfLogger{log})
}

type printfLogger struct{ log zerolog.Logger }

func (l printfLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
