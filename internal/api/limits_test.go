package api_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbridge/callbridge/internal/api"
)

// A body over http.limits.max_body_bytes is refused with 413: at once by
// its Content-Length, or when reading passes the limit.
func TestBodyLimit(t *testing.T) {
	m := api.New(api.Deps{Auth: tokens(true, false), Limits: api.Limits{MaxBodyBytes: 2048}})
	big := `{"token": "` + strings.Repeat("x", 4096) + `"}`
	req := httptest.NewRequest("POST", "/api/session", strings.NewReader(big))
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	if w.Code != 413 || !strings.Contains(w.Body.String(), "max_body_bytes") {
		t.Errorf("by Content-Length: %d %q", w.Code, w.Body.String())
	}
	req = httptest.NewRequest("POST", "/api/session", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1 // chunked: only reading finds out
	w = httptest.NewRecorder()
	m.ServeHTTP(w, req)
	if w.Code != 413 {
		t.Errorf("while reading: %d %q", w.Code, w.Body.String())
	}
	req = httptest.NewRequest("POST", "/api/session", strings.NewReader(`{"token": "`+adminToken+`"}`))
	w = httptest.NewRecorder()
	m.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("a body within the limit: %d %q", w.Code, w.Body.String())
	}
}

// holdLive keeps every stream open until its request ends.
type holdLive struct{}

func (holdLive) Subscribe(string) (<-chan api.LiveEvent, func()) {
	return make(chan api.LiveEvent), func() {}
}

// Live streams are limited per agent and in total (429), and a stream
// that ends gives its slot back.
func TestStreamLimits(t *testing.T) {
	m := api.New(api.Deps{Auth: tokens(true, false), Live: holdLive{}, Limits: api.Limits{StreamsPerAgent: 2, StreamsTotal: 3}})
	srv := httptest.NewServer(m)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var open []context.CancelFunc
	stream := func(user, token string) int {
		t.Helper()
		sctx, scancel := context.WithCancel(ctx)
		target := srv.URL + "/api/live"
		if user != "" {
			target += "?user=" + user
		}
		req, _ := http.NewRequestWithContext(sctx, "GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			scancel()
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			scancel()
			return resp.StatusCode
		}
		go func() { // read until the stream ends
			defer resp.Body.Close()
			bufio.NewReader(resp.Body).WriteTo(io.Discard)
		}()
		mu.Lock()
		open = append(open, scancel)
		mu.Unlock()
		return 200
	}
	for i, tt := range []struct {
		user, token string
		code        int
	}{
		{"101", aliceToken, 200},
		{"101", aliceToken, 200},
		{"101", aliceToken, 429}, // Alice's third: per agent
		{"102", bobToken, 200},
		{"102", bobToken, 429}, // Bob's second: in total
		{"", adminToken, 429},  // the admin counts in the total too
	} {
		if got := stream(tt.user, tt.token); got != tt.code {
			t.Errorf("stream %d (%s): %d, want %d", i, tt.user, got, tt.code)
		}
	}
	// One of Alice's ends: Bob may open his second.
	open[0]()
	for i := 0; m.Streams() == 3; i++ {
		if i > 5000 {
			t.Fatal("the ended stream never gave its slot back")
		}
		time.Sleep(time.Millisecond)
	}
	if got := stream("102", bobToken); got != 200 {
		t.Errorf("after one ended: %d, want 200", got)
	}
	for _, c := range open {
		c()
	}
}
