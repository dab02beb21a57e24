package config

import (
	"errors"
	"strings"
)

// Problems is everything wrong with one config file: one line per
// problem, each starting with its key path (or the YAML line for keys
// that do not exist), in the order the stages found them. Load and Check
// return it; errors.Is and errors.As see every problem through it.
type Problems struct {
	Path string
	Errs []error
}

// Error is the file name on a line of its own, then one problem a line.
func (p *Problems) Error() string {
	var b strings.Builder
	b.WriteString(p.Path)
	b.WriteString(":")
	for _, l := range p.Lines() {
		b.WriteString("\n")
		b.WriteString(l)
	}
	return b.String()
}

// Unwrap gives each problem.
func (p *Problems) Unwrap() []error { return p.Errs }

// Lines are the problems, one a line.
func (p *Problems) Lines() []string {
	var out []string
	for _, e := range p.Errs {
		for _, l := range strings.Split(e.Error(), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// problems flattens errs (joined errors and nils included) into a
// Problems for path, or nil when there is none.
func problems(path string, errs ...error) error {
	var flat []error
	var add func(error)
	add = func(err error) {
		if err == nil {
			return
		}
		var p *Problems
		if errors.As(err, &p) && p == err {
			for _, e := range p.Errs {
				add(e)
			}
			return
		}
		// A joined error (errors.Join) is its parts; an error that
		// wraps several in a sentence of its own stays whole.
		if j, ok := err.(interface{ Unwrap() []error }); ok && joined(err, j.Unwrap()) {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		flat = append(flat, err)
	}
	for _, e := range errs {
		add(e)
	}
	if len(flat) == 0 {
		return nil
	}
	return &Problems{Path: path, Errs: flat}
}

// joined reports whether err reads as its parts, one a line.
func joined(err error, parts []error) bool {
	msgs := make([]string, 0, len(parts))
	for _, e := range parts {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	return err.Error() == strings.Join(msgs, "\n")
}
