package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/app"
)

const queueAbout = `

It asks the running daemon over its API on http.listen, with the admin
token, so it works beside a running daemon with either store (the embedded
one is the daemon's file). When nothing answers there (the daemon is
stopped), it opens the configured store itself.`

// queueCommands inspect and repair the delivery queue.
func queueCommands() []*command {
	return []*command{
		{name: "queue stats", brief: "Show each connector's queue: ready, in flight, delayed, dead, delivered.",
			about: "Shows each connector's delivery queue: jobs ready, in flight, waiting for a retry, dead, and delivered since the store was made." + queueAbout,
			setup: func(fs *flag.FlagSet) action {
				cfgFile, connector := configFlag(fs), connectorFlag(fs)
				return queueAction(cfgFile, func(ctx context.Context, q api.Queue, stdout, _ io.Writer) error {
					st, err := q.Stats(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "CONNECTOR\tREADY\tIN FLIGHT\tDELAYED\tDEAD\tDELIVERED")
					for _, s := range st {
						if *connector == "" || s.Connector == *connector {
							fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", s.Connector, s.Ready, s.InFlight, s.Delayed, s.Dead, s.Delivered)
						}
					}
					return tw.Flush()
				})
			}},
		{name: "queue dead", brief: "List the dead letters as JSON lines, with the CRM's reason.",
			about: "Prints the dead letters, oldest first, one JSON object a line: the connector, the activity, the attempts, the reason the CRM gave and when. The count goes to stderr." + queueAbout,
			setup: func(fs *flag.FlagSet) action {
				cfgFile, connector := configFlag(fs), connectorFlag(fs)
				limit := fs.Int("limit", 0, "at most `N` dead letters (0: all)")
				return queueAction(cfgFile, func(ctx context.Context, q api.Queue, stdout, stderr io.Writer) error {
					dls, err := q.DeadLetters(ctx, *connector, *limit)
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
				})
			}},
		{name: "queue retry", args: "(ID | --all)", min: 0, max: 1, brief: "Queue dead letters again: one by activity id, or all.",
			about: "Puts the dead letter with activity id ID back in the queue (of every connector where it is dead), attempts reset; with --all every dead letter (of --connector's)." + queueAbout,
			setup: func(fs *flag.FlagSet) action {
				cfgFile, connector := configFlag(fs), connectorFlag(fs)
				all := fs.Bool("all", false, "every dead letter (of --connector's, if given)")
				return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
					if (len(args) == 0) == !*all {
						fmt.Fprintln(stderr, "callbridge queue retry: give an activity id or --all")
						return errUsage
					}
					return queueAction(cfgFile, func(ctx context.Context, q api.Queue, stdout, _ io.Writer) error {
						if *all {
							n, err := q.RetryAll(ctx, *connector)
							if err != nil {
								return err
							}
							fmt.Fprintf(stdout, "%d dead letters queued again\n", n)
							return nil
						}
						if err := q.Retry(ctx, args[0]); err != nil {
							if errors.Is(err, crmsync.ErrNotFound) {
								return fmt.Errorf("no dead letter with activity id %s", args[0])
							}
							return err
						}
						fmt.Fprintf(stdout, "%s queued again\n", args[0])
						return nil
					})(ctx, args, stdout, stderr)
				}
			}},
		{name: "queue purge", brief: "Delete the dead letters; their activities are not queued again.",
			about: "Deletes every dead letter (of --connector's). Their activities stay known to the queue, so they are not queued again: the calls never reach that CRM." + queueAbout,
			setup: func(fs *flag.FlagSet) action {
				cfgFile, connector := configFlag(fs), connectorFlag(fs)
				return queueAction(cfgFile, func(ctx context.Context, q api.Queue, stdout, _ io.Writer) error {
					n, err := q.Purge(ctx, *connector)
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "%d dead letters purged (their activities will not be queued again)\n", n)
					return nil
				})
			}},
	}
}

func connectorFlag(fs *flag.FlagSet) *string {
	return fs.String("connector", "", "only the connector called `NAME` (crm[].name)")
}

// queueAction runs do on the queue: the running daemon's, over its API,
// or, when nothing answers on http.listen, the store itself.
func queueAction(cfgFile *string, do func(ctx context.Context, q api.Queue, stdout, stderr io.Writer) error) action {
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if cfg.HTTP.Listen != "" {
			c, err := apiFor(cfg)
			if err != nil {
				return err
			}
			if err := do(ctx, apiQueue{c}, stdout, stderr); !errors.Is(err, errNotAnswering) {
				return err
			}
			// Nothing answers: the daemon is stopped, its store is free.
		}
		store, err := app.OpenStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		return do(ctx, store, stdout, stderr)
	}
}

// apiQueue is the running daemon's queue, over its admin API.
type apiQueue struct{ c *apiClient }

func (q apiQueue) Stats(ctx context.Context) ([]crmsync.QueueStats, error) {
	var st []crmsync.QueueStats
	return st, q.c.call(ctx, http.MethodGet, "/api/queue", nil, &st)
}

func (q apiQueue) DeadLetters(ctx context.Context, connector string, limit int) ([]crmsync.DeadLetter, error) {
	v := url.Values{}
	if connector != "" {
		v.Set("connector", connector)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var dls []crmsync.DeadLetter
	return dls, q.c.call(ctx, http.MethodGet, "/api/queue/dead?"+v.Encode(), nil, &dls)
}

func (q apiQueue) Retry(ctx context.Context, id string) error {
	var n api.QueueCount
	err := q.c.call(ctx, http.MethodPost, "/api/queue/retry?"+url.Values{"id": {id}}.Encode(), nil, &n)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == http.StatusNotFound {
		return crmsync.ErrNotFound
	}
	return err
}

func (q apiQueue) RetryAll(ctx context.Context, connector string) (int, error) {
	var n api.QueueCount
	err := q.c.call(ctx, http.MethodPost, "/api/queue/retry?"+url.Values{"all": {"true"}, "connector": {connector}}.Encode(), nil, &n)
	return n.Requeued, err
}

func (q apiQueue) Purge(ctx context.Context, connector string) (int, error) {
	var n api.QueueCount
	err := q.c.call(ctx, http.MethodPost, "/api/queue/purge?"+url.Values{"connector": {connector}}.Encode(), nil, &n)
	return n.Purged, err
}
