package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func completionCommand() *command {
	return &command{name: "completion", args: "bash", min: 1, max: 1,
		brief: "Print a shell completion script (bash).",
		about: `Prints a bash completion script for callbridge: commands, their
subcommands and each one's own flags, and file names after the flags that
take a file. Load it with

    source <(callbridge completion bash)

or install it as /usr/share/bash-completion/completions/callbridge.`,
		setup: func(*flag.FlagSet) action {
			return func(_ context.Context, args []string, stdout, stderr io.Writer) error {
				if args[0] != "bash" {
					fmt.Fprintf(stderr, "callbridge completion: %q: only bash is supported\n", args[0])
					return errUsage
				}
				_, err := io.WriteString(stdout, bashCompletion())
				return err
			}
		}}
}

// fileFlags take a file name.
var fileFlags = map[string]bool{"--config": true, "--out": true, "--ari": true, "--ami": true, "--pcap": true, "--cel": true}

// bashCompletion is the completion script, made from the command table.
func bashCompletion() string {
	var top []string
	subs := map[string][]string{}
	var cases strings.Builder
	for _, c := range commands() {
		first, sub, grouped := strings.Cut(c.name, " ")
		if len(top) == 0 || top[len(top)-1] != first {
			top = append(top, first)
		}
		if grouped {
			subs[first] = append(subs[first], sub)
		}
		words := c.flagNames()
		switch c.name {
		case "help":
			words = top // completed below with every command
		case "completion":
			words = []string{"bash"}
		}
		fmt.Fprintf(&cases, "\t%q) words=%q ;;\n", c.name, strings.Join(words, " "))
	}
	var groups strings.Builder
	names := make([]string, 0, len(subs))
	for g := range subs {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		fmt.Fprintf(&groups, "\t%s)\n\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n\t\tcmd=\"$cmd ${COMP_WORDS[2]}\" ;;\n",
			g, strings.Join(subs[g], " "))
	}
	var files []string
	for f := range fileFlags {
		files = append(files, f)
	}
	sort.Strings(files)
	return fmt.Sprintf(`# bash completion for callbridge (callbridge completion bash)
_callbridge() {
	local cur prev cmd words
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case "$prev" in
	%s) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W %q -- "$cur"))
		return
	fi
	cmd="${COMP_WORDS[1]}"
	case "$cmd" in
%s	esac
	words=""
	case "$cmd" in
%s	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _callbridge callbridge
`, strings.Join(files, "|"), strings.Join(top, " "), groups.String(), cases.String())
}
