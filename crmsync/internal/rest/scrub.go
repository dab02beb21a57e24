package rest

import (
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Scrubber removes secrets from text. Values are kept in named sets
// ("client_secret", "token") so a rotated secret or a new token replaces
// the old one. Values shorter than 4 characters are ignored: they would
// scrub ordinary text.
type Scrubber struct {
	mu   sync.RWMutex
	sets map[string][]string
	r    *strings.Replacer
}

// Set replaces the values of set name.
func (s *Scrubber) Set(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sets == nil {
		s.sets = map[string][]string{}
	}
	s.sets[name] = values
	var all []string
	for _, vs := range s.sets {
		for _, v := range vs {
			for _, f := range forms(v) {
				if len(f) >= 4 {
					all = append(all, f)
				}
			}
		}
	}
	// Longest first, so a secret containing another is removed whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, "<secret>")
	}
	s.r = strings.NewReplacer(pairs...)
}

// forms are the ways a value can show up in text: as is, URL-encoded (a
// form body or query echoed back), and each word of it ("Bearer <token>").
func forms(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	for _, f := range strings.Fields(v) {
		if f != v && len(f) >= 8 {
			out = append(out, f)
		}
	}
	return out
}

// Replace returns text without any secret.
func (s *Scrubber) Replace(text string) string {
	s.mu.RLock()
	r := s.r
	s.mu.RUnlock()
	if r == nil {
		return text
	}
	return r.Replace(text)
}

// Printable keeps an answer's text readable in one log line.
func Printable(b []byte) string {
	str := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b))
	return strings.Join(strings.Fields(str), " ")
}

// Truncate shortens s to n runes, marking the cut.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
