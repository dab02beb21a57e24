package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/internal/routing"
	"github.com/callbridge/callbridge/systemd"
)

// reloads re-reads the config on every request until ctx is done.
func (a *App) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.Reload:
		}
		_ = a.ReloadNow(ctx)
	}
}

// ReloadNow re-reads ConfigPath and applies it (SIGHUP). The whole new file
// is validated, and every part that changes is built, before anything is
// applied: a file that fails keeps the running configuration, says why
// (the log, callbridge_config_reload_failures_total) and returns the
// error. What is applied takes effect between two events, so a call in
// progress is neither lost nor reported twice:
//
//   - log_level, the API's tokens, http.public, http.limits (but
//     max_header_bytes) and the TLS certificate, at once;
//   - users, extension_pattern, trunks, default_region, privacy: for the channels
//     the engines meet from now on (a call in progress ends as it began);
//   - ari / ami settings: that source reconnects with them, on the same
//     engine, and its first snapshot reconciles the calls in progress;
//   - policy (screen-pop settings included), delivery, crm connectors and
//     their recognition, wrapup and callbacks: built anew on the same
//     store; the delivery workers switch once the old ones have finished
//     their pushes; a wrap-up or callback already queued stays as queued;
//   - routing (and users[].direct_number): for the next /api/route;
//   - sip.subscribe: the subscriber restarts;
//   - sink.file is reopened (logrotate), even when the new file is bad.
//
// Keys that need a restart keep their running value, with a warning:
// pbx_id, state_dir, store, http.listen, turning http.tls or a source on
// or off, cel, adding the first or removing the last connector, and the
// SIP source's listeners and addresses (its tracker holds the calls).
// The calls read from CEL follow a new directory as the engines do.
func (a *App) ReloadNow(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	notified := a.notified.Load()
	if notified {
		_ = systemd.Reloading()
		defer systemd.Ready()
	}
	changed, restart, err := a.reload(ctx)
	if err != nil {
		a.reloadMetrics.failed()
		a.log.Error().Err(err).Str("config", a.ConfigPath).Msg("reload: new configuration rejected, keeping the running one")
		return err
	}
	a.reloadMetrics.succeeded(time.Now())
	for _, k := range restart {
		a.log.Warn().Str("key", k).Msg("reload: this change takes effect on restart; the running value is kept")
	}
	a.log.Info().Strs("changed", changed).Str("log_level", a.cfg.LogLevel).Msg("reload: configuration applied")
	return nil
}

// ErrReload wraps what made a reload fail after the file was valid (a part
// that could not be built).
var ErrReload = errors.New("reload")

func (a *App) reload(ctx context.Context) (changed, restart []string, err error) {
	old := a.cfg
	// What run and config check refuse, reload refuses too.
	cfg, err := config.Check(a.ConfigPath, config.SystemEnv())
	if err != nil {
		a.reopenSink(old.Sink.File)
		return nil, nil, err
	}
	next, restart := keepRunning(old, cfg)
	b, err := a.build(next)
	if err != nil {
		a.reopenSink(old.Sink.File)
		return nil, nil, fmt.Errorf("%w: %w", ErrReload, err)
	}
	return a.apply(ctx, next, b), restart, nil
}

// engineChanged tells whether next gives the engines other settings than
// old: the directory, the extension pattern, trunks, the number region or
// the privacy rules.
func engineChanged(old, next *config.Config) bool {
	return old.ExtensionPattern != next.ExtensionPattern || old.DefaultRegion != next.DefaultRegion ||
		!slices.Equal(old.Trunks, next.Trunks) || !reflect.DeepEqual(old.EngineConfig().Users, next.EngineConfig().Users) ||
		!reflect.DeepEqual(old.EngineConfig().Privacy, next.EngineConfig().Privacy)
}

// built are the parts a reload replaces, made before any is applied.
type built struct {
	cert       *certificate
	engine     bool
	sources    map[string]pipeline.Source
	delivery   *Delivery
	router     *routing.Router
	subscriber bool
	// desk is the caller cards' settings (screen pops, scripts, line
	// names, the directory); dial click-to-dial's, nil when off.
	desk cards.Options
	dial *api.ClickToDial
}

