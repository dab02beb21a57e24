package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/delivery"
	"github.com/callbridge/callbridge/internal/journal"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/internal/sink"
	"github.com/callbridge/callbridge/sip/hep"
	"github.com/callbridge/callbridge/sip/subscribe"
	"github.com/callbridge/callbridge/systemd"
)

// source is what every adapter offers: one blocking Run that hands events,
// in order, from a single goroutine.
type source interface {
	Run(ctx context.Context, out func(bridge.Event)) error
}

// Daemon is a configured, not yet running, callbridge.
type Daemon struct {
	cfg     *config.Config
	log     zerolog.Logger
	reg     *prometheus.Registry
	sink    sink.Sink
	sources map[string]source
	ln      net.Listener
	ready   atomic.Bool

	live *hub
	// sub watches extensions' dialog state for screen pops, when set up.
	sub *subscribe.Subscriber

	// Delivery to the CRMs, when any is configured.
	store    crmsync.Store
	delivery *delivery.Delivery
	runCtx   context.Context

	events     *prometheus.CounterVec
	activities *prometheus.CounterVec
	calls      *prometheus.GaugeVec
	sinkErrors prometheus.Counter
	// Reload receives a request to re-read the config (main sends SIGHUP
	// here); the new file is validated whole before anything is applied.
	Reload chan struct{}
	// ConfigPath is re-read on reload.
	ConfigPath string
}

// New builds the daemon's parts from cfg (already validated for run). It
// opens the sink and the HTTP listener so that configuration mistakes show
// before anything runs.
func New(cfg *config.Config, log zerolog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: log, reg: prometheus.NewRegistry(), sources: map[string]source{}, Reload: make(chan struct{}, 1), live: &hub{}}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_engine_events_total",
		Help: "Events fed to the call-state engine, by source."}, []string{"source"})
	d.activities = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callbridge_engine_activities_total",
		Help: "Finished activities, by source and state."}, []string{"source", "state"})
	d.calls = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "callbridge_engine_calls",
		Help: "Calls in progress, by source."}, []string{"source"})
	d.sinkErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "callbridge_sink_errors_total",
		Help: "Activities the sink failed to write."})
	d.reg.MustRegister(d.events, d.activities, d.calls, d.sinkErrors)

	if cfg.ARI.On() {
		s, err := ari.NewSource(ari.Config{URL: cfg.ARI.URL, Application: cfg.ARI.Application,
			Username: cfg.ARI.Username, Password: cfg.ARI.Password.Value(),
			Logger: log.With().Str("source", "ari").Logger()}, d.reg)
		if err != nil {
			return nil, err
		}
		d.sources["ari"] = s
	}
	if cfg.AMI.On() {
		c, err := ami.New(ami.Config{Host: cfg.AMI.Host, Port: cfg.AMI.Port, Username: cfg.AMI.Username,
			Secret: cfg.AMI.Secret.Value(), MD5: true, TLS: cfg.AMI.TLS,
			Logger: log.With().Str("source", "ami").Logger()}, d.reg)
		if err != nil {
			return nil, err
		}
		d.sources["ami"] = c
	}
	if cfg.SIP.On() {
		hc := hep.Config{UDP: cfg.SIP.HEPListenUDP, TCP: cfg.SIP.HEPListenTCP, AuthKey: cfg.SIP.HEPAuthKey.Value(), Dialog: cfg.DialogConfig(),
			Logger: log.With().Str("source", "sip").Logger(), Registerer: d.reg}
		c, err := hep.New(hc)
		if err != nil {
			return nil, err
		}
		d.sources["sip"] = c
	}
	if len(d.sources) == 0 {
		return nil, config.ErrNoSource
	}
	if sc := cfg.SIP.Subscribe; sc.On() {
		exts := sc.Extensions
		if len(exts) == 0 {
			for _, u := range cfg.Users {
				exts = append(exts, u.Extension)
			}
		}
		sub, err := subscribe.New(subscribe.Config{PBX: sc.PBX, Listen: sc.Listen, Contact: sc.Contact, Extensions: exts,
			Expiry: sc.Expiry, Username: sc.Username, Password: sc.Password.Value(),
			OnTransition: func(tr bridge.Transition) { d.live.publish("dialog", tr) },
			Logger:       log.With().Str("source", "dialog").Logger(), Registerer: d.reg})
		if err != nil {
			return nil, fmt.Errorf("sip.subscribe: %w", err)
		}
		d.sub = sub
	}

	s, err := sink.OpenFile(cfg.Sink.File)
	if err != nil {
		return nil, err
	}
	d.sink = s
	if len(cfg.CRM) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := delivery.OpenStore(ctx, cfg)
		cancel()
		if err != nil {
			s.Close()
			return nil, err
		}
		dl, err := delivery.New(cfg, st, log, d.reg)
		if err != nil {
			st.Close()
			s.Close()
			return nil, err
		}
		d.store, d.delivery = st, dl
	}
	if cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("http.listen: %w", err)
		}
		d.ln = ln
	}
	return d, nil
}

