package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// command is one subcommand: how it is called, what it does and its flags.
// The table (commands) is the one place that knows them all: dispatch,
// `help`, `-h` and the shell completion are made from it.
type command struct {
	name  string // "queue retry"
	args  string // the positional arguments in the synopsis: "NAME", "(ID | --all)"
	min   int    // positional arguments at least ...
	max   int    // ... and at most (-1: any number)
	brief string // one line, for the list of commands
	about string // what `help` prints above the flags
	// setup defines the command's flags on fs and gives what runs it,
	// with the positional arguments.
	setup func(fs *flag.FlagSet) action
}

type action func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// defaultConfig is where the shipped unit's config lives.
const defaultConfig = "/etc/callbridge/callbridge.yaml"

// configFlag is the --config flag every command that reads the config has.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", defaultConfig, "read the configuration from `FILE`")
}

// commands lists every subcommand, in the order the usage shows them.
func commands() []*command {
	cmds := []*command{demoCommand, replayCommand, runCommand}
	cmds = append(cmds, queueCommands()...)
	cmds = append(cmds, usersCommands()...)
	cmds = append(cmds, integrationsCommands()...)
	// help and completion are made from the table: they are made here,
	// not kept in variables the table would refer to.
	return append(cmds, configCheckCommand, completionCommand(), versionCommand, helpCommand())
}

// lookup finds the command args start with: "queue stats ...", "run ...".
// The second result is the rest of args; group is the first word when it
// names a group of commands (queue, users, ...) but no command of it.
func lookup(args []string) (c *command, rest []string, group string) {
	if len(args) == 0 {
		return nil, nil, ""
	}
	byName := map[string]*command{}
	groups := map[string]bool{}
	for _, c := range commands() {
		byName[c.name] = c
		if g, _, ok := strings.Cut(c.name, " "); ok {
			groups[g] = true
		}
	}
	if len(args) > 1 {
		if c := byName[args[0]+" "+args[1]]; c != nil {
			return c, args[2:], ""
		}
	}
	if groups[args[0]] {
		return nil, args[1:], args[0]
	}
	return byName[args[0]], args[1:], ""
}

// inGroup lists the commands of group.
func inGroup(group string) []*command {
	var out []*command
	for _, c := range commands() {
		if strings.HasPrefix(c.name, group+" ") {
			out = append(out, c)
		}
	}
	return out
}

// synopsis is the command's usage line.
func (c *command) synopsis() string {
	s := "callbridge " + c.name
	if c.args != "" {
		s += " " + c.args
	}
	if c.hasFlags() {
		s += " [flags]"
	}
	return s
}

func (c *command) flagSet() (*flag.FlagSet, action) {
	fs := flag.NewFlagSet("callbridge "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // mistakes are reported by execute, help by help
	fs.Usage = func() {}
	return fs, c.setup(fs)
}

func (c *command) hasFlags() bool {
	fs, _ := c.flagSet()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagNames are the command's flags, "--config" and so on, sorted.
func (c *command) flagNames() []string {
	fs, _ := c.flagSet()
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name) })
	sort.Strings(out)
	return out
}

// help prints what the command does and its flags, and only its.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis(), wrap(c.about, 76))
	fs, _ := c.flagSet()
	var lines [][2]string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if name != "" { // the usage's `WORD`, or the flag's type
			left += " " + strings.ToUpper(name)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		lines = append(lines, [2]string{left, usage})
	})
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\t%s\n", l[0], l[1])
	}
	tw.Flush()
}

// execute parses args for c and runs it. -h and --help print c's help to
// stdout and succeed; a mistake is said on stderr with the synopsis
// (exit 2).
func (c *command) execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, act := c.flagSet()
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.help(stdout)
		return nil
	}
	if err == nil {
		switch {
		case len(pos) < c.min:
			err = fmt.Errorf("missing %s", c.args)
		case c.max >= 0 && len(pos) > c.max:
			err = fmt.Errorf("unexpected argument %q", pos[c.max])
		}
	}
	if err != nil {
		return c.mistake(stderr, err)
	}
	return act(ctx, pos, stdout, stderr)
}

// mistake reports a command-line mistake: exit code 2.
func (c *command) mistake(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "callbridge %s: %v\nusage: %s\nRun 'callbridge help %s' for its flags.\n", c.name, err, c.synopsis(), c.name)
	return errUsage
}

// parseArgs parses flags and positional arguments in any order.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "callbridge: per-user phone-call activities from Asterisk, for your CRM.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n        %s\n", c.synopsis(), c.brief)
	}
	fmt.Fprint(w, "\nRun 'callbridge help COMMAND' (or 'callbridge COMMAND -h') for a command's description and flags.\n")
}

// groupHelp prints the commands of group.
func groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: callbridge %s COMMAND ...\n\n", group)
	for _, c := range inGroup(group) {
		fmt.Fprintf(w, "  %s\n        %s\n", c.synopsis(), c.brief)
	}
	fmt.Fprintf(w, "\nRun 'callbridge help %s COMMAND' for a command's description and flags.\n", group)
}

func helpCommand() *command {
	return &command{name: "help", args: "[COMMAND]", min: 0, max: 2,
		brief: "Describe a command and its flags, or list the commands.",
		about: "Without a COMMAND, lists every command. With one (`callbridge help queue retry`), prints what it does and its flags, as `callbridge COMMAND -h` does.",
		setup: func(*flag.FlagSet) action {
			return func(_ context.Context, args []string, stdout, stderr io.Writer) error {
				if len(args) == 0 {
					usage(stdout)
					return nil
				}
				c, rest, group := lookup(args)
				switch {
				case group != "" && len(rest) == 0:
					groupHelp(stdout, group)
				case c != nil && len(rest) == 0:
					c.help(stdout)
				default:
					fmt.Fprintf(stderr, "callbridge help: no command %q\n", strings.Join(args, " "))
					return errUsage
				}
				return nil
			}
		}}
}

var versionCommand = &command{
	name: "version", brief: "Print the version.", about: "Prints callbridge's version and the Go release it was built with.",
	setup: func(*flag.FlagSet) action {
		return func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "callbridge", versionString())
			return nil
		}
	},
}

// wrap reflows text's paragraphs (separated by blank lines) to width;
// indented lines (commands to type) are kept as they are.
func wrap(text string, width int) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.HasPrefix(para, "    ") {
			out = append(out, para)
			continue
		}
		var lines []string
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		out = append(out, strings.Join(append(lines, line), "\n"))
	}
	return strings.Join(out, "\n\n")
}
