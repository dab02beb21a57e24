package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// GET /healthz: the process answers.
func healthz(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }

// Check is one thing readiness depends on, as /readyz reports it.
type Check struct {
	// Name is what was checked: "source ari", "store", "connector dynamics".
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says why not (or, when OK, what was last seen); never a
	// secret.
	Detail string `json:"detail,omitempty"`
}

// Readiness reports every check, in a fixed order. Nil: not ready.
type Readiness func() []Check

// ReadyReport is /readyz?verbose's body.
type ReadyReport struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// GET /readyz[?verbose]: 200 when every check passes, else 503 naming
// what is down; ?verbose answers every check as JSON.
func readyz(ready Readiness) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep := ReadyReport{Ready: ready != nil}
		if ready != nil {
			rep.Checks = ready()
		} else {
			rep.Checks = []Check{{Name: "daemon", Detail: "not running"}}
		}
		var down []string
		for _, c := range rep.Checks {
			if !c.OK {
				rep.Ready = false
				down = append(down, c.Name+": "+c.Detail)
			}
		}
		code := http.StatusOK
		if !rep.Ready {
			code = http.StatusServiceUnavailable
		}
		if r.URL.Query().Has("verbose") {
			writeJSON(w, code, rep)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		if rep.Ready {
			fmt.Fprintln(w, "ready")
			return
		}
		fmt.Fprintln(w, "not ready: "+strings.Join(down, "; "))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
