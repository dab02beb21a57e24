package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/app"
)

func runCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flags("run", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	// The same check as `config check`, so run refuses what it refuses,
	// with the same message, before anything is opened.
	cfg, err := config.Check(*cfgFile, checkEnv)
	if err != nil {
		return err
	}
	log := rootLogger(stderr)
	zerolog.SetGlobalLevel(cfg.Level())
	app.LibraryLogs(log)
	d, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	d.ConfigPath = *cfgFile

	// SIGHUP is a reload request, nothing more: the daemon validates and
	// applies it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case d.Reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return d.Run(ctx)
}

// rootLogger writes JSON to stderr. Under systemd, journald stamps each
// line itself, so no timestamp is added there.
func rootLogger(w io.Writer) zerolog.Logger {
	ctx := zerolog.New(w).With()
	if os.Getenv("JOURNAL_STREAM") == "" {
		ctx = ctx.Timestamp()
	}
	return ctx.Logger().Level(zerolog.TraceLevel)
}
