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
	ActionDelete   Action = "delete" // cache and settings
)

// Errors of Integrations.Do.
var (
	ErrNoIntegration = errors.New("no such integration")
	ErrBadAction     = errors.New("action: want sync, full-sync, enable, disable or delete")
	ErrDeleted       = errors.New("integration deleted")
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

// POST /api/integrations/{name}/{sync|full-sync|enable|disable|delete}.
// A sync is an operation: 202 with its status URL at once (a full sync of
// a large CRM takes minutes). The others are quick and answer the status.
func integrationAction(in Integrations, ops *Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, action := r.PathValue("name"), Action(r.PathValue("action"))
		if in == nil || !known(in, name) {
			http.Error(w, "no integration "+name, http.StatusNotFound)
			return
		}
		if (action == ActionSync || action == ActionFullSync) && ops != nil {
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
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			writeJSON(w, http.StatusOK, st)
		}
	}
}

func known(in Integrations, name string) bool {
	for _, st := range in.Statuses() {
		if st.Name == name {
			return true
		}
	}
	return false
}
