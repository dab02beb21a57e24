package crmsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/callbridge/callbridge/bridge"
)

// WrapupConfig is the wrapup section: agents' dispositions of calls.
type WrapupConfig struct {
	// Codes are the wrap-up codes a disposition may carry; empty: any.
	Codes []string `yaml:"codes"`
	// CompleteOnWrap writes a connected call's activity open at hang-up
	// and completes it when the disposition arrives, or when Timeout
	// has passed since callbridge saw the hang-up.
	CompleteOnWrap bool `yaml:"complete_on_wrap"`
	// Timeout is how long after hang-up an open activity waits for its
	// disposition. Default 5m.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultWrapupTimeout is wrapup.timeout's default.
const DefaultWrapupTimeout = 5 * time.Minute

// DefaultWrapupConfig is the wrapup section of a fresh install.
func DefaultWrapupConfig() WrapupConfig { return WrapupConfig{Timeout: DefaultWrapupTimeout} }

// MaxWrapupNotes bounds a disposition's notes, in characters (Dataverse's
// default for a text column is 2000 too).
const MaxWrapupNotes = 2000

// maxCode bounds one wrap-up code.
const maxCode = 64

// Validate returns every problem, joined, naming keys relative to the
// wrapup section.
func (c WrapupConfig) Validate() error {
	var errs []error
	seen := map[string]int{}
	for i, code := range c.Codes {
		key := fmt.Sprintf("codes[%d]", i)
		if err := checkCode(code); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %w", key, code, err))
		} else if j, dup := seen[code]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is also codes[%d]", key, code, j))
		}
		seen[code] = i
	}
	if c.Timeout <= 0 || c.Timeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("timeout: %s: want more than 0 and at most 24h", c.Timeout))
	}
	return errors.Join(errs...)
}

