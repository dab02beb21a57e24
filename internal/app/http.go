package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// The API on http.listen serves the dialplan (caller lookups answered from
// memory, never with a CRM round-trip in the call path) and the operator
// commands (`callbridge integrations`, `callbridge users sync`).

// lookupResult is what GET /api/lookup answers.
type lookupResult struct {
	Number     string                 `json:"number"`
	Found      bool                   `json:"found"`
	Connector  string                 `json:"connector,omitempty"`
	Best       *phoneindex.Candidate  `json:"best,omitempty"`
	Candidates []phoneindex.Candidate `json:"candidates,omitempty"`
}

func (a *App) lookup(number string) lookupResult {
	r := lookupResult{Number: number}
	if a.crm == nil {
		return r
	}
	for _, in := range a.crm.Recognizers.All() {
		if m, ok := in.Lookup(number); ok {
			r.Found, r.Connector = true, in.Name()
			r.Best, r.Candidates = &m.Best, m.Candidates
			return r
		}
	}
	return r
}

func (a *App) api(mux *http.ServeMux) {
	// GET /api/lookup?number=+358401234567: every candidate, best first.
	mux.HandleFunc("GET /api/lookup", func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("number")
		if n == "" {
			http.Error(w, "number: required", http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, a.lookup(n))
	})
	// GET /api/callername?number=…: the best match's name as plain text,
	// empty when unknown, for Set(CALLERID(name)=${CURL(…)}).
	mux.HandleFunc("GET /api/callername", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if res := a.lookup(r.URL.Query().Get("number")); res.Found {
			w.Write([]byte(res.Best.Name))
		}
	})
	mux.HandleFunc("GET /api/integrations", func(w http.ResponseWriter, r *http.Request) {
		var st []phoneindex.Status
		if a.crm != nil {
			for _, in := range a.crm.Recognizers.All() {
				st = append(st, in.Status())
			}
		}
		writeJSON(w, http.StatusOK, st)
	})
	// POST /api/integrations/{name}/{sync|full-sync|enable|disable|delete}
	mux.HandleFunc("POST /api/integrations/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		var in *phoneindex.Integration
		if a.crm != nil {
			in = a.crm.Recognizers.Get(r.PathValue("name"))
		}
		if in == nil {
			http.Error(w, "no integration "+r.PathValue("name"), http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
		defer cancel()
		var err error
		switch r.PathValue("action") {
		case "sync":
			err = in.Sync(ctx, false)
		case "full-sync":
			err = in.Sync(ctx, true)
		case "enable":
			err = in.Enable(ctx)
		case "disable":
			err = in.Disable(ctx)
		case "delete":
			err = in.Delete(ctx)
		default:
			http.Error(w, "action: want sync, full-sync, enable, disable or delete", http.StatusBadRequest)
			return
		}
		if errors.Is(err, phoneindex.ErrDeleted) {
			http.Error(w, err.Error(), http.StatusGone)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		writeJSON(w, http.StatusOK, in.Status())
	})
	mux.HandleFunc("POST /api/users/sync", func(w http.ResponseWriter, r *http.Request) {
		if a.crm == nil {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		writeJSON(w, http.StatusOK, a.crm.SyncUsers(ctx))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (a *App) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	a.api(mux)
	// GET /api/live[?user=101]: live ringing / connected / ended, as
	// Server-Sent Events, for screen pops.
	mux.HandleFunc("GET /api/live", a.live.serve)
	return mux
}
