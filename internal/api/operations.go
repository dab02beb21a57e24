package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Operation is a long job a request started (a sync), reported at its
// status URL until it is done. The request that starts one answers 202 at
// once: nothing slow runs inside a request.
type Operation struct {
	ID string `json:"id"`
	// Kind says what runs: "integration sync", "integration full-sync",
	// "users sync".
	Kind string `json:"kind"`
	// Target is what it runs on (an integration's name); may be empty.
	Target string `json:"target,omitempty"`
	// State is running, done or failed.
	State    string     `json:"state"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Result is what the job gave (an integration's status, the users
	// sync report), once done.
	Result any `json:"result,omitempty"`
	// StatusURL is where to poll it.
	StatusURL string `json:"status_url"`
}

// Operation states.
const (
	OpRunning = "running"
	OpDone    = "done"
	OpFailed  = "failed"
)

// keptOperations is how many finished operations stay reportable.
const keptOperations = 100

// Operations runs long jobs outside requests, one at a time per kind and
// target: starting one that is running gives the running one.
type Operations struct {
	ctx context.Context
	now func() time.Time
	wg  sync.WaitGroup

	mu    sync.Mutex
	ops   map[string]*Operation
	order []string // ids, oldest first
}

// NewOperations returns a runner whose jobs get ctx (the daemon's: they
// end at shutdown). now may be nil (time.Now).
func NewOperations(ctx context.Context, now func() time.Time) *Operations {
	if now == nil {
		now = time.Now
	}
	return &Operations{ctx: ctx, now: now, ops: map[string]*Operation{}}
}

// Start runs fn in the background, unless the same kind and target is
// running already, and returns the operation's state now.
func (o *Operations) Start(kind, target string, fn func(ctx context.Context) (any, error)) Operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, op := range o.ops {
		if op.Kind == kind && op.Target == target && op.State == OpRunning {
			return *op
		}
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	op := &Operation{ID: id, Kind: kind, Target: target, State: OpRunning, Started: o.now().UTC(), StatusURL: "/api/operations/" + id}
	o.ops[id] = op
	o.order = append(o.order, id)
	o.forget()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		res, err := fn(o.ctx)
		o.mu.Lock()
		defer o.mu.Unlock()
		t := o.now().UTC()
		op.Finished, op.Result, op.State = &t, res, OpDone
		if err != nil {
			op.State, op.Error = OpFailed, err.Error()
		}
	}()
	return *op
}

// forget drops the oldest finished operations beyond keptOperations.
func (o *Operations) forget() {
	for i := 0; len(o.order) > keptOperations && i < len(o.order); {
		if id := o.order[i]; o.ops[id].State != OpRunning {
			delete(o.ops, id)
			o.order = append(o.order[:i], o.order[i+1:]...)
			continue
		}
		i++
	}
}

// Get reports the operation id.
func (o *Operations) Get(id string) (Operation, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	op, ok := o.ops[id]
	if !ok {
		return Operation{}, false
	}
	return *op, true
}

// Wait waits for every job started to return (after ctx ends, at
// shutdown).
func (o *Operations) Wait() { o.wg.Wait() }

// accepted answers 202 with op and its status URL.
func accepted(w http.ResponseWriter, op Operation) {
	w.Header().Set("Location", op.StatusURL)
	writeJSON(w, http.StatusAccepted, op)
}

// GET /api/operations/{id}
func operation(o *Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o == nil {
			http.NotFound(w, r)
			return
		}
		op, ok := o.Get(r.PathValue("id"))
		if !ok {
			http.Error(w, "no operation "+r.PathValue("id")+" (finished ones are kept for the last 100)", http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, op)
	}
}
