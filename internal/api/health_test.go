package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callbridge/callbridge/internal/api"
)

// /readyz is 503 naming what is down; ?verbose lists every check as JSON.
func TestReadyz(t *testing.T) {
	checks := []api.Check{{Name: "source ari", OK: true}, {Name: "store", OK: true}}
	m := api.New(api.Deps{Ready: func() []api.Check { return checks }})
	if w := do(m, "GET", "/readyz", ""); w.Code != 200 || w.Body.String() != "ready\n" {
		t.Errorf("all up: %d %q", w.Code, w.Body.String())
	}
	checks = []api.Check{{Name: "source ari", Detail: "disconnected: connection refused"}, {Name: "store", OK: true}, {Name: "connector crm", Detail: "last push failed: 503"}}
	w := do(m, "GET", "/readyz", "")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "source ari: disconnected: connection refused; connector crm: last push failed: 503") {
		t.Errorf("down: %d %q", w.Code, w.Body.String())
	}
	w = do(m, "GET", "/readyz?verbose", "")
	var rep api.ReadyReport
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || w.Code != 503 || rep.Ready || len(rep.Checks) != 3 || rep.Checks[1].Name != "store" || !rep.Checks[1].OK {
		t.Errorf("verbose: %d %+v %v", w.Code, rep, err)
	}
	if w := do(api.New(api.Deps{}), "GET", "/readyz", ""); w.Code != 503 {
		t.Errorf("no readiness: %d", w.Code)
	}
}