func checkCode(code string) error {
	switch {
	case code == "":
		return errors.New("empty")
	case len(code) > maxCode:
		return fmt.Errorf("longer than %d bytes", maxCode)
	case strings.ContainsFunc(code, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return errors.New("no spaces or control characters")
	}
	return nil
}

// Errors of Wrapups.Dispose.
var (
	ErrUnknownCode = errors.New("code: not one of wrapup.codes")
	ErrBadWrapup   = errors.New("bad disposition")
)

// DispositionWait is how long a disposition waits for its activity to be
// queued (a disposition may come from the agent page during the call,
// long before its activity exists) before it is given up.
const DispositionWait = 12 * time.Hour

// Wrapups queues wrap-ups and the open pushes and completions that
// wrapup.complete_on_wrap asks for. The queue stage pushes activities
// through it, the disposition API calls Dispose.
type Wrapups struct {
	cfg   WrapupConfig
	store Store
	pbx   string
	// updaters are the connectors that implement Updater.
	updaters map[string]bool
	names    []string
	// Now is the clock (tests may replace it).
	Now func() time.Time
}

// NewWrapups checks cfg. pbx is pbx_id, which activity ids are made with.
func NewWrapups(cfg WrapupConfig, store Store, pbx string, conns []Connector) (*Wrapups, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Wrapups{cfg: cfg, store: store, pbx: pbx, updaters: map[string]bool{}, Now: time.Now}
	for _, c := range conns {
		if _, ok := c.(Updater); ok {
			w.updaters[c.Name()] = true
			w.names = append(w.names, c.Name())
		}
	}
	return w, nil
}

// Pending says whether a is written open, to wait for its wrap-up, when it
// goes to connector.
func (w *Wrapups) Pending(connector string, a bridge.Activity) bool {
	return w.cfg.CompleteOnWrap && a.State == bridge.Connected && w.updaters[connector]
}

// Enqueue queues accepted activity a for connector: as it is, or, when it
// waits for a wrap-up, open and with its completion due wrapup.timeout
// from now, the moment callbridge saw the hang-up (unless a wrap-up comes
// first). Now, not the activity's end: after a restart the journal
// finishes calls that ended during the outage, and their agents still get
// the whole timeout. The completion is queued first: an open push never
// goes without it.
func (w *Wrapups) Enqueue(ctx context.Context, connector string, a bridge.Activity) error {
	if !w.Pending(connector, a) {
		_, err := w.store.Enqueue(ctx, connector, a)
		return err
	}
	ref := bridge.Activity{ID: a.ID, CallID: a.CallID, User: a.User}
	complete := Job{Activity: ref, Task: &Task{
		ID: "complete:" + a.ID, After: a.ID, SkipIf: WrapupTaskID(a.ID),
		Update: &UpdateRequest{ID: "complete:" + a.ID, ActivityID: a.ID, CallID: a.CallID, User: a.User, Complete: true},
	}}
	if _, err := w.store.EnqueueJob(ctx, connector, complete, w.Now().Add(w.cfg.Timeout)); err != nil {
		return err
	}
	_, err := w.store.EnqueueJob(ctx, connector, Job{Activity: a, Open: true}, time.Time{})
	return err
}

// WrapupTaskID is the id of the wrap-up task of the activity with id.
func WrapupTaskID(activityID string) string { return "wrapup:" + activityID }

// Disposition is a wrap-up as the API receives it.
type Disposition struct {
	CallID string
	User   string
	Code   string
	Notes  string
}

// DisposeResult says what Dispose queued.
type DisposeResult struct {
	ActivityID string
	// Connectors the wrap-up was queued for; Repeated those that had it
	// already (one wrap-up per user and call: the first counts).
	Connectors []string
	Repeated   []string
}

// Dispose queues d for every connector that can update activities. It
// reaches the user's activity of the call once that is delivered (which
// may be later: the call may not have ended yet). The first disposition of
// a user's call is the one written; repeats are accepted and ignored.
func (w *Wrapups) Dispose(ctx context.Context, d Disposition) (DisposeResult, error) {
	switch {
	case d.CallID == "" || len(d.CallID) > 256:
		return DisposeResult{}, fmt.Errorf("%w: call_id: required, at most 256 bytes", ErrBadWrapup)
	case d.User == "" || len(d.User) > 64:
		return DisposeResult{}, fmt.Errorf("%w: user: required, at most 64 bytes", ErrBadWrapup)
	case checkCode(d.Code) != nil:
		return DisposeResult{}, fmt.Errorf("%w: code: %v", ErrBadWrapup, checkCode(d.Code))
	case len(w.cfg.Codes) > 0 && !slices.Contains(w.cfg.Codes, d.Code):
		return DisposeResult{}, fmt.Errorf("%w (%s)", ErrUnknownCode, strings.Join(w.cfg.Codes, ", "))
	case utf8.RuneCountInString(d.Notes) > MaxWrapupNotes || !utf8.ValidString(d.Notes):
		return DisposeResult{}, fmt.Errorf("%w: notes: at most %d characters of UTF-8", ErrBadWrapup, MaxWrapupNotes)
	}
	now := w.Now()
	id := bridge.ActivityID(w.pbx, d.CallID, d.User)
	res := DisposeResult{ActivityID: id}
	tid := WrapupTaskID(id)
	for _, c := range w.names {
		j := Job{Activity: bridge.Activity{ID: id, CallID: d.CallID, User: d.User}, Task: &Task{
			ID: tid, After: id, GiveUpAt: now.Add(DispositionWait),
			Update: &UpdateRequest{ID: tid, ActivityID: id, CallID: d.CallID, User: d.User,
				Wrapup:   &Wrapup{Code: d.Code, Notes: d.Notes, At: now.UTC()},
				Complete: w.cfg.CompleteOnWrap},
		}}
		added, err := w.store.EnqueueJob(ctx, c, j, time.Time{})
		if err != nil {
			return res, fmt.Errorf("queue the wrap-up for %s: %w", c, err)
		}
		if added {
			res.Connectors = append(res.Connectors, c)
		} else {
			res.Repeated = append(res.Repeated, c)
		}
	}
	return res, nil
}
