// Package fakehttp holds what the strict CRM fakes share: losing an answer
// after carrying out the request (the exactly-once tests), sliding-window
// rate limits, a recorder for answers written before they are sent, and a
// watch in front of a fake that the connectors' key tests read requests and
// concurrency from.
package fakehttp

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Loser carries out requests through a handler and, for requests matching
// an armed rule, closes the connection instead of answering: the fake has
// done the work, the client never hears of it. Use it as a middleware in
// front of a fake.
type Loser struct {
	Handler http.Handler

	mu    sync.Mutex
	rules []rule
	lost  int
}

type rule struct {
	method, path string
	n            int
}

// LoseNext arms the loss of the answers to the next n requests with this
// method whose path contains path.
func (l *Loser) LoseNext(method, path string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rules = append(l.rules, rule{method, path, n})
}

// Lost is how many answers were lost so far.
func (l *Loser) Lost() int { l.mu.Lock(); defer l.mu.Unlock(); return l.lost }

func (l *Loser) take(r *http.Request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.rules {
		ru := &l.rules[i]
		if ru.n > 0 && r.Method == ru.method && strings.Contains(r.URL.Path, ru.path) {
			ru.n--
			l.lost++
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (l *Loser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.take(r) {
		l.Handler.ServeHTTP(w, r)
		return
	}
	rec := NewRecorder()
	l.Handler.ServeHTTP(rec, r) // the work is done...
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close() // ...and the answer never leaves
			return
		}
	}
	panic(http.ErrAbortHandler) // no hijacking (HTTP/2): abort the stream
}

// Recorder is a minimal ResponseWriter keeping the answer.
type Recorder struct {
	Status int
	header http.Header
	Body   bytes.Buffer
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{header: http.Header{}} }

// Header implements http.ResponseWriter.
func (r *Recorder) Header() http.Header { return r.header }

// Write implements http.ResponseWriter.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	return r.Body.Write(b)
}

// WriteHeader implements http.ResponseWriter.
func (r *Recorder) WriteHeader(s int) {
	if r.Status == 0 {
		r.Status = s
	}
}

// Window is a sliding-window request budget: Limit requests per Span.
// The zero Limit admits everything.
type Window struct {
	Limit int
	Span  time.Duration

	hits []time.Time
}

// Admit counts a request at now, or refuses it and says how long until
// the oldest request in the window leaves it. used is the count in the
// window after this request.
func (w *Window) Admit(now time.Time) (ok bool, wait time.Duration, used int) {
	if w.Limit <= 0 {
		return true, 0, 0
	}
	cut := 0
	for cut < len(w.hits) && now.Sub(w.hits[cut]) >= w.Span {
		cut++
	}
	w.hits = w.hits[cut:]
	if len(w.hits) >= w.Limit {
		return false, w.hits[0].Add(w.Span).Sub(now), len(w.hits)
	}
	w.hits = append(w.hits, now)
	return true, 0, len(w.hits)
}

// Used is how many requests the window holds at now.
func (w *Window) Used(now time.Time) int {
	n := 0
	for _, h := range w.hits {
		if now.Sub(h) < w.Span {
			n++
		}
	}
	return n
}
