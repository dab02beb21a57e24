package app

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/internal/routing"
	"github.com/callbridge/callbridge/sip/subscribe"
)

// App is a configured, not yet running, callbridge.
type App struct {
	cfg *config.Config
	log zerolog.Logger
	reg *prometheus.Registry

	// srcMu guards sources and sub, which a reload replaces.
	srcMu   sync.Mutex
	sources map[string]pipeline.Source
	// sub watches extensions' dialog state for screen pops, when set up.
	sub  *subscribe.Subscriber
	sink *pipeline.File
	// crm is the delivery to the CRMs as New built it, which owns the
	// store; cur is the one in force (a reload builds another on the same
	// store).
	crm  *Delivery
	cur  atomic.Pointer[Delivery]
	path *pipeline.Path
	// history reads CEL for the sources' gaps; nil without a cel: section.
	history *history
	// tasks are the parts a reload restarts: the phone indexes and user
	// sync (crmTask), the dialog-event subscriber (subTask).
	tasks            tasks
	crmTask, subTask *task
	reloadMetrics    reloadMetrics
	reloadMu         sync.Mutex // one reload at a time
	ln               net.Listener
	live             *hub
	// desk is the agents' caller cards and the users' presence (routing's
	// when_free reads it); dial places their calls (nil: click-to-dial
	// off), replaced on reload.
	desk *cards.Engine
	dial atomic.Pointer[api.ClickToDial]
	// tokens is the API's Authorizer; httpCfg the http section in force;
	// cert the listener's TLS certificate.
	tokens  *api.Tokens
	mux     *api.Mux
	httpCfg atomic.Pointer[config.HTTP]
	cert    certificate
	// router answers routing questions (routing.rules), replaced on
	// reload.
	router atomic.Pointer[routing.Router]

	// ready: running and not shutting down; notified: READY=1 was sent.
	ready    atomic.Bool
	notified atomic.Bool
	// opened holds what New opened, to be closed in reverse order.
	opened cleanups

	// Reload receives a request to re-read the config (main sends SIGHUP
	// here); the new file is validated whole before anything is applied.
	Reload chan struct{}
	// ConfigPath is re-read on reload.
	ConfigPath string
}

// New builds the daemon's parts from cfg (already validated for run). It
// opens the sink, the store and the HTTP listener so that configuration
// mistakes show before anything runs; when a part fails, what was opened
// before it is closed again.
func New(cfg *config.Config, log zerolog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, reg: newRegistry(), live: &hub{}, Reload: make(chan struct{}, 1)}
	a.httpCfg.Store(&cfg.HTTP)
	a.live.register(a.reg)
	a.reloadMetrics.register(a.reg)
	a.reg.MustRegister(newHealthCollector(a))
	defer func() {
		if err != nil {
			a.opened.close()
		}
	}()
	if a.sources, err = buildSources(cfg, log, a.reg); err != nil {
		return nil, err
	}
	for _, s := range a.sources {
		if c, ok := s.(io.Closer); ok { // the HEP listener is bound already
			a.opened.push(ignoreClosed(c.Close))
		}
	}
	if a.sub, err = buildSubscriber(cfg, log, a.reg, a.live); err != nil {
		return nil, err
	}
	if a.sub != nil {
		a.opened.push(ignoreClosed(a.sub.Close))
	}
	if a.sink, err = pipeline.OpenFile(cfg.Sink.File); err != nil {
		return nil, err
	}
	a.opened.push(a.sink.Close)
	if len(cfg.CRM) > 0 {
		if a.crm, err = OpenDelivery(cfg, log, a.reg); err != nil {
			return nil, err
		}
		a.opened.push(a.crm.Close)
		a.cur.Store(a.crm)
	}
	if a.desk, err = newDesk(cfg, a.crm, nil, a.reg); err != nil {
		return nil, err
	}
	dial, err := clickToDial(cfg, log)
	if err != nil {
		return nil, err
	}
	a.dial.Store(dial)
	r, err := a.buildRouter(cfg)
	if err != nil {
		return nil, err
	}
	a.router.Store(r)
	parts := pipeline.Parts{
		Sources: a.sources, Engine: cfg.EngineConfig(), Normalizer: cfg.Normalizer(),
		Sink: a.sink, Live: a.transition, Logger: log, Registerer: a.reg,
	}
	if a.crm != nil {
		parts.CRM = a.crm.Parts()
	}
	if cfg.CELOn() {
		a.history = newHistory(cfg, log)
		a.opened.push(a.history.Close)
		parts.History = a.history
	}
	if a.path, err = pipeline.Build(parts); err != nil {
		return nil, err
	}
	a.opened.push(a.path.Close)
	if cfg.HTTP.Listen != "" {
		if err := a.listen(cfg); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// transition hands a live transition of a source to /api/live and to the
// caller cards, which are also the users' presence.
func (a *App) transition(source string, tr bridge.Transition) {
	if tr.Activity == nil { // /api/live streams the live states only
		a.live.publish(source, tr)
	}
	a.desk.Transition(tr)
}

// Addr is the HTTP listener's address (nil when off).
func (a *App) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// buildRouter compiles cfg's routing.rules over the phone indexes and
// user mappings of the delivery in force and the engine's live state.
// Without a CRM only the number rules can match.
func (a *App) buildRouter(cfg *config.Config) (*routing.Router, error) {
	d := a.routerDeps(cfg)
	d.Registerer = a.reg
	r, err := routing.New(cfg.Routing, d)
	if err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	return r, nil
}

func (a *App) routerDeps(cfg *config.Config) routing.Deps {
	d := routing.Deps{Presence: a.desk, DirectNumbers: cfg.DirectNumbers(), Normalize: cfg.Normalizer().Normalize}
	if a.crm != nil {
		d.Records, d.Owners = currentRecords{a}, currentOwners{a}
	}
	return d
}
