package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/app"
)

// usersCmd runs `callbridge users import`.
func usersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sync" {
		return usersSyncCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, "usage: callbridge users import --config FILE [--out FILE] [--merge]\n       callbridge users sync --config FILE\n")
		return errUsage
	}
	fs := flags("users import", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file (ARI URL and credentials; with --merge, the file merged into)")
	out := fs.String("out", "", "write the result here (mode 0600) instead of to stdout")
	merge := fs.Bool("merge", false, "merge the PBX's users into the config file's users: and write the whole file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
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
		_, err := stdout.Write(result)
		return err
	}
	if err := app.WriteConfig(*out, result); err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	fmt.Fprintf(stderr, "%s: %d users from the PBX written\n", *out, n)
	return nil
}

// usersSyncCmd asks the running daemon to match the directory's users to
// CRM users now, and shows who maps to whom and who is left unmapped.
func usersSyncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("users sync", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dialAPI(*cfgFile)
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
