package manpage

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestInline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"`--config FILE`", `\fB\-\-config FILE\fR`},
		{"a **bold** and *it* word", `a \fBbold\fR and \fIit\fR word`},
		{"**`ari.url`: required**", `\fB\fBari.url\fB: required\fR`},
		{"[asterisk.md](asterisk.md)", "asterisk.md"},
		{"[RE2](https://github.com/google/re2)", `RE2 <https://github.com/google/re2>`},
		{`back\slash`, `back\eslash`},
		{`an escaped \| pipe and \*star\*`, `an escaped | pipe and *star*`},
		{"2–6 digits → +358", `2\[u2013]6 digits \[u2192] +358`},
		{"prose-hyphen stays", "prose-hyphen stays"},
		{"a lone * star", "a lone * star"},
		{"unclosed `code", "unclosed `code"},
		{"[not a link", "[not a link"},
	}
	for _, tt := range tests {
		if got := inline(tt.in); got != tt.want {
			t.Errorf("inline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLineGuard(t *testing.T) {
	for in, want := range map[string]string{".PP": `\&.PP`, "'quote": `\&'quote`, "text": "text"} {
		if got := Inline(in); got != want {
			t.Errorf("Inline(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	md := "## Top\n\nA paragraph\nover two lines.\n\n### Deeper\n\n- one\n  continued\n- `two`\n\n1. first\n2. second\n\n" +
		"```sh\nsystemctl start x --now\n.dot\n\nend\n```\n\n" +
		"| key | type | meaning |\n|---|---|---|\n| `a` | `x` \\| `y` | what a is |\n| `b` | | b |\n\n.starts with a dot\n"
	want := `.SS "Top"
.PP
A paragraph
over two lines.
.PP
\fBDeeper\fR
.IP \(bu 2
one continued
.IP \(bu 2
\fBtwo\fR
.IP 1. 4
first
.IP 2. 4
second
.PP
.RS 4
.nf
systemctl start x \-\-now
\&.dot
\&
end
.fi
.RE
.TP
\fBa\fR
Type: \fBx\fR | \fBy\fR.
.br
what a is
.TP
\fBb\fR
b
.PP
\&.starts with a dot`
	if got := Markdown(md, 2); got != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestCells(t *testing.T) {
	got := cells("| `embedded` \\| `redis` | two |  |")
	want := []string{"`embedded` | `redis`", "two", ""}
	if strings.Join(got, "¦") != strings.Join(want, "¦") {
		t.Errorf("cells = %q, want %q", got, want)
	}
}

func TestSections(t *testing.T) {
	md := "# Title\n\nThe intro\nparagraph.\n\nMore.\n\n## One\n\ntext one\n\n### Sub\n\nsub text\n\n```sh\n## not a heading\n```\n\n## Two\n\ntext two\n"
	if got, err := Intro(md); err != nil || got != "The intro\nparagraph." {
		t.Errorf("Intro = %q, %v", got, err)
	}
	got, err := Section(md, "One")
	if want := "text one\n\n### Sub\n\nsub text\n\n```sh\n## not a heading\n```"; err != nil || got != want {
		t.Errorf("Section(One) = %q, %v; want %q", got, err, want)
	}
	if got, err := Section(md, "Two"); err != nil || got != "text two" {
		t.Errorf("Section(Two) = %q, %v", got, err)
	}
	if _, err := Section(md, "Three"); err == nil {
		t.Error("Section(Three): no error for a missing section")
	}
	if _, err := Intro("# Title\n\n## At once\n"); err == nil {
		t.Error("Intro: no error without a paragraph")
	}
	if got, want := Body(md, "One"), "The intro\nparagraph.\n\nMore.\n\n## Two\n\ntext two"; got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
}

const usage = `callbridge: per-user phone-call activities from Asterisk, for your CRM.

Usage:
  callbridge run --config FILE
        Run the daemon.
  callbridge queue (stats | dead) [--connector NAME] --config FILE
        Inspect and repair the delivery queue
        (embedded store: with the daemon stopped).
  callbridge config check --config FILE
        Check a configuration file.
  callbridge version
`

func TestParseUsage(t *testing.T) {
	summary, cmds, err := ParseUsage(usage)
	if err != nil {
		t.Fatal(err)
	}
	if summary != "per-user phone-call activities from Asterisk, for your CRM" {
		t.Errorf("summary %q", summary)
	}
	want := []Command{
		{"run", "--config FILE", "Run the daemon."},
		{"queue", "(stats | dead) [--connector NAME] --config FILE", "Inspect and repair the delivery queue (embedded store: with the daemon stopped)."},
		{"config check", "--config FILE", "Check a configuration file."},
		{"version", "", ""},
	}
	if len(cmds) != len(want) {
		t.Fatalf("got %d commands %q, want %d", len(cmds), cmds, len(want))
	}
	for i := range want {
		if cmds[i] != want[i] {
			t.Errorf("command %d = %+v, want %+v", i, cmds[i], want[i])
		}
	}
	if got := Commands(cmds[:1]); got != ".TP\n\\fBcallbridge run\\fR \\-\\-config FILE\nRun the daemon." {
		t.Errorf("Commands = %q", got)
	}
	for _, bad := range []string{"Usage:\n  callbridge run\n", "callbridge: x\n\nnothing here\n"} {
		if _, _, err := ParseUsage(bad); err == nil {
			t.Errorf("ParseUsage(%q): no error", bad)
		}
	}
}

// requests are the only ones Markdown writes; a line that starts with '.'
// or an apostrophe and is none of them is text read as a request.
var requests = regexp.MustCompile(`^\.(PP|SS ".*"|IP \S+ [24]|TP|RS 4|RE|nf|fi|br)$`)

// FuzzMarkdown feeds the converter the project's own docs and what the
// fuzzer makes of them: it must never emit text that roff reads as a
// request, nor a control character.
func FuzzMarkdown(f *testing.F) {
	for _, p := range []string{"../../README.md", "../../docs/*.md"} {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	f.Add("| a | b |\n|---|---|\n| .x | 'y |\n")
	f.Fuzz(func(t *testing.T, md string) {
		for _, l := range strings.Split(Markdown(md, 2), "\n") {
			if (strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'")) && !requests.MatchString(l) {
				t.Fatalf("line read as a request: %q", l)
			}
			if strings.ContainsFunc(l, func(r rune) bool { return r < ' ' && r != '\t' }) {
				t.Fatalf("control character in %q", l)
			}
		}
	})
}
