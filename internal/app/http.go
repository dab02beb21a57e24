package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/secret"
)

// handler is the API on http.listen, answering from the running parts,
// with long jobs run by ops.
func (a *App) handler(ops *api.Operations) *api.Mux {
	d := api.Deps{
		Auth:       a.tokens,
		Public:     func(route string) bool { return a.httpConfig().IsPublic(route) },
		Ready:      a.readiness,
		Metrics:    promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}),
		Limits:     apiLimits(a.httpConfig().Limits),
		Logger:     a.log.With().Str("component", "api").Logger(),
		Operations: ops,
		Live:       a.live,
		Router:     currentRouter{a},
		Agents:     a.desk,
		// click_to_dial as the last reload left it.
		ClickToDial: a.dial.Load,
	}
	if a.crm != nil {
		c := current{a}
		d.Lookup, d.Integrations, d.Users = c, c, c
		d.Wrapups, d.Callbacks = c, c
		d.Queue = adminQueue{Store: a.crm.store, log: a.log.With().Str("component", "queue").Logger()}
	}
	return api.New(d)
}

// crmNow is the delivery in force (nil without a CRM).
func (a *App) crmNow() *Delivery { return a.cur.Load() }

// current answers the API from the delivery in force, which a reload
// replaces.
type current struct{ a *App }

func (c current) Lookup(number string) api.LookupResult {
	d := c.a.crmNow()
	return indexes{d.Recognizers, d.conns}.Lookup(number)
}

func (c current) Statuses() []api.IntegrationStatus {
	return indexes{set: c.a.crmNow().Recognizers}.Statuses()
}

func (c current) Do(ctx context.Context, name string, action api.Action) (api.IntegrationStatus, error) {
	return indexes{set: c.a.crmNow().Recognizers}.Do(ctx, name, action)
}

func (c current) SyncUsers(ctx context.Context) []api.UserSync { return c.a.crmNow().SyncUsers(ctx) }

// Dispose implements api.Wrapups with wrapup and users in force.
func (c current) Dispose(ctx context.Context, d crmsync.Disposition) (crmsync.DisposeResult, error) {
	return c.a.crmNow().dispositions.Dispose(ctx, d)
}

// Request implements api.Callbacks with callbacks in force.
func (c current) Request(ctx context.Context, r crmsync.CallbackRequest) (crmsync.CallbackResult, error) {
	return c.a.crmNow().callbacks.Request(ctx, r)
}

// httpConfig is the http section in force (it changes on reload).
func (a *App) httpConfig() config.HTTP { return *a.httpCfg.Load() }

func apiLimits(l config.HTTPLimits) api.Limits {
	return api.Limits{MaxBodyBytes: l.MaxBodyBytes, StreamsPerAgent: l.StreamsPerAgent, StreamsTotal: l.StreamsTotal}
}

// tokenSet is the configuration's API tokens.
func tokenSet(cfg *config.Config) api.TokenSet {
	set := api.TokenSet{Admin: cfg.HTTP.AdminToken, Agents: map[string]secret.Secret{}}
	for _, t := range cfg.HTTP.DialplanTokens {
		set.Dialplan = append(set.Dialplan, api.NamedToken{Name: t.Name, Token: t.Token})
	}
	for _, u := range cfg.Users {
		if u.Token != "" {
			set.Agents[u.Extension] = u.Token
		}
	}
	return set
}

// listen opens http.listen, with TLS when http.tls is set, and the
// Authorizer for it: loopback is judged by the address actually bound.
func (a *App) listen(cfg *config.Config) error {
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	a.opened.push(ignoreClosed(ln.Close))
	loopback := false
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		loopback = ta.IP.IsLoopback()
	}
	if cfg.HTTP.TLS.On() {
		if err := a.cert.load(cfg.HTTP.TLS); err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: a.cert.get})
	} else if !loopback {
		a.log.Warn().Str("listen", cfg.HTTP.Listen).Msg("http.listen is off loopback without http.tls: tokens cross the network in the clear")
	}
	a.ln = ln
	a.tokens = api.NewTokens(tokenSet(cfg), api.TokenOptions{Loopback: loopback, Secure: cfg.HTTP.TLS.On()})
	return nil
}

// server is the HTTP server for the API: header size limited (431), slow
// clients timed out, its errors logged through zerolog.
func (a *App) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    a.httpConfig().Limits.MaxHeaderBytes,
		ErrorLog:          stdLogger(a.log.With().Str("component", "net/http").Logger(), zerolog.WarnLevel),
	}
}

// certificate is the listener's TLS certificate, swapped on reload.
type certificate struct {
	c atomic.Pointer[tls.Certificate]
}

func (c *certificate) load(t config.HTTPTLS) error {
	cert, err := t.Certificate() // as config check reads it
	if err != nil {
		return err
	}
	c.c.Store(&cert)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.c.Load(), nil }

// indexes are the phone indexes as the API sees them: api.Lookup and
// api.Integrations; conns are the connectors that link to their records'
// pages when the index keeps none (recordURL).
type indexes struct {
	set   *phoneindex.Set
	conns []crmsync.Connector
}

// Lookup implements api.Lookup: the first index that knows the number.
func (x indexes) Lookup(number string) api.LookupResult {
	r := api.LookupResult{Number: number}
	for _, in := range x.set.All() {
		if m, ok := in.Lookup(number); ok {
			best := x.record(in.Name(), m.Best)
			r.Found, r.Connector, r.Best = true, in.Name(), &best
			if len(m.Candidates) > 0 {
				r.Candidates = make([]api.Record, 0, len(m.Candidates))
			}
			for _, c := range m.Candidates {
				r.Candidates = append(r.Candidates, x.record(in.Name(), c))
			}
			return r
		}
	}
	return r
}

func (x indexes) record(connector string, c phoneindex.Candidate) api.Record {
	return api.Record{Entity: c.Entity, EntitySet: c.EntitySet, ID: c.ID, Name: c.Name, Kind: string(c.Kind), Modified: c.Modified, Exact: c.Exact,
		Owner: c.Owner, Fields: c.Fields, URL: recordURL(x.conns, connector, c)}
}

// recordURL is c's page in its CRM: the one its source keeps in the index,
// else the one the connector links to by id (crmsync.RecordLinker:
// Dynamics, whose pages follow from the id and so are not stored).
func recordURL(conns []crmsync.Connector, connector string, c phoneindex.Candidate) string {
	if c.URL != "" {
		return c.URL
	}
	for _, k := range conns {
		if l, ok := k.(crmsync.RecordLinker); ok && k.Name() == connector {
			return l.RecordURL(c.Entity, c.ID)
		}
	}
	return ""
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
	case api.ActionCreate:
		err = in.Create(ctx)
	default:
		return api.IntegrationStatus{}, api.ErrBadAction
	}
	if errors.Is(err, phoneindex.ErrDeleted) {
		return api.IntegrationStatus{}, api.ErrDeleted
	}
	if errors.Is(err, phoneindex.ErrExists) {
		return api.IntegrationStatus{}, api.ErrExists
	}
	if err != nil {
		return api.IntegrationStatus{}, err
	}
	return status(in.Status()), nil
}

func status(s phoneindex.Status) api.IntegrationStatus {
	return api.IntegrationStatus{Name: s.Name, Enabled: s.Enabled, Records: s.Records, Numbers: s.Numbers,
		LastRefresh: s.LastRefresh, LastFull: s.LastFull, NextSync: s.NextSync, Syncing: s.Syncing, LastError: s.LastError, Deleted: s.Deleted}
}
