package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/app"
)

func usersCommands() []*command {
	return []*command{
		{name: "users import", brief: "Write (or merge) a users: list from the PBX's endpoints.",
			about: `Reads the PBX's endpoints over ARI (or AMI), as configured, and prints a
users: list for the config file: extension, name, and the devices of each
user. With --merge the PBX's users are merged into the config file's own
users: (entries there win) and the whole file is written; with --out it
goes to that file (mode 0600) instead of stdout.`,
			setup: usersImport},
		{name: "users sync", brief: "Map users to CRM users now, in the running daemon; report the unmapped.",
			about: `Asks the running daemon to match the directory's users to CRM users now
(it also does so every hour) and prints who maps to whom, who is left
unmapped and why (their calls go to the default owner), and what the
CRM's users showed wrong with the configuration (a default_owner it
lacks). Talks to the daemon's API on http.listen with the admin token.`,
			setup: usersSync},
	}
}

func usersImport(fs *flag.FlagSet) action {
	cfgFile := fs.String("config", defaultConfig, "the configuration `FILE` (ARI URL and credentials; with --merge, the file merged into)")
	out := fs.String("out", "", "write the result to this `FILE` (mode 0600) instead of to stdout")
	merge := fs.Bool("merge", false, "merge the PBX's users into the config file's users: and write the whole file")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		result, n, err := app.ImportUsers(ctx, cfg, *cfgFile, *merge)
		if err != nil {
			return err
		}
		if *out == "" {
			// A merged file is the config file, inline secrets and
			// all: those go to a file of mode 0600, never to the
			// terminal or a pipe.
			for _, sec := range cfg.Secrets() {
				if bytes.Contains(result, []byte(sec.Value.Value())) {
					fmt.Fprintf(stderr, "callbridge users import: the merged file holds the config's inline secret %s: write it with --out FILE (mode 0600)\n", sec.Key)
					return errUsage
				}
			}
			_, err := stdout.Write(result)
			return err
		}
		if err := app.WriteConfig(*out, result); err != nil {
			return fmt.Errorf("users import: %w", err)
		}
		fmt.Fprintf(stderr, "%s: %d users from the PBX written\n", *out, n)
		return nil
	}
}

// usersSync asks the running daemon to match the directory's users to
// CRM users now, and shows who maps to whom and who is left unmapped.
func usersSync(fs *flag.FlagSet) action {
	cfgFile := configFlag(fs)
	return func(ctx context.Context, _ []string, stdout, _ io.Writer) error {
		return syncUsers(ctx, *cfgFile, stdout)
	}
}

func syncUsers(ctx context.Context, cfgFile string, stdout io.Writer) error {
	c, err := dialAPI(cfgFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var res []api.UserSync
	if err := c.call(ctx, http.MethodPost, "/api/users/sync", nil, &res); err != nil {
		return err
	}
	if len(res) == 0 {
		fmt.Fprintln(stdout, "no configured CRM maps users (crm[].type dynamics does)")
		return nil
	}
	for _, r := range res {
		if r.Error != "" {
			fmt.Fprintf(stdout, "%s: user sync failed: %s\n", r.Connector, r.Error)
			continue
		}
		for _, p := range r.Report.Problems {
			fmt.Fprintf(stdout, "%s: PROBLEM: %s\n", r.Connector, p)
		}
		if len(r.Report.Mapped) == 0 && len(r.Report.Unmapped) == 0 {
			fmt.Fprintf(stdout, "%s: no users in the directory to map\n", r.Connector)
		}
		exts := make([]string, 0, len(r.Report.Mapped))
		for ext := range r.Report.Mapped {
			exts = append(exts, ext)
		}
		sort.Strings(exts)
		for _, ext := range exts {
			fmt.Fprintf(stdout, "%s: %s mapped by %s\n", r.Connector, ext, r.Report.Mapped[ext])
		}
		for _, u := range r.Report.Unmapped {
			fmt.Fprintf(stdout, "%s: %s UNMAPPED (%s): its calls go to the default owner\n", r.Connector, u.Extension, u.Reason)
		}
	}
	return nil
}
