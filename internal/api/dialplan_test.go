package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
)

// routeTable is a Router by anum; "panic" panics.
type routeTable map[string]api.RouteAnswer

func (r routeTable) Route(anum, bnum string) api.RouteAnswer {
	if anum == "panic" {
		panic("router bug")
	}
	if a, ok := r[anum]; ok {
		return a
	}
	return api.RouteAnswer{Result: "none"}
}

func serve(m http.Handler, method, target, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w
}

func TestRouteAPI(t *testing.T) {
	rt := routeTable{"+358401234567": {Target: "102", Rule: "owner", Result: "routed"}, "+35850": {Rule: "owner", Result: "loop"}}
	m := api.New(api.Deps{Router: rt, Auth: tokens(true, false), Logger: zerolog.Nop()})
	for _, tt := range []struct {
		name, method, target, ctype, body string
		code                              int
		want                              string
		rule                              string
	}{
		{"GET target", "GET", "/api/route?anum=%2B358401234567&bnum=%2B35850111222", "", "", 200, "102", "owner"},
		{"GET unencoded plus", "GET", "/api/route?anum=+358401234567&bnum=100", "", "", 200, "102", "owner"},
		{"GET none", "GET", "/api/route?anum=%2B358409999999&bnum=100", "", "", 204, "", ""},
		{"GET loop", "GET", "/api/route?anum=%2B35850&bnum=102", "", "", 204, "", "owner"},
		{"GET no caller", "GET", "/api/route", "", "", 204, "", ""},
		{"GET router panics", "GET", "/api/route?anum=panic&bnum=1", "", "", 204, "", ""},
		{"POST JSON", "POST", "/api/route", "application/json", `{"anum":"+358401234567","bnum":"+35850111222"}`, 200, `{"InitialTarget":"102"}`, "owner"},
		{"POST form", "POST", "/api/route", "application/x-www-form-urlencoded", "anum=%2B358401234567&bnum=100", 200, `{"InitialTarget":"102"}`, "owner"},
		{"POST none", "POST", "/api/route", "application/json", `{"anum":"+1555"}`, 204, "", ""},
		{"POST bad JSON", "POST", "/api/route", "application/json", `{"anum":`, 400, "", ""},
		{"POST number as number", "POST", "/api/route", "application/json", `{"anum":358401234567}`, 204, "", ""},
		{"POST too large", "POST", "/api/route", "application/json", `{"anum":"` + strings.Repeat("1", 5000) + `"}`, 400, "", ""},
		{"POST other content type", "POST", "/api/route", "text/xml", `<a/>`, 400, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(m, tt.method, tt.target, tt.ctype, tt.body)
			if w.Code != tt.code {
				t.Fatalf("%d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code != 400 && w.Body.String() != tt.want {
				t.Errorf("body %q, want %q", w.Body, tt.want)
			}
			if got := w.Header().Get(api.RuleHeader); got != tt.rule {
				t.Errorf("rule header %q, want %q", got, tt.rule)
			}
		})
	}
	// No router (no CRM configured): nothing to do, never an error.
	if w := serve(api.New(api.Deps{Auth: tokens(true, false)}), "GET", "/api/route?anum=%2B358401234567&bnum=1", "", ""); w.Code != 204 || w.Body.Len() != 0 {
		t.Errorf("without a router: %d %q", w.Code, w.Body)
	}
}

type wrapups struct{ got []crmsync.Disposition }

func (w *wrapups) Dispose(_ context.Context, d crmsync.Disposition) (crmsync.DisposeResult, error) {
	switch d.Code {
	case "MAYBE":
		return crmsync.DisposeResult{}, crmsync.ErrUnknownCode
	case "DOWN":
		return crmsync.DisposeResult{}, io.ErrUnexpectedEOF
	}
	w.got = append(w.got, d)
	return crmsync.DisposeResult{ActivityID: "a-" + d.CallID, Connectors: []string{"dynamics"}}, nil
}

