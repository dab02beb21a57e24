package api

import (
	"context"
	"net/http"
	"time"

	"github.com/callbridge/callbridge/crmsync"
)

// Users maps the directory's users to CRM users now, on every connector
// that can (`callbridge users sync`).
type Users interface {
	SyncUsers(ctx context.Context) []UserSync
}

// UserSync is one connector's user mapping result.
type UserSync struct {
	Connector string             `json:"connector"`
	Report    crmsync.UserReport `json:"report"`
	Error     string             `json:"error,omitempty"`
}

// POST /api/users/sync
func syncUsers(u Users) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u == nil {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		writeJSON(w, http.StatusOK, u.SyncUsers(ctx))
	}
}
