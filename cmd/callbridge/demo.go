package main

import (
	"context"
	"io"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/app/demo"
)

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("demo", stderr)
	speed := fs.Float64("speed", 10, "how many times faster than the real calls to play (0: as fast as possible)")
	all := fs.Bool("all", false, "also show ring-group and queue members who lost the race (answered elsewhere)")
	live := fs.Bool("live", false, "also show the agents' caller cards as they are told: offer, open, close, connected, ended")
	verbose := fs.Bool("v", false, "log the ARI source's connection to stderr")
	noDeliver := fs.Bool("no-deliver", false, "skip delivering to the local CRM webhook")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := zerolog.Nop()
	if *verbose {
		log = zerolog.New(zerolog.ConsoleWriter{Out: stderr}).With().Timestamp().Logger()
	}
	return demo.Run(ctx, stdout, demo.Options{Speed: *speed, All: *all, Live: *live, Log: log, Deliver: !*noDeliver})
}
