package api

import (
	"context"
	"net/http"

	"github.com/callbridge/callbridge/crmsync"
)

// Queue is the delivery queue, read-only: what `callbridge queue stats`
// shows, from the running daemon (the embedded store is one process's).
type Queue interface {
	Stats(ctx context.Context) ([]crmsync.QueueStats, error)
}

// GET /api/queue: every connector's queue (ready, in flight, delayed,
// dead, delivered).
func queueStats(q Queue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q == nil {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		st, err := q.Stats(r.Context())
		if err != nil {
			http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}
}
