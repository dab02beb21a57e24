package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/callbridge/callbridge/config"
)

// checkEnv is what the config check asks of the machine (tests replace
// it, so that no name is looked up in a real DNS).
var checkEnv = config.SystemEnv()

var configCheckCommand = &command{
	name: "config check", brief: "Check a configuration file; every problem names its key.",
	about: `Checks the configuration as 'callbridge run' does before it starts, and
reports every problem of every stage at once, one a line, each naming its
key: unknown keys and wrong types, secret files, values and how they fit
together, and what the file names outside itself (state_dir and sink.file
can be created and written, listen addresses are this machine's, each
connector's credentials and TLS files can be read and parse). It connects
to nothing. Exit status 0: ok; 1: problems.`,
	setup: func(fs *flag.FlagSet) action {
		cfgFile := configFlag(fs)
		return func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			if _, err := config.Check(*cfgFile, checkEnv); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok\n", *cfgFile)
			return nil
		}
	},
}
