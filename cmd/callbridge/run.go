package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/app"
)

var runCommand = &command{
	name: "run", brief: "Run the daemon.",
	about: `Runs the daemon: follows Asterisk over the configured sources (ARI, AMI,
HEP), writes every finished activity to sink.file and delivers those the
policy accepts to the configured CRMs, serving the API on http.listen.
It first checks the configuration exactly as 'callbridge config check'
does and refuses what that refuses, with the same message. SIGHUP reloads
the configuration; SIGTERM and SIGINT stop it in order.`,
	setup: func(fs *flag.FlagSet) action {
		cfgFile := configFlag(fs)
		return func(ctx context.Context, _ []string, _, stderr io.Writer) error {
			return runDaemon(ctx, *cfgFile, stderr)
		}
	},
}

func runDaemon(ctx context.Context, cfgFile string, stderr io.Writer) error {
	// The same check as `config check`, so run refuses what it refuses,
	// with the same message, before anything is opened.
	cfg, err := config.Check(cfgFile, checkEnv)
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
	d.ConfigPath = cfgFile

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

var durationsWithUnits sync.Once

// rootLogger writes JSON to stderr. Under systemd, journald stamps each
// line itself, so no timestamp is added there. Durations are written with
// their unit ("retry_in":"1.5s"), never as a bare number.
func rootLogger(w io.Writer) zerolog.Logger {
	durationsWithUnits.Do(func() { zerolog.DurationFieldFormat = zerolog.DurationFormatString })
	ctx := zerolog.New(w).With()
	if os.Getenv("JOURNAL_STREAM") == "" {
		ctx = ctx.Timestamp()
	}
	return ctx.Logger().Level(zerolog.TraceLevel)
}
