package fakehttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Watch stands in front of a fake: the requests it saw, the most in
// flight at once, and an optional hold that lets requests overlap. The
// connectors' key tests use it to show what a key changes on the wire
// (paths, request counts, concurrency), so it lives here once rather
// than in each connector's tests.
type Watch struct {
	Handler http.Handler
	// Unheld: requests whose path contains it are never held (say, the
	// token endpoint, so that only API requests overlap). "": all are.
	Unheld string

	mu   sync.Mutex
	hold time.Duration
	seen []string // "METHOD path"
	in   int
	most int
}

// Watching puts a new Watch in front of fake on srv and returns it.
func Watching(srv *httptest.Server, fake http.Handler) *Watch {
	w := &Watch{Handler: fake}
	srv.Config.Handler = w
	return w
}

// ServeHTTP implements http.Handler.
func (w *Watch) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.seen = append(w.seen, r.Method+" "+r.URL.Path)
	w.in++
	w.most = max(w.most, w.in)
	hold := w.hold
	w.mu.Unlock()
	if hold > 0 && (w.Unheld == "" || !strings.Contains(r.URL.Path, w.Unheld)) {
		time.Sleep(hold)
	}
	w.Handler.ServeHTTP(rw, r)
	w.mu.Lock()
	w.in--
	w.mu.Unlock()
}

// Requests are the requests seen so far, each as "METHOD path".
func (w *Watch) Requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// SetHold makes each later request wait d before the fake serves it.
func (w *Watch) SetHold(d time.Duration) {
	w.mu.Lock()
	w.hold = d
	w.mu.Unlock()
}

// Peak is the most requests that were in flight at once.
func (w *Watch) Peak() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.most
}

// Silence is next with the requests quiet picks left unanswered: the
// connection stays open until the client gives up or release is called.
// The timeout tests use it as an API that does not answer. Call release
// before the server closes (defer it), or Close waits for the client.
func Silence(next http.Handler, quiet func(*http.Request) bool) (h http.Handler, release func()) {
	done := make(chan struct{})
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if quiet(r) {
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		next.ServeHTTP(w, r)
	})
	return h, func() { close(done) }
}
