package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/sip/subscribe"
	"github.com/callbridge/callbridge/systemd"
)

// Run runs every part until ctx is done or one fails, then shuts down in
// order: the HTTP server and the sources stop, pushes in flight get
// delivery.drain_timeout to finish, and what New opened is closed, last
// opened first (journals, store, sink). Calls in progress are not ended:
// the journal and the PBX's channel list rebuild them on the next start.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := a.opened.close(); err == nil {
			err = cerr
		}
		a.log.Info().Msg("callbridge stopped")
	}()
	g, ctx := errgroup.WithContext(ctx)
	// What the start's log line says, read before a reload may change it.
	sources, sink := len(a.sources), a.cfg.Sink.File
	// Rebuild the calls in progress from each source's journal before any
	// source connects, so its first snapshot reconciles them.
	if err := a.path.Restore(ctx, filepath.Join(a.cfg.StateDir, "journal")); err != nil {
		return err
	}
	g.Go(func() error { return a.path.RunDelivery(ctx) })
	defer a.tasks.wait()
	if d := a.crmNow(); d != nil {
		a.crmTask = a.tasks.start(ctx, func(ctx context.Context) { d.Run(ctx) })
	}
	a.subTask = a.startSubscriber(ctx, a.sub)
	g.Go(func() error { return a.path.RunSources(ctx) })
	var srv *http.Server
	if a.ln != nil {
		ops := api.NewOperations(ctx, nil)
		defer ops.Wait()
		a.mux = a.handler(ops)
		srv = a.server(a.mux)
		g.Go(func() error {
			if err := srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		a.reloads(ctx)
		return nil
	})
	// READY=1 waits for every source to connect and the store to answer;
	// the watchdog is fed while the engine loops and the store are alive.
	g.Go(func() error {
		systemd.RunWatchdog(ctx, a.alive)
		return nil
	})
	a.ready.Store(true)
	g.Go(func() error {
		a.notifyReady(ctx)
		return nil
	})
	a.log.Info().Int("sources", sources).Str("sink", sink).Msg("callbridge running")

	<-ctx.Done()
	a.ready.Store(false)
	_ = systemd.Stopping()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	return g.Wait()
}

// cleanups is a stack of things to close: New pushes each part it opens,
// and a failed New or the end of Run closes them, last opened first.
type cleanups []func() error

func (c *cleanups) push(f func() error) { *c = append(*c, f) }

// close runs every cleanup once, newest first, and joins their errors.
func (c *cleanups) close() error {
	var errs []error
	for i := len(*c) - 1; i >= 0; i-- {
		errs = append(errs, (*c)[i]())
	}
	*c = nil
	return errors.Join(errs...)
}

// ignoreClosed makes closing a socket that its server has closed already
// not an error.
func ignoreClosed(f func() error) func() error {
	return func() error {
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}

// tasks runs the parts a reload can replace, each under its own context;
// wait waits for every one started.
type tasks struct{ wg sync.WaitGroup }

type task struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (ts *tasks) start(ctx context.Context, run func(ctx context.Context)) *task {
	ctx, cancel := context.WithCancel(ctx)
	t := &task{cancel: cancel, done: make(chan struct{})}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		defer close(t.done)
		run(ctx)
	}()
	return t
}

func (ts *tasks) wait() { ts.wg.Wait() }

// stop ends t and waits for it (nil: nothing to stop).
func (t *task) stop() {
	if t != nil {
		t.cancel()
		<-t.done
	}
}

// startSubscriber runs sub, when there is one, as a task.
func (a *App) startSubscriber(ctx context.Context, sub *subscribe.Subscriber) *task {
	if sub == nil {
		return nil
	}
	return a.tasks.start(ctx, func(ctx context.Context) {
		if err := sub.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error().Err(err).Msg("dialog-event subscriber stopped; screen pops come from the engine only")
		}
	})
}
