package fakehttp

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestWatchRecordsAndCountsInFlight(t *testing.T) {
	// The handler holds two requests until both are inside: the peak is
	// two whatever the scheduling.
	var inside sync.WaitGroup
	inside.Add(2)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/both" {
			inside.Done()
			inside.Wait()
		}
	})
	srv := httptest.NewServer(nil)
	defer srv.Close()
	w := Watching(srv, ok)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := http.Post(srv.URL+"/both", "text/plain", nil); err == nil {
				r.Body.Close()
			}
		}()
	}
	wg.Wait()
	if r, err := http.Get(srv.URL + "/one"); err == nil {
		r.Body.Close()
	}
	got := w.Requests()
	if len(got) != 3 || got[2] != "GET /one" || slices.Compare(got[:2], []string{"POST /both", "POST /both"}) != 0 {
		t.Errorf("requests %q", got)
	}
	if w.Peak() != 2 {
		t.Errorf("peak %d, want 2", w.Peak())
	}
}

func TestWatchHoldSparesUnheld(t *testing.T) {
	// A hold far longer than the test: a held request would hang it.
	w := &Watch{Handler: http.NotFoundHandler(), Unheld: "/oauth2/"}
	w.SetHold(1 << 62)
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/services/oauth2/token", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(w.Requests()[0], "/oauth2/") {
		t.Errorf("%d %q", rec.Code, w.Requests())
	}
}

func TestSilenceHoldsQuietRequestsUntilReleased(t *testing.T) {
	var served []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = append(served, r.Method)
		http.NotFound(w, r)
	})
	h, release := Silence(next, func(r *http.Request) bool { return r.Method == http.MethodPost })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/calls", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("a request not picked: %d, want the handler's 404", rec.Code)
	}
	done := make(chan struct{})
	quiet := httptest.NewRecorder()
	go func() {
		defer close(done)
		h.ServeHTTP(quiet, httptest.NewRequest(http.MethodPost, "/calls", nil))
	}()
	release() // without it, <-done never returns and the test times out
	<-done
	if slices.Compare(served, []string{http.MethodGet}) != 0 || quiet.Body.Len() != 0 || len(quiet.Header()) != 0 {
		t.Errorf("served %q; the picked request got %q %v, want nothing", served, quiet.Body, quiet.Header())
	}
}
