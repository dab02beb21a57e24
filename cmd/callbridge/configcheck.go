package main

import (
	"fmt"
	"io"

	"github.com/callbridge/callbridge/config"
)

// configCheckCmd validates a config file as `run` would and reports every
// problem, each naming its key.
func configCheckCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("config check", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgFile)
	if err == nil {
		err = cfg.ValidateForRun()
	}
	if err != nil {
		return fmt.Errorf("%s:\n%w", *cfgFile, err)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *cfgFile)
	return nil
}