func TestDispositionAPI(t *testing.T) {
	wu := &wrapups{}
	m := api.New(api.Deps{Wrapups: wu, Auth: tokens(true, false), Logger: zerolog.Nop()})
	for _, tt := range []struct {
		name, ctype, body string
		code              int
	}{
		{"JSON", "application/json", `{"user":"101","code":"SALE","notes":"wants a quote"}`, 202},
		{"form, as CURL() posts", "application/x-www-form-urlencoded", "user=102&code=NOSALE", 202},
		{"unknown code", "application/json", `{"user":"101","code":"MAYBE"}`, 422},
		{"store down", "application/json", `{"user":"101","code":"DOWN"}`, 503},
		{"bad body", "application/json", `[1]`, 400},
		{"too large", "application/json", `{"notes":"` + strings.Repeat("x", 20000) + `"}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(m, "POST", "/api/calls/1763741470.0/disposition", tt.ctype, tt.body)
			if w.Code != tt.code {
				t.Fatalf("%d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code == 202 && !strings.Contains(w.Body.String(), `"id": "a-1763741470.0"`) {
				t.Errorf("body %s", w.Body)
			}
		})
	}
	if len(wu.got) != 2 || wu.got[0] != (crmsync.Disposition{CallID: "1763741470.0", User: "101", Code: "SALE", Notes: "wants a quote"}) ||
		wu.got[1].User != "102" || wu.got[1].Code != "NOSALE" {
		t.Errorf("dispositions %+v", wu.got)
	}
	if w := serve(api.New(api.Deps{Auth: tokens(true, false)}), "POST", "/api/calls/1/disposition", "application/json", `{"user":"1","code":"X"}`); w.Code != 503 {
		t.Errorf("without a CRM: %d", w.Code)
	}
}

type callbackQueue struct{ got []crmsync.CallbackRequest }

func (c *callbackQueue) Request(_ context.Context, r crmsync.CallbackRequest) (crmsync.CallbackResult, error) {
	switch r.Queue {
	case "billing":
		return crmsync.CallbackResult{}, crmsync.ErrNoProfile
	case "":
		return crmsync.CallbackResult{}, crmsync.ErrBadCallback
	}
	c.got = append(c.got, r)
	return crmsync.CallbackResult{ID: "cb-1", Connectors: []string{"webhook"}}, nil
}

func TestCallbacksAPI(t *testing.T) {
	cq := &callbackQueue{}
	var logs bytes.Buffer
	m := api.New(api.Deps{Callbacks: cq, Auth: tokens(true, false), Logger: zerolog.New(&logs)})
	form := url.Values{"number": {"+358401234567"}, "queue": {"support"}, "requested_at": {"1763742000"}}.Encode()
	for _, tt := range []struct {
		name, ctype, body string
		hdr               []string
		code              int
	}{
		{"form with EPOCH", "application/x-www-form-urlencoded", form, nil, 202},
		{"JSON with RFC 3339 and a key", "application/json", `{"number":"040 123 4567","queue":"support","subject":"Invoice","requested_at":"2026-11-21T16:20:00Z"}`, []string{"Idempotency-Key", "k-1"}, 202},
		{"no profile", "application/json", `{"number":"+358401234567","queue":"billing"}`, nil, 404},
		{"bad request", "application/json", `{"number":"+358401234567"}`, nil, 422},
		{"bad time", "application/json", `{"number":"+358401234567","queue":"support","requested_at":"yesterday"}`, nil, 422},
		{"too large", "application/json", `{"subject":"` + strings.Repeat("x", 9000) + `"}`, nil, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(m, "POST", "/api/callbacks", tt.ctype, tt.body, tt.hdr...)
			if w.Code != tt.code {
				t.Fatalf("%d, want %d: %s", w.Code, tt.code, w.Body)
			}
		})
	}
	if len(cq.got) != 2 {
		t.Fatalf("requests %+v", cq.got)
	}
	if r := cq.got[0]; r.Number != "+358401234567" || r.Queue != "support" || !r.RequestedAt.Equal(time.Unix(1763742000, 0)) || r.ID != "" {
		t.Errorf("form request %+v", r)
	}
	if r := cq.got[1]; r.ID != "k-1" || r.Subject != "Invoice" || !r.RequestedAt.Equal(time.Date(2026, 11, 21, 16, 20, 0, 0, time.UTC)) {
		t.Errorf("JSON request %+v", r)
	}
	if strings.Contains(logs.String(), "358401234567") || !strings.Contains(logs.String(), "4567") {
		t.Errorf("the log shows the number in full, or not at all:\n%s", logs.String())
	}
}
