package manpage

import (
	"fmt"
	"strings"
	"unicode"
)

// escape makes plain text safe in roff: backslashes are printed, non-ASCII
// runes become \[uXXXX] escapes (groff and mandoc read them without
// preconv) and, in literal text (code), '-' becomes \- so that options
// copied from the page are real minus signs.
func escape(s string, literal bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-' && literal:
			b.WriteString(`\-`)
		case r == '\t':
			b.WriteByte(' ')
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		case r < ' ':
			// Control characters have no place in a page.
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// line guards a text line: one starting with a dot or an apostrophe
// would be read as a request.
func line(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// inline converts one line of Markdown inline text to roff.
func inline(s string) string {
	var b strings.Builder
	bold, italic := false, false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\`*_[]()|#+-.!<>", s[i+1]) >= 0:
			b.WriteString(escape(s[i+1:i+2], false))
			i += 2
		case c == '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 {
				b.WriteString(escape(s[i:], false))
				i = len(s)
				continue
			}
			b.WriteString(`\fB` + escape(s[i+1:i+1+end], true) + font(bold, italic))
			i += end + 2
		case strings.HasPrefix(s[i:], "**"):
			bold = !bold
			b.WriteString(font(bold, italic))
			i += 2
		case c == '*' && (italic || i+1 < len(s) && s[i+1] != ' ' && strings.IndexByte(s[i+1:], '*') > 0):
			italic = !italic
			b.WriteString(font(bold, italic))
			i++
		case c == '[':
			text, url, n, ok := link(s[i:])
			if !ok {
				b.WriteByte('[')
				i++
				continue
			}
			b.WriteString(inline(text))
			if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
				b.WriteString(" <" + escape(url, true) + ">")
			}
			i += n
		default:
			end := i + 1
			for end < len(s) && strings.IndexByte("\\`*[", s[end]) < 0 {
				end++
			}
			b.WriteString(escape(s[i:end], false))
			i = end
		}
	}
	if bold || italic {
		b.WriteString(`\fR`)
	}
	return b.String()
}

// font is the escape that selects the font for the current emphasis.
func font(bold, italic bool) string {
	switch {
	case bold && italic:
		return `\f(BI`
	case bold:
		return `\fB`
	case italic:
		return `\fI`
	}
	return `\fR`
}

// link reads "[text](url)" at the start of s.
func link(s string) (text, url string, n int, ok bool) {
	close := strings.Index(s, "](")
	if close < 0 || strings.IndexByte(s[1:close], '[') >= 0 {
		return "", "", 0, false
	}
	end := strings.IndexByte(s[close+2:], ')')
	if end < 0 {
		return "", "", 0, false
	}
	return s[1:close], s[close+2 : close+2+end], close + 3 + end, true
}

// Inline renders one line of Markdown inline text (no blocks) as a roff
// text line.
func Inline(s string) string { return line(inline(s)) }
