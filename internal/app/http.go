package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/api"
)

// handler is the API on http.listen, answering from the running parts.
func (a *App) handler() http.Handler {
	d := api.Deps{
		Auth:    api.AllowAll{},
		Ready:   a.ready.Load,
		Metrics: promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}),
		Live:    a.live,

		Router:   router{a.router},
		Presence: a.presence,
		Log:      a.log.With().Str("part", "api").Logger(),
	}
	if a.crm != nil {
		idx := indexes{a.crm.Recognizers}
		d.Lookup, d.Integrations = idx, idx
		d.Users, d.Queue = a.crm, a.crm.store
		d.Wrapups = newDispositions(a.crm.wrapups, a.cfg.EngineConfig().Users)
		d.Callbacks = a.crm.callbacks
	}
	return api.New(d)
}

// indexes are the phone indexes as the API sees them: api.Lookup and
// api.Integrations.
type indexes struct{ set *phoneindex.Set }

// Lookup implements api.Lookup: the first index that knows the number.
func (x indexes) Lookup(number string) api.LookupResult {
	r := api.LookupResult{Number: number}
	for _, in := range x.set.All() {
		if m, ok := in.Lookup(number); ok {
			best := record(m.Best)
			r.Found, r.Connector, r.Best = true, in.Name(), &best
			for _, c := range m.Candidates {
				r.Candidates = append(r.Candidates, record(c))
			}
			return r
		}
	}
	return r
}

func record(c phoneindex.Candidate) api.Record {
	return api.Record{Entity: c.Entity, EntitySet: c.EntitySet, ID: c.ID, Name: c.Name, Kind: string(c.Kind), Modified: c.Modified, Exact: c.Exact,
		Owner: c.Owner, Fields: c.Fields}
}

// Statuses implements api.Integrations.
func (x indexes) Statuses() []api.IntegrationStatus {
	var out []api.IntegrationStatus
	for _, in := range x.set.All() {
		out = append(out, status(in.Status()))
	}
	return out
}

// Do implements api.Integrations.
func (x indexes) Do(ctx context.Context, name string, action api.Action) (api.IntegrationStatus, error) {
	in := x.set.Get(name)
	if in == nil {
		return api.IntegrationStatus{}, api.ErrNoIntegration
	}
	var err error
	switch action {
	case api.ActionSync:
		err = in.Sync(ctx, false)
	case api.ActionFullSync:
		err = in.Sync(ctx, true)
	case api.ActionEnable:
		err = in.Enable(ctx)
	case api.ActionDisable:
		err = in.Disable(ctx)
	case api.ActionDelete:
		err = in.Delete(ctx)
	default:
		return api.IntegrationStatus{}, api.ErrBadAction
	}
	if errors.Is(err, phoneindex.ErrDeleted) {
		return api.IntegrationStatus{}, api.ErrDeleted
	}
	if err != nil {
		return api.IntegrationStatus{}, err
	}
	return status(in.Status()), nil
}

func status(s phoneindex.Status) api.IntegrationStatus {
	return api.IntegrationStatus{Name: s.Name, Enabled: s.Enabled, Records: s.Records, Numbers: s.Numbers,
		LastRefresh: s.LastRefresh, LastFull: s.LastFull, NextSync: s.NextSync, Syncing: s.Syncing, LastError: s.LastError}
}
