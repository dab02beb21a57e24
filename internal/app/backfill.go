package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/cel"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/pipeline"
)

// history is the cel: section as the pipeline's History: after every
// reconnect and restart each source's gap is read from Asterisk's CEL.
// The source is opened on first use and again after a failed open, so
// that a CEL database that is down when callbridge starts delays the
// backfill instead of keeping the daemon (whose live path needs no CEL)
// from running. Reads are one at a time: a CSV source is not safe for
// concurrent use, and a database needs no more.
type history struct {
	cfg    cel.Config
	margin time.Duration
	// ec is the engines' configuration, which a reload of the directory
	// replaces (setEngine) while a read may hold mu.
	ec  atomic.Pointer[bridge.Config]
	log zerolog.Logger

	mu      sync.Mutex
	src     cel.Source
	failed  time.Time // wall clock: the last failed open
	openErr error
}

// openTimeout bounds connecting to a CEL database; after a failure the
// next attempt waits openBackoff, and reads fail at once meanwhile.
const (
	openTimeout = 5 * time.Second
	openBackoff = 10 * time.Second
)

func newHistory(cfg *config.Config, log zerolog.Logger) *history {
	h := &history{cfg: cfg.CEL, margin: cfg.CEL.MarginOrDefault(), log: log.With().Str("cel", cfg.CEL.Type).Logger()}
	h.setEngine(cfg.EngineConfig())
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if _, err := h.source(ctx); err != nil {
		h.log.Warn().Err(err).Msg("CEL not readable yet; gaps will be filled once it is")
	}
	return h
}

// setEngine makes the calls read from CEL from now on with ec, the users,
// pattern and trunks a reload put in force for the live engines, so that
// both make the same activities of a call.
func (h *history) setEngine(ec bridge.Config) { h.ec.Store(&ec) }

// source opens the source if it is not open. Called with mu held.
func (h *history) source(ctx context.Context) (cel.Source, error) {
	if h.src != nil {
		return h.src, nil
	}
	if !h.failed.IsZero() && time.Since(h.failed) < openBackoff {
		return nil, h.openErr
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	src, err := cel.Open(ctx, h.cfg)
	if err != nil {
		h.failed, h.openErr = time.Now(), err
		return nil, err
	}
	h.src, h.failed, h.openErr = src, time.Time{}, nil
	return src, nil
}

// farFuture ends a read "up to the newest row".
const farFuture = 100 * 365 * 24 * time.Hour

// Gap implements pipeline.History.
func (h *history) Gap(ctx context.Context, lastSeen, firstNew time.Time) (pipeline.HistoryGap, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	src, err := h.source(ctx)
	if err != nil {
		return pipeline.HistoryGap{}, err
	}
	if firstNew.IsZero() {
		// The new session has said nothing: the window runs to the
		// newest row, which no call of the new session can have begun
		// before the live source told of it.
		rows, err := src.Window(ctx, lastSeen.Add(-h.margin), lastSeen.Add(farFuture))
		if err != nil {
			return pipeline.HistoryGap{}, err
		}
		firstNew = lastSeen
		for _, r := range rows {
			if r.Time.After(firstNew) {
				firstNew = r.Time
			}
		}
	}
	g, err := cel.Backfill(ctx, src, cel.Window{LastSeen: lastSeen, FirstNew: firstNew}, h.margin, *h.ec.Load())
	if err != nil {
		return pipeline.HistoryGap{}, err
	}
	h.problems(g)
	out := pipeline.HistoryGap{FirstNew: firstNew, Calls: make([]pipeline.HistoryCall, 0, len(g.Calls))}
	for _, c := range g.Calls {
		out.Calls = append(out.Calls, historyCall(c))
	}
	return out, nil
}

// Calls implements pipeline.History.
func (h *history) Calls(ctx context.Context, ids []string) (map[string]pipeline.HistoryFound, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	src, err := h.source(ctx)
	if err != nil {
		return nil, err
	}
	g, err := cel.Lookup(ctx, src, ids, *h.ec.Load())
	if err != nil {
		return nil, err
	}
	h.problems(g)
	out := make(map[string]pipeline.HistoryFound, len(ids))
	for _, id := range ids {
		c, open, ok := g.CallOf(id)
		out[id] = pipeline.HistoryFound{Call: historyCall(c), Open: open, OK: ok}
	}
	return out, nil
}

// problems logs the rows that could not be read.
func (h *history) problems(g *cel.Gap) {
	if g.Stats.Malformed > 0 {
		h.log.Warn().Int("malformed", g.Stats.Malformed).Strs("problems", g.Stats.Problems).Msg("CEL rows skipped")
	}
}

func historyCall(c cel.Call) pipeline.HistoryCall {
	return pipeline.HistoryCall{ID: c.ID, Start: c.Start, End: c.End, Activities: c.Activities}
}

// Close closes the source.
func (h *history) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.src == nil {
		return nil
	}
	err := h.src.Close()
	h.src = nil
	return err
}
