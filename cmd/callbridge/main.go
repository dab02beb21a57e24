package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=1.2.3").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// run is main without the process: tests call it. Exit codes: 0 done, 1
// failed, 2 a command-line mistake.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help":
		usage(stdout)
		return 0
	case "--version":
		args = []string{"version"}
	}
	c, rest, group := lookup(args)
	var err error
	switch {
	case group != "" && len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help"):
		groupHelp(stdout, group)
	case group != "":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "callbridge %s: unknown command %q\n\n", group, rest[0])
		}
		groupHelp(stderr, group)
		err = errUsage
	case c == nil:
		fmt.Fprintf(stderr, "callbridge: unknown command %q\n\n", args[0])
		usage(stderr)
		err = errUsage
	default:
		err = c.execute(ctx, rest, stdout, stderr)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
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
