package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// integrationsCommands control caller recognition in the running daemon,
// over its API on http.listen: the daemon holds the indexes in memory.
func integrationsCommands() []*command {
	verbs := []struct{ verb, brief, about string }{
		{"status", "Show each CRM's phone index: records, numbers, last and next sync.",
			"Shows each CRM's phone index (caller recognition) in the running daemon: enabled, disabled or deleted, records and numbers held, the last refresh, the next sync and the last error."},
		{"sync", "Sync a phone index from its CRM now (records changed since the last sync).",
			"Starts an incremental sync of integration NAME in the running daemon (records modified since the last sync) and waits for it to end."},
		{"full-sync", "Sync a phone index from its CRM now, in full.",
			"Starts a full sync of integration NAME in the running daemon (every record; deleted ones go) and waits for it to end."},
		{"enable", "Let a phone index answer lookups again.",
			"Lets integration NAME answer lookups and sync again. What enable and disable say is kept across restarts, whatever recognition.enabled says."},
		{"disable", "Keep a phone index's data but answer no lookups.",
			"Makes integration NAME answer no lookups and skip its syncs; its data is kept. Kept across restarts until enable."},
		{"delete", "Delete a phone index's cache and state; it stays deleted until created again.",
			"Erases integration NAME's cache and sync state. It stays deleted across restarts, answering nothing and reading nothing from the CRM, until 'callbridge integrations create NAME'."},
		{"create", "Create a deleted phone index anew from the configuration; it syncs at once.",
			"Makes the deleted integration NAME anew from the configuration's recognition settings, enabled and empty; the daemon syncs it in full at once."},
	}
	var out []*command
	for _, v := range verbs {
		c := &command{name: "integrations " + v.verb, brief: v.brief,
			about: v.about + " Talks to the daemon's API on http.listen with the admin token."}
		if v.verb != "status" {
			c.args, c.min, c.max = "NAME", 1, 1
		}
		c.setup = func(fs *flag.FlagSet) action {
			cfgFile := configFlag(fs)
			return func(ctx context.Context, args []string, stdout, _ io.Writer) error {
				name := ""
				if len(args) > 0 {
					name = args[0]
				}
				return integrationDo(ctx, *cfgFile, v.verb, name, stdout)
			}
		}
		out = append(out, c)
	}
	return out
}

func integrationDo(ctx context.Context, cfgFile, verb, name string, stdout io.Writer) error {
	c, err := dialAPI(cfgFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if verb == "status" {
		var st []phoneindex.Status
		if err := c.call(ctx, http.MethodGet, "/api/integrations", nil, &st); err != nil {
			return err
		}
		return printStatus(stdout, st)
	}
	// A sync runs in the daemon; this waits for it, asking every 200 ms.
	var st phoneindex.Status
	if err := c.call(ctx, http.MethodPost, "/api/integrations/"+url.PathEscape(name)+"/"+verb, nil, &st); err != nil {
		return err
	}
	if verb == "delete" {
		fmt.Fprintf(stdout, "%s: cache and settings deleted; it stays deleted across restarts until `callbridge integrations create %s`\n", name, name)
		return nil
	}
	return printStatus(stdout, []phoneindex.Status{st})
}

func printStatus(w io.Writer, st []phoneindex.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENABLED\tRECORDS\tNUMBERS\tLAST REFRESH\tNEXT SYNC\tERROR")
	for _, s := range st {
		enabled := fmt.Sprint(s.Enabled)
		if s.Deleted {
			enabled = "deleted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.Name, enabled, s.Records, s.Numbers, when(s.LastRefresh), when(s.NextSync), s.LastError)
	}
	return tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