func (a *App) build(next *config.Config) (*built, error) {
	old := a.cfg
	b := &built{sources: map[string]pipeline.Source{}}
	if next.HTTP.TLS.On() && a.ln != nil {
		b.cert = &certificate{}
		if err := b.cert.load(next.HTTP.TLS); err != nil {
			return nil, err
		}
	}
	b.engine = engineChanged(old, next)
	if next.ARI.On() && !reflect.DeepEqual(old.ARI, next.ARI) {
		s, err := newARI(next, a.log, a.reg)
		if err != nil {
			return nil, err
		}
		b.sources["ari"] = s
	}
	if next.AMI.On() && !reflect.DeepEqual(old.AMI, next.AMI) {
		s, err := newAMI(next, a.log, a.reg)
		if err != nil {
			return nil, err
		}
		b.sources["ami"] = s
	}
	if a.crm != nil && (!reflect.DeepEqual(old.CRM, next.CRM) || !reflect.DeepEqual(policyConfig(old), policyConfig(next)) ||
		old.Delivery != next.Delivery || !reflect.DeepEqual(old.EngineConfig().Users, next.EngineConfig().Users) ||
		!reflect.DeepEqual(old.Wrapup, next.Wrapup) || !reflect.DeepEqual(old.Callbacks, next.Callbacks) ||
		old.DefaultRegion != next.DefaultRegion) {
		d, err := buildDelivery(next, a.crm.store, a.log, a.reg)
		if err != nil {
			return nil, err
		}
		b.delivery = d
	}
	d := b.delivery
	if d == nil {
		d = a.crmNow()
	}
	var err error
	if b.desk, err = deskOptions(next, d); err != nil {
		return nil, err
	}
	if b.dial, err = clickToDial(next, a.log); err != nil {
		return nil, err
	}
	b.router = a.router.Load().With(next.Routing, a.routerDeps(next))
	b.subscriber = !reflect.DeepEqual(old.SIP.Subscribe, next.SIP.Subscribe) ||
		(next.SIP.Subscribe.On() && len(next.SIP.Subscribe.Extensions) == 0 && b.engine)
	return b, nil
}

// apply puts b in force and says what changed.
func (a *App) apply(ctx context.Context, next *config.Config, b *built) (changed []string) {
	// The root logger passes everything; the global level is the knob.
	zerolog.SetGlobalLevel(next.Level())
	a.httpCfg.Store(&next.HTTP)
	if a.tokens != nil {
		a.tokens.Set(tokenSet(next))
	}
	if a.mux != nil {
		a.mux.SetLimits(apiLimits(next.HTTP.Limits))
	}
	if b.cert != nil {
		a.cert.c.Store(b.cert.c.Load())
		changed = append(changed, "http.tls")
	}
	a.reopenSink(next.Sink.File)
	if b.engine {
		a.path.Reconfigure(next.EngineConfig(), next.Normalizer())
		if a.history != nil {
			a.history.setEngine(next.EngineConfig())
		}
		changed = append(changed, "users")
	}
	for name, s := range b.sources {
		if err := a.path.ReplaceSource(name, s); err != nil {
			a.log.Error().Err(err).Str("source", name).Msg("reload: source not replaced")
			continue
		}
		a.srcMu.Lock()
		a.sources[name] = s
		a.srcMu.Unlock()
		changed = append(changed, name)
	}
	if d := b.delivery; d != nil {
		d.states = a.crmNow().states
		if err := a.path.SetCRM(d.Parts()); err != nil {
			a.log.Error().Err(err).Msg("reload: delivery not replaced")
		} else {
			a.cur.Store(d)
			a.crmTask.stop()
			a.crmTask = a.tasks.start(ctx, func(ctx context.Context) { d.Run(ctx) })
			changed = append(changed, "crm", "policy")
		}
	}
	a.desk.Reconfigure(b.desk) // after the delivery: its indexes answer the cards
	a.dial.Store(b.dial)
	if !reflect.DeepEqual(a.cfg.ClickToDial, next.ClickToDial) {
		changed = append(changed, "click_to_dial")
	}
	if !reflect.DeepEqual(a.cfg.DDINames, next.DDINames) {
		changed = append(changed, "ddi_names")
	}
	if !reflect.DeepEqual(a.cfg.Routing, next.Routing) || !reflect.DeepEqual(a.cfg.DirectNumbers(), next.DirectNumbers()) {
		changed = append(changed, "routing")
	}
	a.router.Store(b.router) // after the delivery: its indexes and owners answer it
	if b.subscriber {
		a.subTask.stop() // its Run closes its socket, so the new one can bind
		sub, err := buildSubscriber(next, a.log, a.reg, a.live)
		if err != nil {
			a.log.Error().Err(err).Msg("reload: dialog-event subscriber not restarted; screen pops come from the engine only")
		}
		a.srcMu.Lock()
		a.sub = sub
		a.srcMu.Unlock()
		a.subTask = a.startSubscriber(ctx, sub)
		changed = append(changed, "sip.subscribe")
	}
	a.cfg = next
	return changed
}

