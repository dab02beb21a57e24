package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/app"
)

const queueUsage = `usage: callbridge queue (stats | dead | retry ID | retry --all | purge) [--connector NAME] --config FILE`

// queueCmd inspects and repairs the delivery queue. With the embedded store
// it needs the daemon stopped (the store is one process's); with Redis it
// works beside running instances.
func queueCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, queueUsage)
		return errUsage
	}
	verb, args := args[0], args[1:]
	fs := flags("queue "+verb, stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	connector := fs.String("connector", "", "only this connector's queue")
	all := fs.Bool("all", false, "retry: every dead letter")
	limit := fs.Int("limit", 0, "dead: at most this many (0: all)")
	var id string
	if verb == "retry" && len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch verb {
	case "stats", "dead", "purge":
	case "retry":
		if (id == "") == !*all {
			fmt.Fprintln(stderr, "callbridge queue retry: give an activity id or --all")
			return errUsage
		}
	default:
		fmt.Fprintln(stderr, queueUsage)
		return errUsage
	}
	cfg, err := config.Load(*cfgFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	store, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	switch verb {
	case "stats":
		st, err := store.Stats(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONNECTOR\tREADY\tIN FLIGHT\tDELAYED\tDEAD\tDELIVERED")
		for _, s := range st {
			if *connector != "" && s.Connector != *connector {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", s.Connector, s.Ready, s.InFlight, s.Delayed, s.Dead, s.Delivered)
		}
		return tw.Flush()
	case "dead":
		dls, err := store.DeadLetters(ctx, *connector, *limit)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, dl := range dls {
			if err := enc.Encode(dl); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "%d dead letters\n", len(dls))
		return nil
	case "retry":
		if *all {
			n, err := store.RetryAll(ctx, *connector)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d dead letters queued again\n", n)
			return nil
		}
		if err := store.Retry(ctx, id); err != nil {
			if errors.Is(err, crmsync.ErrNotFound) {
				return fmt.Errorf("no dead letter with activity id %s", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "%s queued again\n", id)
		return nil
	default: // purge
		n, err := store.Purge(ctx, *connector)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead letters purged (their activities will not be queued again)\n", n)
		return nil
	}
}
