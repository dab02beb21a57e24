package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync/store/redis"
	"github.com/callbridge/callbridge/internal/app"
)

func runCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flags("run", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgFile)
	if err == nil {
		err = cfg.ValidateForRun()
	}
	if err != nil {
		return fmt.Errorf("%s:\n%w", *cfgFile, err)
	}
	log := rootLogger(stderr)
	zerolog.SetGlobalLevel(cfg.Level())
	ari.LogLibraryTo(log.With().Str("component", "ari/v5").Logger())
	redis.LogLibraryTo(log.With().Str("component", "go-redis").Logger())
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
