package manpage

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	headingRE  = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	bulletRE   = regexp.MustCompile(`^\s*[-*]\s+(.*)$`)
	numberedRE = regexp.MustCompile(`^\s*(\d+)\.\s+(.*)$`)
	tableSepRE = regexp.MustCompile(`^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$`)
)

// Markdown renders a Markdown text as the body of a man page section.
// Headings of level sub become subsections (.SS); deeper ones become bold
// paragraph titles, since man has no third level.
func Markdown(md string, sub int) string {
	var out []string
	emit := func(s ...string) { out = append(out, s...) }
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if len(para) == 0 {
			return
		}
		emit(".PP")
		for _, l := range para {
			emit(line(inline(strings.TrimSpace(l))))
		}
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "```"):
			flush()
			emit(".PP", ".RS 4", ".nf")
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				if lines[i] == "" {
					emit(`\&`)
					continue
				}
				emit(line(escape(lines[i], true)))
			}
			emit(".fi", ".RE")
		case headingRE.MatchString(l):
			flush()
			m := headingRE.FindStringSubmatch(l)
			title := inline(strings.TrimSpace(m[2]))
			if len(m[1]) <= sub {
				emit(".SS " + quote(plain(m[2])))
			} else {
				emit(".PP", line(`\fB`+title+`\fR`))
			}
		case strings.HasPrefix(trimmed, "|"):
			flush()
			var rows []string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				rows = append(rows, strings.TrimSpace(lines[i]))
			}
			i--
			emit(table(rows)...)
		case bulletRE.MatchString(l) || numberedRE.MatchString(l):
			flush()
			mark, text := `\(bu`, ""
			indent := "2"
			if m := numberedRE.FindStringSubmatch(l); m != nil {
				mark, text, indent = m[1]+".", m[2], "4"
			} else {
				text = bulletRE.FindStringSubmatch(l)[1]
			}
			// Continuation lines: indented, not blank, not a new item.
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) == "" || !strings.HasPrefix(next, " ") ||
					bulletRE.MatchString(next) || numberedRE.MatchString(next) {
					break
				}
				text += " " + strings.TrimSpace(next)
				i++
			}
			emit(".IP "+mark+" "+indent, line(inline(text)))
		default:
			para = append(para, l)
		}
	}
	flush()
	return strings.Join(out, "\n")
}

// table renders a Markdown table as tagged paragraphs: the first cell is
// the tag, the cells between are "Header: value." and the last one is the
// text.
func table(rows []string) []string {
	if len(rows) < 2 || !tableSepRE.MatchString(rows[1]) {
		// Not a table after all: keep the text.
		var out []string
		for _, r := range rows {
			out = append(out, ".PP", line(inline(r)))
		}
		return out
	}
	header := cells(rows[0])
	var out []string
	for _, r := range rows[2:] {
		c := cells(r)
		if len(c) == 0 {
			continue
		}
		out = append(out, ".TP", line(inline(c[0])))
		var mid []string
		for j := 1; j < len(c)-1; j++ {
			if c[j] == "" {
				continue
			}
			label := ""
			if j < len(header) && header[j] != "" {
				label = strings.ToUpper(header[j][:1]) + header[j][1:] + ": "
			}
			mid = append(mid, inline(label+c[j])+".")
		}
		if len(mid) > 0 {
			out = append(out, line(strings.Join(mid, " ")))
			if len(c) > 1 && c[len(c)-1] != "" {
				out = append(out, ".br")
			}
		}
		if len(c) > 1 && c[len(c)-1] != "" {
			out = append(out, line(inline(c[len(c)-1])))
		}
	}
	return out
}

// cells splits a table row on its unescaped pipes; "\|" in a cell is a
// literal pipe, in code spans too (as GitHub reads it).
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	var out []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// plain is heading text without Markdown marks, for .SS and .SH titles.
func plain(s string) string {
	s = strings.NewReplacer("`", "", "**", "").Replace(strings.TrimSpace(s))
	return escape(s, false)
}

// quote puts a macro argument in double quotes; a quote inside is \(dq.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\(dq`) + `"`
}

// Intro is the first paragraph after the document's title.
func Intro(md string) (string, error) {
	var para []string
	started := false
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "# "):
			started = true
		case !started:
		case t == "" && len(para) > 0:
			return strings.Join(para, "\n"), nil
		case t != "":
			if strings.HasPrefix(t, "#") {
				return "", fmt.Errorf("no paragraph before %q", t)
			}
			para = append(para, t)
		}
	}
	if len(para) == 0 {
		return "", fmt.Errorf("no introduction under the title")
	}
	return strings.Join(para, "\n"), nil
}

// Section is the text under the level-2 heading named title, up to the
// next heading of level 2 or less. Fenced code is not searched for
// headings.
func Section(md, title string) (string, error) {
	var body []string
	in, fenced := false, false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		if !fenced {
			if m := headingRE.FindStringSubmatch(l); m != nil && len(m[1]) <= 2 {
				if in {
					break
				}
				in = len(m[1]) == 2 && strings.TrimSpace(m[2]) == title
				continue
			}
		}
		if in {
			body = append(body, l)
		}
	}
	if !in && body == nil {
		return "", fmt.Errorf("no section %q", title)
	}
	return strings.TrimSpace(strings.Join(body, "\n")), nil
}

// Body is the document without its title line, leaving out the level-2
// sections named in skip.
func Body(md string, skip ...string) string {
	var body []string
	dropping, fenced := false, false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		if m := headingRE.FindStringSubmatch(l); m != nil && !fenced {
			if len(m[1]) == 1 {
				continue
			}
			if len(m[1]) == 2 {
				dropping = false
				for _, s := range skip {
					dropping = dropping || strings.TrimSpace(m[2]) == s
				}
			}
		}
		if !dropping {
			body = append(body, l)
		}
	}
	return strings.TrimSpace(strings.Join(body, "\n"))
}
