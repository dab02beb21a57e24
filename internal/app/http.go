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
		Auth:        a.tokens,
		Public:      func(route string) bool { return a.httpConfig().IsPublic(route) },
		Ready:       a.readiness,
		Metrics:     promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}),
		Limits:      apiLimits(a.httpConfig().Limits),
		Logger:      a.log.With().Str("component", "api").Logger(),
		Operations:  ops,
		Live:        a.live,
		Agents:      a.desk,
		ClickToDial: a.dial,
	}
	if a.crm != nil {
		idx := indexes{a.crm.Recognizers, linkers(a.crm)}
		d.Lookup, d.Integrations = idx, idx
		d.Users, d.Queue = a.crm, a.crm.store
	}
	return api.New(d)
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
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return fmt.Errorf("http.tls: %w", err)
	}
	c.c.Store(&cert)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.c.Load(), nil }

// indexes are the phone indexes as the API sees them: api.Lookup and
// api.Integrations; links give each record's page in its CRM.
type indexes struct {
	set   *phoneindex.Set
	links map[string]crmsync.RecordLinker
}

// Lookup implements api.Lookup: the first index that knows the number.
func (x indexes) Lookup(number string) api.LookupResult {
	r := api.LookupResult{Number: number}
	for _, in := range x.set.All() {
		if m, ok := in.Lookup(number); ok {
			best := x.record(in.Name(), m.Best)
			r.Found, r.Connector, r.Best = true, in.Name(), &best
			for _, c := range m.Candidates {
				r.Candidates = append(r.Candidates, x.record(in.Name(), c))
			}
			return r
		}
	}
	return r
}

func (x indexes) record(connector string, c phoneindex.Candidate) api.Record {
	r := api.Record{Entity: c.Entity, EntitySet: c.EntitySet, ID: c.ID, Name: c.Name, Kind: string(c.Kind), Modified: c.Modified, Exact: c.Exact, Fields: c.Fields}
	if l := x.links[connector]; l != nil {
		r.URL = l.RecordURL(c.Entity, c.ID)
	}
	return r
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

// readiness is what /readyz reports.
func (a *App) readiness() []api.Check {
	return []api.Check{{Name: "daemon", OK: a.ready.Load(), Detail: "starting or stopping"}}
}
