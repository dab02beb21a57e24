package app

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/systemd"
)

// reloads re-reads the config on request. The whole new file is validated
// first; a bad one changes nothing. What can change without a restart is
// the log level; the rest is reported as needing one.
func (a *App) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.Reload:
		}
		_ = systemd.Reloading()
		cfg, err := config.Load(a.ConfigPath)
		if err == nil {
			err = cfg.ValidateForRun()
		}
		if err != nil {
			a.log.Error().Err(err).Msg("reload: new configuration rejected, keeping the running one")
		} else {
			// The root logger is built to pass everything; the global
			// level is the one knob, so a reload can turn debug on.
			zerolog.SetGlobalLevel(cfg.Level())
			a.log.Info().Str("log_level", cfg.LogLevel).Msg("reload: log level applied; source, user and sink changes take effect on restart")
		}
		if a.notified.Load() {
			_ = systemd.Ready() // else notifyReady sends it once ready
		}
	}
}
