package manpage

import (
	"errors"
	"fmt"
	"strings"
)

// Command is one entry of the command summary: its name ("queue",
// "config check"), its argument syntax and what it does.
type Command struct {
	Name, Args, Desc string
}

// ParseUsage reads the text `callbridge help` prints: a first line
// "callbridge: what it is.", then under "Usage:" one entry per command,
// "  callbridge NAME ARGS" with its description indented below.
func ParseUsage(text string) (summary string, cmds []Command, err error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	first := strings.TrimSpace(lines[0])
	s, ok := strings.CutPrefix(first, "callbridge:")
	if !ok {
		return "", nil, fmt.Errorf("usage: first line %q is not \"callbridge: …\"", first)
	}
	summary = strings.TrimSuffix(strings.TrimSpace(s), ".")
	for _, l := range lines[1:] {
		t := strings.TrimSpace(l)
		indent := len(l) - len(strings.TrimLeft(l, " "))
		switch {
		case t == "" || t == "Usage:":
		case strings.HasPrefix(t, "callbridge ") && indent <= 4:
			name, args := splitCommand(strings.TrimPrefix(t, "callbridge "))
			cmds = append(cmds, Command{Name: name, Args: args})
		case len(cmds) > 0 && indent > 4:
			c := &cmds[len(cmds)-1]
			c.Desc = strings.TrimSpace(c.Desc + " " + t)
		}
	}
	if len(cmds) == 0 {
		return "", nil, errors.New("usage: no \"  callbridge COMMAND\" lines")
	}
	return summary, cmds, nil
}

// splitCommand separates the command's words (lower-case) from its
// arguments, which start at the first word that is not one: "(stats | …",
// "--config FILE", "[--all]", "ID".
func splitCommand(s string) (name, args string) {
	words := strings.Fields(s)
	n := 0
	for n < len(words) && isWord(words[n]) {
		n++
	}
	return strings.Join(words[:n], " "), strings.Join(words[n:], " ")
}

func isWord(w string) bool {
	for _, r := range w {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return w != ""
}

// Commands renders the command summary as tagged paragraphs.
func Commands(cmds []Command) string {
	var out []string
	for _, c := range cmds {
		tag := `\fBcallbridge ` + escape(c.Name, true) + `\fR`
		if c.Args != "" {
			tag += " " + escape(c.Args, true)
		}
		out = append(out, ".TP", line(tag))
		if c.Desc != "" {
			out = append(out, line(escape(c.Desc, false)))
		}
	}
	return strings.Join(out, "\n")
}
