package main

import (
	"fmt"
	"io"

	"github.com/callbridge/callbridge/config"
)

// checkEnv is what the config check asks of the machine (tests replace
// it, so that no name is looked up in a real DNS).
var checkEnv = config.SystemEnv()

// configCheckCmd checks a config file as `run` does before it starts and
// reports every problem, each naming its key.
func configCheckCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("config check", stderr)
	cfgFile := fs.String("config", "/etc/callbridge/callbridge.yaml", "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := config.Check(*cfgFile, checkEnv); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", *cfgFile)
	return nil
}
