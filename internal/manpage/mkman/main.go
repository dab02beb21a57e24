// Command mkman writes callbridge(8) from the command summary
// (`callbridge help`) and the docs; make man runs it:
//
//	callbridge help | go run ./internal/manpage/mkman -root . -usage - -version 1.2.0 -epoch 1764583200 > callbridge.8
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callbridge/callbridge/internal/manpage"
)

// What each part of the page is made from. The titles are those of the
// docs' own sections: renaming one there fails the build here, loudly.
const (
	configDoc  = "docs/config.md"
	opsDoc     = "docs/operations.md"
	configSkip = "For programs"
)

var opsSections = []struct{ man, doc string }{
	{"Credentials", "Secrets and credentials"},
	{"Files", "Files"},
	{"State directory", "The state directory and backups"},
}

const seeAlso = `.BR systemctl (1),
.BR journalctl (1),
.BR systemd.service (5),
.BR systemd.exec (5),
.BR sysusers.d (5),
.BR systemd\-sysusers (8).
.PP
The full documentation, with the Asterisk set-up, is in
.I /usr/share/doc/callbridge/
and at
.UR https://github.com/callbridge/callbridge
.UE .`

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkman:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkman", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository: README.md and docs/ are read from here")
	usage := fs.String("usage", "-", "file with the output of `callbridge help` (- for standard input)")
	version := fs.String("version", "dev", "the version the page documents")
	epoch := fs.Int64("epoch", 0, "the page's date, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var help []byte
	var err error
	if *usage == "-" {
		help, err = io.ReadAll(stdin)
	} else {
		help, err = os.ReadFile(*usage)
	}
	if err != nil {
		return err
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(*root, name))
		return string(b), err
	}
	page, err := build(string(help), read, *version, time.Unix(*epoch, 0))
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return page.Write(w)
}

// build assembles the page from the usage text and the files read gives.
func build(help string, read func(string) (string, error), version string, date time.Time) (manpage.Page, error) {
	summary, cmds, err := manpage.ParseUsage(help)
	if err != nil {
		return manpage.Page{}, err
	}
	readme, err := read("README.md")
	if err != nil {
		return manpage.Page{}, err
	}
	intro, err := manpage.Intro(readme)
	if err != nil {
		return manpage.Page{}, fmt.Errorf("README.md: %w", err)
	}
	config, err := read(configDoc)
	if err != nil {
		return manpage.Page{}, err
	}
	ops, err := read(opsDoc)
	if err != nil {
		return manpage.Page{}, err
	}
	p := manpage.Page{
		Name: "callbridge", Section: "8", Date: date,
		Source: "callbridge " + version, Manual: "System Administration",
		Sections: []manpage.Sec{
			{Title: "Name", Body: `callbridge \- ` + manpage.Inline(summary)},
			{Title: "Synopsis", Body: ".B callbridge\n.I command\n.RI [ flags ]"},
			{Title: "Description", Body: manpage.Markdown(intro, 0)},
			{Title: "Commands", Body: manpage.Commands(cmds)},
			{Title: "Configuration", Body: manpage.Markdown(manpage.Body(config, configSkip), 2)},
		},
	}
	for _, s := range opsSections {
		body, err := manpage.Section(ops, s.doc)
		if err != nil {
			return manpage.Page{}, fmt.Errorf("%s: %w", opsDoc, err)
		}
		p.Sections = append(p.Sections, manpage.Sec{Title: s.man, Body: manpage.Markdown(body, 3)})
	}
	p.Sections = append(p.Sections, manpage.Sec{Title: "See also", Body: seeAlso})
	return p, nil
}
