package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/internal/reconnect"
	"github.com/callbridge/callbridge/systemd"
)

// Health checks' time limits: a store that does not answer within
// storeTimeout is unreachable; an engine that does not take its next event
// within engineTimeout is stuck.
const (
	storeTimeout  = 2 * time.Second
	engineTimeout = 5 * time.Second
)

// connectedSource is a source that knows whether it is connected (ARI,
// AMI). The HEP listener has no connection: Asterisk sends to it.
type connectedSource interface{ Status() reconnect.Status }

// pinger is a store that can be asked whether it answers (Redis); others
// are asked for their stats.
type pinger interface {
	Ping(ctx context.Context) error
}

// readiness is every check /readyz reports, in order: the daemon, each
// source, the store, each connector's last push.
func (a *App) readiness() []api.Check {
	checks := []api.Check{a.daemonCheck()}
	checks = append(checks, a.coreChecks()...)
	if d := a.crmNow(); d != nil {
		for _, c := range d.conns {
			checks = append(checks, connectorCheck(d.states.Get(c.Name())))
		}
	}
	return checks
}

func (a *App) daemonCheck() api.Check {
	if a.ready.Load() {
		return api.Check{Name: "daemon", OK: true, Detail: "running"}
	}
	return api.Check{Name: "daemon", Detail: "starting or stopping"}
}

// coreChecks are what READY=1 waits for: every source connected and the
// store reachable.
func (a *App) coreChecks() []api.Check {
	srcs := a.sourcesNow()
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	var checks []api.Check
	for _, n := range names {
		c := api.Check{Name: "source " + n, OK: true, Detail: "listening"}
		if cs, ok := srcs[n].(connectedSource); ok {
			st := cs.Status()
			c.OK, c.Detail = st.Up, st.Detail
			if !st.Since.IsZero() {
				c.Detail += " since " + st.Since.UTC().Format(time.RFC3339)
			}
		}
		checks = append(checks, c)
	}
	if a.crm != nil {
		c := api.Check{Name: "store", OK: true, Detail: "reachable"}
		if err := a.storeAlive(context.Background()); err != nil {
			c.OK, c.Detail = false, err.Error()
		}
		checks = append(checks, c)
	}
	return checks
}

func (a *App) storeAlive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	var err error
	if p, ok := a.crm.store.(pinger); ok {
		err = p.Ping(ctx)
	} else {
		_, err = a.crm.store.Stats(ctx)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("unreachable: no answer within %s", storeTimeout)
		}
		return fmt.Errorf("unreachable: %w", err)
	}
	return nil
}

// connectorCheck is a connector's last push: failing while the CRM keeps
// refusing or cannot be reached (the activities wait in the queue); a dead
// letter is the activity's problem, not the CRM being down.
func connectorCheck(s crmsync.PushState) api.Check {
	c := api.Check{Name: "connector " + s.Connector, OK: !s.Failed()}
	switch {
	case s.Result == "":
		c.Detail = "no push yet"
	case s.Failed():
		c.Detail = fmt.Sprintf("last push failed (%d in a row; retried): %s", s.Failing, s.Error)
	case s.Result == "dead":
		c.Detail = "last push refused for good (a dead letter): " + s.Error
	default:
		c.Detail = "last push " + s.Result
	}
	if !s.At.IsZero() {
		c.Detail += " at " + s.At.UTC().Format(time.RFC3339)
	}
	return c
}

// down summarises the failing checks ("" when none fails).
func down(checks []api.Check) string {
	var d []string
	for _, c := range checks {
		if !c.OK {
			d = append(d, c.Name+": "+c.Detail)
		}
	}
	return strings.Join(d, "; ")
}

// readyEvery is how often the start-up and status are checked.
const readyEvery = 500 * time.Millisecond

// notifyReady sends READY=1 once every source is connected and the store
// answers, and keeps systemd's status line saying what is down. Until
// then the service is "activating" (the API already answers).
func (a *App) notifyReady(ctx context.Context) {
	t := time.NewTicker(readyEvery)
	defer t.Stop()
	last := "-"
	for {
		why := down(a.coreChecks())
		if why != last {
			switch {
			case why == "" && !a.notified.Load():
				a.notified.Store(true)
				if err := systemd.Ready(); err != nil {
					a.log.Warn().Err(err).Msg("systemd notify")
				}
				_ = systemd.Status("ready")
				a.log.Info().Msg("callbridge ready: every source connected, the store reachable")
			case why == "":
				_ = systemd.Status("ready")
				a.log.Info().Msg("callbridge ready again")
			case a.notified.Load():
				_ = systemd.Status("degraded: " + why)
				a.log.Warn().Str("down", why).Msg("callbridge not ready")
			default:
				_ = systemd.Status("waiting for: " + why)
				a.log.Info().Str("down", why).Msg("callbridge waiting to be ready")
			}
			last = why
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// alive is what feeds the watchdog: the engine loops take events and the
// store answers. A source that is down is not a reason to be restarted:
// the source reconnects by itself.
func (a *App) alive() bool {
	ctx := context.Background()
	err := a.path.Alive(ctx, engineTimeout)
	if err == nil && a.crm != nil {
		if serr := a.storeAlive(ctx); serr != nil {
			err = fmt.Errorf("store %w", serr)
		}
	}
	if err != nil {
		a.log.Error().Err(err).Msg("watchdog not fed: systemd restarts callbridge if this lasts WatchdogSec")
		return false
	}
	return true
}

// sourcesNow is the sources in force (a reload replaces some).
func (a *App) sourcesNow() map[string]pipeline.Source {
	a.srcMu.Lock()
	defer a.srcMu.Unlock()
	out := make(map[string]pipeline.Source, len(a.sources))
	for n, s := range a.sources {
		out[n] = s
	}
	return out
}