// keepRunning is cfg with the keys that need a restart put back to their
// running values, and those keys' names.
func keepRunning(old, cfg *config.Config) (*config.Config, []string) {
	n := *cfg
	var restart []string
	keep := func(key string, differ bool, restore func()) {
		if differ {
			restart = append(restart, key)
			restore()
		}
	}
	keep("pbx_id", n.PBXID != old.PBXID, func() { n.PBXID = old.PBXID })
	keep("state_dir", n.StateDir != old.StateDir, func() { n.StateDir = old.StateDir })
	keep("store", !reflect.DeepEqual(n.Store, old.Store), func() { n.Store = old.Store })
	keep("http.listen", n.HTTP.Listen != old.HTTP.Listen, func() { n.HTTP.Listen = old.HTTP.Listen })
	keep("http.tls (on or off)", n.HTTP.TLS.On() != old.HTTP.TLS.On(), func() { n.HTTP.TLS = old.HTTP.TLS })
	keep("http.limits.max_header_bytes", n.HTTP.Limits.MaxHeaderBytes != old.HTTP.Limits.MaxHeaderBytes,
		func() { n.HTTP.Limits.MaxHeaderBytes = old.HTTP.Limits.MaxHeaderBytes })
	keep("ari (on or off)", n.ARI.On() != old.ARI.On(), func() { n.ARI = old.ARI })
	keep("ami (on or off)", n.AMI.On() != old.AMI.On(), func() { n.AMI = old.AMI })
	keep("sip (listeners and addresses)", !slices.Equal(n.SIP.HEPListenUDP, old.SIP.HEPListenUDP) ||
		!slices.Equal(n.SIP.HEPListenTCP, old.SIP.HEPListenTCP) || !slices.Equal(n.SIP.PBXAddresses, old.SIP.PBXAddresses) ||
		!slices.Equal(n.SIP.TrunkAddresses, old.SIP.TrunkAddresses), func() {
		n.SIP.HEPListenUDP, n.SIP.HEPListenTCP = old.SIP.HEPListenUDP, old.SIP.HEPListenTCP
		n.SIP.PBXAddresses, n.SIP.TrunkAddresses = old.SIP.PBXAddresses, old.SIP.TrunkAddresses
	})
	if n.SIP.On() && !reflect.DeepEqual(n.EngineConfig().Users, old.EngineConfig().Users) {
		restart = append(restart, "users (for the SIP source's tracker)")
	}
	keep("cel", !reflect.DeepEqual(n.CEL, old.CEL), func() { n.CEL = old.CEL })
	keep("crm (the first or the last connector)", (len(n.CRM) == 0) != (len(old.CRM) == 0), func() { n.CRM = old.CRM })
	return &n, restart
}

// reopenSink writes the activities to path from now on: a new file there
// after logrotate renamed the old one, or a new sink.file.
func (a *App) reopenSink(path string) {
	if err := a.sink.Reopen(path); err != nil {
		a.log.Error().Err(err).Str("sink", a.sink.Path()).Msg("reload: sink not reopened; writing on to the old file")
	}
}

// reloadMetrics say whether the last reload took.
type reloadMetrics struct {
	failures prometheus.Counter
	last     prometheus.Gauge
	at       prometheus.Gauge
}

func (m *reloadMetrics) register(reg prometheus.Registerer) {
	m.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "callbridge_config_reload_failures_total",
		Help: "Reloads (SIGHUP) whose configuration was rejected; the running one was kept."})
	m.last = prometheus.NewGauge(prometheus.GaugeOpts{Name: "callbridge_config_last_reload_successful",
		Help: "1 when the last reload was applied (or none was asked for), 0 when it was rejected."})
	m.at = prometheus.NewGauge(prometheus.GaugeOpts{Name: "callbridge_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded: the start, or the last reload applied."})
	m.last.Set(1)
	m.at.SetToCurrentTime()
	reg.MustRegister(m.failures, m.last, m.at)
}

func (m *reloadMetrics) failed() {
	m.failures.Inc()
	m.last.Set(0)
}

func (m *reloadMetrics) succeeded(at time.Time) {
	m.last.Set(1)
	m.at.Set(float64(at.Unix()))
}
