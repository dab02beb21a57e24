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

// POST /api/users/sync: an operation (202 with its status URL); its
// result is the []UserSync.
func syncUsers(u Users, ops *Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u == nil || ops == nil {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		accepted(w, ops.Start("users sync", "", func(ctx context.Context) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			return u.SyncUsers(ctx), nil
		}))
	}
}
