package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=1.2.3").
var version = "dev"

const usage = `callbridge: per-user phone-call activities from Asterisk, for your CRM.

Usage:
  callbridge demo [--speed N] [--all] [--live] [--no-deliver] [--crm NAME]
        Replay real recorded calls through the whole pipeline, locally, and
        deliver them to a local CRM webhook, or (--crm salesforce, ...) to
        a CRM preset's strict local fake.
  callbridge replay (--ari FILE | --ami FILE | --pcap FILE | --cel FILE) [--config FILE] [--all]
        Print the activities of a recording as JSON lines.
  callbridge run --config FILE
        Run the daemon.
  callbridge queue (stats | dead | retry ID | retry --all | purge) [--connector NAME] --config FILE
        Inspect and repair the delivery queue (embedded store: with the daemon stopped).
  callbridge users import --config FILE [--out FILE] [--merge]
        Write (or merge) a users: list from the PBX's endpoints.
  callbridge users sync --config FILE
        Map users to CRM users now, in the running daemon; report the unmapped.
  callbridge integrations (status | sync NAME | full-sync NAME | enable NAME | disable NAME | delete NAME) --config FILE
        Caller recognition: the CRMs' phone indexes in the running daemon.
  callbridge config check --config FILE
        Check a configuration file; every problem names its key.
  callbridge version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = demoCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		err = replayCmd(args[1:], stdout, stderr)
	case "run":
		err = runCmd(ctx, args[1:], stdout, stderr)
	case "integrations":
		err = integrationsCmd(ctx, args[1:], stdout, stderr)
	case "queue":
		err = queueCmd(ctx, args[1:], stdout, stderr)
	case "users":
		err = usersCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = configCheckCmd(args[2:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "callbridge", versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "callbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(stderr, "callbridge:", err)
		return 1
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " (" + bi.GoVersion + ")"
	}
	return v
}

// flags makes a subcommand's flag set that reports mistakes to stderr.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("callbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}
