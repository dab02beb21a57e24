package subscribe

import (
	"log/slog"

	"github.com/rs/zerolog"
)

// slogFrom hands sipgo, which logs through slog, a logger writing to ours.
// sipgo is chatty at debug and info; only its warnings and errors are
// worth our log.
func slogFrom(l zerolog.Logger) *slog.Logger {
	return slog.New(zerolog.NewSlogHandler(l.With().Str("component", "sipgo").Logger().Level(max(l.GetLevel(), zerolog.WarnLevel))))
}
