package app

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/routing"
)

// owners maps a CRM record's owner back to a PBX user: per connector, the
// connector's own user mapping (crmsync.UserMapper), overridden by the
// explicit crm_user of users[] and policy.users. It implements
// routing.Owners.
type owners struct {
	explicit map[string]string // extension -> CRM user
	m        atomic.Pointer[map[string]map[string]string]
}

func newOwners(explicit map[string]string) *owners {
	o := &owners{explicit: explicit}
	o.m.Store(&map[string]map[string]string{})
	return o
}

// refresh rebuilds the reverse maps from conns' mappings.
func (o *owners) refresh(conns []crmsync.Connector) {
	all := map[string]map[string]string{}
	for _, c := range conns {
		rev := map[string]string{}
		if um, ok := c.(crmsync.UserMapper); ok {
			for ext, id := range um.MappedUsers() {
				rev[strings.ToLower(id)] = ext
			}
		}
		for ext, id := range o.explicit {
			rev[strings.ToLower(id)] = ext
		}
		all[c.Name()] = rev
	}
	o.m.Store(&all)
}

// Extension implements routing.Owners.
func (o *owners) Extension(connector, crmUser string) (string, bool) {
	ext, ok := (*o.m.Load())[connector][strings.ToLower(crmUser)]
	return ext, ok
}

// Find implements routing.Records: the first ready index that knows the
// number, as the lookup API answers it.
func (x indexes) Find(number string) (routing.Record, bool, bool) {
	ready := false
	for _, in := range x.set.All() {
		if !in.Ready() {
			continue
		}
		ready = true
		if m, ok := in.Lookup(number); ok {
			return routing.Record{Connector: in.Name(), Owner: m.Best.Owner, Fields: m.Best.Fields}, true, true
		}
	}
	return routing.Record{}, false, ready
}

// router is the routing.Router as the API sees it.
type router struct{ r *routing.Router }

// Route implements api.Router.
func (r router) Route(anum, bnum string) api.RouteAnswer {
	a := r.r.Route(anum, bnum)
	return api.RouteAnswer{Target: a.Target, Rule: a.Rule, Result: a.Result}
}

// dispositions is the wrap-up queue as the API sees it: a user given as
// one of their endpoints (what ${CHANNEL(endpoint)} says) is their
// extension.
type dispositions struct {
	w         *crmsync.Wrapups
	extension map[string]string // endpoint -> extension
}

func newDispositions(w *crmsync.Wrapups, users []bridge.User) dispositions {
	d := dispositions{w: w, extension: map[string]string{}}
	for _, u := range users {
		for _, e := range u.Endpoints {
			d.extension[e] = u.Extension
		}
	}
	return d
}

// Dispose implements api.Wrapups.
func (d dispositions) Dispose(ctx context.Context, disp crmsync.Disposition) (crmsync.DisposeResult, error) {
	if ext, ok := d.extension[disp.User]; ok {
		disp.User = ext
	}
	return d.w.Dispose(ctx, disp)
}

// currentRecords and currentOwners answer the router from the delivery in
// force, which a reload replaces.
type (
	currentRecords struct{ a *App }
	currentOwners  struct{ a *App }
)

func (c currentRecords) Find(number string) (routing.Record, bool, bool) {
	return indexes{set: c.a.crmNow().Recognizers}.Find(number)
}

func (c currentOwners) Extension(connector, crmUser string) (string, bool) {
	return c.a.crmNow().owners.Extension(connector, crmUser)
}

// currentRouter is the router in force (routing.rules, reloaded) as the
// API sees it.
type currentRouter struct{ a *App }

// Route implements api.Router.
func (r currentRouter) Route(anum, bnum string) api.RouteAnswer {
	return router{r.a.router.Load()}.Route(anum, bnum)
}
