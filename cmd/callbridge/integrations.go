package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callbridge/callbridge/config"
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
	base, err := apiBase(*cfgFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if verb == "status" {
		var st []phoneindex.Status
		if err := callAPI(ctx, http.MethodGet, base+"/api/integrations", &st); err != nil {
			return err
		}
		return printStatus(stdout, st)
	}
	var st phoneindex.Status
	if err := callAPI(ctx, http.MethodPost, base+"/api/integrations/"+name+"/"+verb, &st); err != nil {
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

// apiBase is the running daemon's API address from the config.
func apiBase(cfgFile string) (string, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return "", err
	}
	if cfg.HTTP.Listen == "" {
		return "", errors.New("http.listen is off in the config: the daemon has no API to ask")
	}
	return "http://" + cfg.HTTP.Listen, nil
}

// callAPI asks the daemon and decodes its JSON answer into v.
func callAPI(ctx context.Context, method, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("callbridge is not answering at %s (is it running?): %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}
