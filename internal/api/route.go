package api

import (
	"encoding/json"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/internal/phone"
)

// Router answers the dialplan's routing question from memory.
type Router interface {
	// Route says where a call from anum to bnum goes. It never fails:
	// no target is an answer.
	Route(anum, bnum string) RouteAnswer
}

// RouteAnswer is a routing decision.
type RouteAnswer struct {
	Target string // "" for none
	Rule   string // the rule that gave it, or was the loop
	Result string // routed, none, loop, not_ready, error
}

// RuleHeader names the rule that gave a route's answer.
const RuleHeader = "X-Callbridge-Rule"

// route answers anum/bnum: 204 with an empty body when there is nothing
// to do, whatever went wrong; the target otherwise, as write puts it.
func route(rt Router, log zerolog.Logger, w http.ResponseWriter, anum, bnum string, write func(target string)) {
	a := RouteAnswer{Result: "error"}
	func() {
		defer func() { _ = recover() }() // fail open: the PBX rings as usual
		if rt != nil {
			a = rt.Route(anum, bnum)
		}
	}()
	if e := log.Debug(); e.Enabled() {
		e.Str("anum", phone.Mask(anum)).Str("bnum", phone.Mask(bnum)).Str("rule", a.Rule).Str("result", a.Result).Msg("route")
	}
	if a.Rule != "" {
		w.Header().Set(RuleHeader, a.Rule)
	}
	if a.Target == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	write(a.Target)
}

// GET /api/route?anum=&bnum=: the target as plain text, for
// Set(TARGET=${CURL(…)}); nothing (204) when there is none. It never
// answers an error: a dialplan would dial it.
func routeGET(rt Router, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		route(rt, log, w, number(queryGet(r.URL, "anum")), number(queryGet(r.URL, "bnum")), func(target string) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(target))
		})
	}
}

// POST /api/route {"anum": …, "bnum": …}: 200 {"InitialTarget": …}, or
// 204. A body that cannot be read is a 400; anything else that fails is
// no target.
func routePOST(rt Router, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := fields(w, r, maxRouteBody)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		route(rt, log, w, number(f["anum"]), number(f["bnum"]), func(target string) {
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(struct {
				InitialTarget string
			}{target})
			_, _ = w.Write(b)
		})
	}
}
