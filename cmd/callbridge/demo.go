package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/app/demo"
)

var demoCommand = &command{
	name: "demo", brief: "Replay real recorded calls through the whole pipeline, locally, and deliver them to a local CRM webhook (or a CRM preset's strict local fake).",
	about: `Plays calls a real Asterisk 22 recorded through a fake Asterisk, the same
engine and policy as the daemon, and a local CRM webhook, and prints each
activity as it is delivered. With --crm salesforce (hubspot, zoho, pipedrive,
creatio, dynamics) the activities go to that preset's strict local fake of
the CRM's API instead. Nothing to configure, nothing leaves the machine.`,
	setup: func(fs *flag.FlagSet) action {
		speed := fs.Float64("speed", 10, "how many times faster than the real calls to play (0: as fast as possible)")
		all := fs.Bool("all", false, "also show ring-group and queue members who lost the race (answered elsewhere)")
		live := fs.Bool("live", false, "also show the agents' caller cards as they are told: offer, open, close, connected, ended")
		verbose := fs.Bool("v", false, "log the ARI source's connection to stderr")
		noDeliver := fs.Bool("no-deliver", false, "skip delivering to the local CRM")
		crm := fs.String("crm", "webhook", "deliver to this CRM: "+strings.Join(demo.CRMs, ", ")+" (a preset writes to its strict local fake)")
		return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
			if !slices.Contains(demo.CRMs, *crm) {
				return fmt.Errorf("demo: --crm %q: not one of %s", *crm, strings.Join(demo.CRMs, ", "))
			}
			log := zerolog.Nop()
			if *verbose {
				log = zerolog.New(zerolog.ConsoleWriter{Out: stderr}).With().Timestamp().Logger()
			}
			return demo.Run(ctx, stdout, demo.Options{Speed: *speed, All: *all, Live: *live, Log: log, Deliver: !*noDeliver, CRM: *crm})
		}
	},
}
