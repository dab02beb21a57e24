package app

import (
	"io"
	"net"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/pipeline"
	"github.com/callbridge/callbridge/sip/subscribe"
)

// App is a configured, not yet running, callbridge.
type App struct {
	cfg *config.Config
	log zerolog.Logger
	reg *prometheus.Registry

	sources map[string]pipeline.Source
	// sub watches extensions' dialog state for screen pops, when set up.
	sub  *subscribe.Subscriber
	sink *pipeline.File
	// crm is the delivery to the CRMs, when any is configured.
	crm  *Delivery
	path *pipeline.Path
	ln   net.Listener
	live *hub
	// desk is the agents' caller cards; dial places their calls (nil:
	// click-to-dial off).
	desk *cards.Engine
	dial *api.ClickToDial
	// tokens is the API's Authorizer; httpCfg the http section in force;
	// cert the listener's TLS certificate.
	tokens  *api.Tokens
	mux     *api.Mux
	httpCfg atomic.Pointer[config.HTTP]
	cert    certificate

	ready atomic.Bool
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
	}
	if a.desk, err = newDesk(cfg, a.crm, nil, a.reg); err != nil {
		return nil, err
	}
	if a.dial, err = clickToDial(cfg, log); err != nil {
		return nil, err
	}
	parts := pipeline.Parts{
		Sources: a.sources, Engine: cfg.EngineConfig(), Normalizer: cfg.Normalizer(),
		Sink: a.sink, Live: a.transition, Logger: log, Registerer: a.reg,
	}
	if a.crm != nil {
		parts.CRM = a.crm.Parts()
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
// caller cards.
func (a *App) transition(source string, tr bridge.Transition) {
	a.live.publish(source, tr)
	a.desk.Transition(tr)
}

// Addr is the HTTP listener's address (nil when off).
func (a *App) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}
