package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/callbridge/callbridge/crmsync"
)

// Queue is the delivery queue as `callbridge queue` drives it in the
// running daemon (the embedded store is one process's): its stats, and
// the dead letters to list, queue again or purge.
type Queue interface {
	Stats(ctx context.Context) ([]crmsync.QueueStats, error)
	DeadLetters(ctx context.Context, connector string, limit int) ([]crmsync.DeadLetter, error)
	Retry(ctx context.Context, id string) error
	RetryAll(ctx context.Context, connector string) (int, error)
	Purge(ctx context.Context, connector string) (int, error)
}

// QueueCount is the answer of retry and purge: how many dead letters.
type QueueCount struct {
	Requeued int `json:"requeued,omitempty"`
	Purged   int `json:"purged,omitempty"`
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

// noQueue answers when no CRM is configured: the daemon keeps no queue.
func noQueue(w http.ResponseWriter) {
	http.Error(w, "no queue: no CRM is configured (crm:)", http.StatusNotFound)
}

// GET /api/queue/dead?connector=NAME&limit=N: the dead letters, oldest
// first (all connectors' without connector, all without limit).
func queueDead(q Queue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q == nil {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		limit := 0
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				http.Error(w, "limit: want a number of dead letters (0: all)", http.StatusBadRequest)
				return
			}
			limit = n
		}
		dls, err := q.DeadLetters(r.Context(), r.URL.Query().Get("connector"), limit)
		if err != nil {
			http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if dls == nil {
			dls = []crmsync.DeadLetter{}
		}
		writeJSON(w, http.StatusOK, dls)
	}
}

// POST /api/queue/retry?id=ID, or ?all=true[&connector=NAME]: dead letters
// queued again, attempts reset.
func queueRetry(q Queue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q == nil {
			noQueue(w)
			return
		}
		qs := r.URL.Query()
		id, all := qs.Get("id"), qs.Get("all") == "true"
		switch {
		case (id == "") == !all:
			http.Error(w, "give id=ID or all=true", http.StatusBadRequest)
		case all:
			n, err := q.RetryAll(r.Context(), qs.Get("connector"))
			if err != nil {
				http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, http.StatusOK, QueueCount{Requeued: n})
		default:
			err := q.Retry(r.Context(), id)
			switch {
			case errors.Is(err, crmsync.ErrNotFound):
				http.Error(w, "no dead letter with activity id "+id, http.StatusNotFound)
			case err != nil:
				http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
			default:
				writeJSON(w, http.StatusOK, QueueCount{Requeued: 1})
			}
		}
	}
}

// POST /api/queue/purge[?connector=NAME]: dead letters deleted (their
// activities stay known, so they are not queued again).
func queuePurge(q Queue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if q == nil {
			noQueue(w)
			return
		}
		n, err := q.Purge(r.Context(), r.URL.Query().Get("connector"))
		if err != nil {
			http.Error(w, "queue: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, QueueCount{Purged: n})
	}
}
