package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

const integrationsUsage = `usage: callbridge integrations (status | sync NAME | full-sync NAME | enable NAME | disable NAME | delete NAME | create NAME) --config FILE`

// integrationsCmd controls caller recognition in the running daemon, over
// its API on http.listen: the daemon holds the indexes in memory.
func integrationsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, integrationsUsage)
		return errUsage
	}
	verb, args := args[0], args[1:]
	var name string
	if verb != "status" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintln(stderr, integrationsUsage)
			return errUsage
		}
		name, args = args[0], args[1:]
	}
	switch verb {
	case "status", "sync", "full-sync", "enable", "disable", "delete", "create":
	default:
		fmt.Fprintln(stderr, integrationsUsage)
		return errUsage
	}
	fs := flags("integrations "+verb, stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dialAPI(*cfgFile)
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
