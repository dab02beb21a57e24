package fakehttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoserDoesTheWorkAndDropsTheAnswer(t *testing.T) {
	var done atomic.Int32
	l := &Loser{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done.Add(1)
		io.WriteString(w, "ok")
	})}
	srv := httptest.NewServer(l)
	defer srv.Close()
	l.LoseNext(http.MethodPost, "/calls", 1)
	if _, err := http.Post(srv.URL+"/calls", "text/plain", nil); err == nil {
		t.Fatal("the lost answer arrived")
	}
	resp, err := http.Post(srv.URL+"/calls", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if done.Load() != 2 || l.Lost() != 1 {
		t.Fatalf("done %d, lost %d", done.Load(), l.Lost())
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := &Window{Limit: 2, Span: 10 * time.Second}
	for i := range 2 {
		if ok, _, used := w.Admit(t0.Add(time.Duration(i) * time.Second)); !ok || used != i+1 {
			t.Fatalf("request %d refused", i)
		}
	}
	if ok, wait, _ := w.Admit(t0.Add(5 * time.Second)); ok || wait != 5*time.Second {
		t.Fatalf("third: %v %v", ok, wait)
	}
	if ok, _, _ := w.Admit(t0.Add(10 * time.Second)); !ok {
		t.Fatal("the window did not slide")
	}
	if n := w.Used(t0.Add(10 * time.Second)); n != 2 {
		t.Fatalf("used %d", n)
	}
}
