package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Integrations are the CRMs' phone indexes (caller recognition), which
// `callbridge integrations` drives.
type Integrations interface {
	// Statuses reports every index, ordered by name.
	Statuses() []IntegrationStatus
	// Do runs action on the index of connector name and reports its
	// status after: ErrNoIntegration when there is none, ErrBadAction for
	// an action not listed below, ErrDeleted when it was deleted.
	Do(ctx context.Context, name string, action Action) (IntegrationStatus, error)
}

// Action is what POST /api/integrations/{name}/{action} does.
type Action string

// Actions.
const (
	ActionSync     Action = "sync"      // an incremental sync now
	ActionFullSync Action = "full-sync" // a full sync now
	ActionEnable   Action = "enable"
	ActionDisable  Action = "disable"
	ActionDelete   Action = "delete" // cache and settings; stays deleted across restarts
	ActionCreate   Action = "create" // a deleted one anew, from the configuration
)

// Errors of Integrations.Do.
var (
	ErrNoIntegration = errors.New("no such integration")
	ErrBadAction     = errors.New("action: want sync, full-sync, enable, disable, delete or create")
	ErrDeleted       = errors.New("integration deleted: create it again to use it")
	ErrExists        = errors.New("integration exists: delete it first to start over")
)

// IntegrationStatus is one phone index's state.
type IntegrationStatus struct {
	Name        string    `json:"name"`
	Enabled     bool      `json:"enabled"`
	Records     int       `json:"records"`
	Numbers     int       `json:"numbers"`
	LastRefresh time.Time `json:"last_refresh"`
	LastFull    time.Time `json:"last_full"`
	NextSync    time.Time `json:"next_sync"`
	Syncing     bool      `json:"syncing"`
	LastError   string    `json:"last_error,omitempty"`
	Deleted     bool      `json:"deleted,omitempty"`
}

// GET /api/integrations
func integrations(in Integrations) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		var st []IntegrationStatus
		if in != nil {
			st = in.Statuses()
		}
		writeJSON(w, http.StatusOK, st)
	}
}

// POST /api/integrations/{name}/{sync|full-sync|enable|disable|delete|create}.
// A sync is an operation: 202 with its status URL at once (a full sync of
// a large CRM takes minutes). The others are quick and answer the status.
func integrationAction(in Integrations, ops *Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, action := r.PathValue("name"), Action(r.PathValue("action"))
		st, ok := status(in, name)
		if !ok {
			http.Error(w, "no integration "+name, http.StatusNotFound)
			return
		}
		sync := action == ActionSync || action == ActionFullSync
		if sync && st.Deleted {
			http.Error(w, ErrDeleted.Error(), http.StatusGone) // no operation to start
			return
		}
		if sync && ops != nil {
			accepted(w, ops.Start("integration "+string(action), name, func(ctx context.Context) (any, error) {
				ctx, cancel := context.WithTimeout(ctx, time.Hour)
				defer cancel()
				st, err := in.Do(ctx, name, action)
				if err != nil {
					return nil, err
				}
				return st, nil
			}))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		st, err := in.Do(ctx, name, action)
		switch {
		case errors.Is(err, ErrNoIntegration):
			http.Error(w, "no integration "+name, http.StatusNotFound)
		case errors.Is(err, ErrBadAction):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, ErrDeleted):
			http.Error(w, err.Error(), http.StatusGone)
		case errors.Is(err, ErrExists):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			writeJSON(w, http.StatusOK, st)
		}
	}
}

// status is name's status, if there is such an integration.
func status(in Integrations, name string) (IntegrationStatus, bool) {
	if in == nil {
		return IntegrationStatus{}, false
	}
	for _, st := range in.Statuses() {
		if st.Name == name {
			return st, true
		}
	}
	return IntegrationStatus{}, false
}