// Addr is the HTTP listener's address (nil when off).
func (d *Daemon) Addr() net.Addr {
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Run runs every part until ctx is done or one fails, then shuts down in
// order: intake stops, engines are left as they are (calls in progress are
// rebuilt from the PBX on the next start), the sink is closed.
func (d *Daemon) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	d.runCtx = ctx
	// Rebuild the calls in progress from each source's journal before any
	// source connects, so its first snapshot reconciles them.
	type running struct {
		src source
		p   *countingPipeline
	}
	runs := map[string]running{}
	for name, src := range d.sources {
		p := d.pipeline(name)
		j, err := journal.Open(filepath.Join(d.cfg.StateDir, "journal", name+".jsonl"))
		if err != nil {
			return err
		}
		defer j.Close()
		n, err := p.Restore(j)
		if err != nil {
			// A damaged journal must not keep the daemon down; its calls are
			// rebuilt from the PBX's channel list instead.
			d.log.Error().Err(err).Str("source", name).Msg("journal unreadable, starting from the PBX's channel list only")
			if rerr := j.Reset(); rerr != nil {
				return rerr
			}
		} else if n > 0 {
			st, _ := p.Stats()
			d.log.Info().Str("source", name).Int("events", n).Int("calls_open", st.Calls).Msg("restored calls in progress from the journal")
		}
		p.OnJournalError = func(err error) {
			d.log.Error().Err(err).Str("source", name).Msg("journal write failed; a crash now would lose calls in progress")
		}
		runs[name] = running{src, p}
	}
	if d.delivery != nil {
		g.Go(func() error { return d.delivery.Run(ctx) })
	}
	if d.sub != nil {
		g.Go(func() error {
			if err := d.sub.Run(ctx); err != nil && ctx.Err() == nil {
				d.log.Error().Err(err).Msg("dialog-event subscriber stopped; screen pops come from the engine only")
			}
			return nil
		})
	}
	for name, r := range runs {
		g.Go(func() error {
			d.log.Info().Str("source", name).Msg("source starting")
			err := r.src.Run(ctx, r.p.Handle)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s source: %w", name, err)
			}
			return nil
		})
	}
	var srv *http.Server
	if d.ln != nil {
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		d.reloads(ctx)
		return nil
	})
	g.Go(func() error {
		systemd.RunWatchdog(ctx, d.ready.Load)
		return nil
	})
	d.ready.Store(true)
	if err := systemd.Ready(); err != nil {
		d.log.Warn().Err(err).Msg("systemd notify")
	}
	d.log.Info().Int("sources", len(d.sources)).Str("sink", d.cfg.Sink.File).Msg("callbridge running")

	<-ctx.Done()
	d.ready.Store(false)
	_ = systemd.Stopping()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	err := g.Wait()
	if cerr := d.sink.Close(); err == nil {
		err = cerr
	}
	if d.store != nil {
		if cerr := d.store.Close(); err == nil {
			err = cerr
		}
	}
	d.log.Info().Msg("callbridge stopped")
	return err
}

func (d *Daemon) pipeline(name string) *countingPipeline {
	ec := d.cfg.EngineConfig()
	ec.Source = name
	events := d.events.WithLabelValues(name)
	calls := d.calls.WithLabelValues(name)
	p := pipeline.New(ec, d.cfg.Normalizer(), func(a bridge.Activity) {
		d.activities.WithLabelValues(name, string(a.State)).Inc()
		if err := d.sink.Write(a); err != nil {
			d.sinkErrors.Inc()
			d.log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity not written")
			return
		}
		d.log.Debug().Str("call_id", a.CallID).Str("user", a.User).Str("state", string(a.State)).Msg("activity")
		if d.delivery != nil {
			// Queued durably before the source reads its next event.
			if _, _, err := d.delivery.Submit(d.runCtx, a); err != nil {
				d.log.Error().Err(err).Str("call_id", a.CallID).Str("user", a.User).Msg("activity kept in sink.file only")
			}
		}
	}, func(tr bridge.Transition) { d.live.publish(name, tr) })
	return &countingPipeline{Pipeline: p, events: events, calls: calls}
}

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	d.api(mux)
	// GET /api/live[?user=101]: live ringing / connected / ended, as
	// Server-Sent Events, for screen pops.
	mux.HandleFunc("GET /api/live", d.live.serve)
	return mux
}

// reloads re-reads the config on request. The whole new file is validated
// first; a bad one changes nothing. What can change without a restart is
// the log level; the rest is reported as needing one.
func (d *Daemon) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Reload:
		}
		_ = systemd.Reloading()
		cfg, err := config.Load(d.ConfigPath)
		if err == nil {
			err = cfg.ValidateForRun()
		}
		if err != nil {
			d.log.Error().Err(err).Msg("reload: new configuration rejected, keeping the running one")
		} else {
			// The root logger is built to pass everything; the global
			// level is the one knob, so a reload can turn debug on.
			zerolog.SetGlobalLevel(cfg.Level())
			d.log.Info().Str("log_level", cfg.LogLevel).Msg("reload: log level applied; source, user and sink changes take effect on restart")
		}
		_ = systemd.Ready()
	}
}
