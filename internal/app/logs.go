package app

import (
	"bytes"
	stdlog "log"
	"log/slog"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/crmsync/store/redis"
)

// LibraryLogs routes every library's own logging into log, so that stderr
// (the journal) carries JSON lines only: ari/v5's log15 loggers, go-redis,
// slog's default logger (sipgo where it is given none) and the standard
// log package. These are process globals: only main calls it, once.
func LibraryLogs(log zerolog.Logger) {
	ari.LogLibraryTo(log.With().Str("component", "ari/v5").Logger())
	redis.LogLibraryTo(log.With().Str("component", "go-redis").Logger())
	slog.SetDefault(slog.New(zerolog.NewSlogHandler(log.With().Str("component", "slog").Logger())))
	stdlog.SetFlags(0)
	stdlog.SetOutput(lineWriter{log: log.With().Str("component", "log").Logger(), level: zerolog.WarnLevel})
}

// stdLogger is a standard library logger (net/http's ErrorLog) writing
// each line to log at level.
func stdLogger(log zerolog.Logger, level zerolog.Level) *stdlog.Logger {
	return stdlog.New(lineWriter{log: log, level: level}, "", 0)
}

// lineWriter turns each Write of a line-oriented logger into one zerolog
// event.
type lineWriter struct {
	log   zerolog.Logger
	level zerolog.Level
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if len(line) > 0 {
			w.log.WithLevel(w.level).Msg(string(line))
		}
	}
	return len(p), nil
}
