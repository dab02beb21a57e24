package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/phone"
)

// Wrapups queues agents' dispositions of calls (crmsync.Wrapups).
type Wrapups interface {
	Dispose(ctx context.Context, d crmsync.Disposition) (crmsync.DisposeResult, error)
}

// Callbacks queues callback requests (crmsync.Callbacks).
type Callbacks interface {
	Request(ctx context.Context, r crmsync.CallbackRequest) (crmsync.CallbackResult, error)
}

// queued is what the wrap-up and callback routes answer.
type queued struct {
	ID         string   `json:"id"`
	Connectors []string `json:"queued"`             // queued for these connectors
	Repeated   []string `json:"repeated,omitempty"` // these had it already
}

// POST /api/calls/{call_id}/disposition {"user", "code", "notes"}: 202
// once the wrap-up is queued; 422 for a code not in wrapup.codes.
func disposition(wu Wrapups, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := fields(w, r, maxDispositionBody)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if wu == nil {
			http.Error(w, "wrap-ups need a CRM connector (crm:)", http.StatusServiceUnavailable)
			return
		}
		d := crmsync.Disposition{CallID: r.PathValue("call_id"), User: f["user"], Code: f["code"], Notes: f["notes"]}
		res, err := wu.Dispose(r.Context(), d)
		switch {
		case errors.Is(err, crmsync.ErrUnknownCode), errors.Is(err, crmsync.ErrBadWrapup):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		case err != nil:
			log.Warn().Err(err).Str("call_id", d.CallID).Str("user", d.User).Msg("wrap-up not queued")
			http.Error(w, "wrap-up not queued: the store is unavailable", http.StatusServiceUnavailable)
			return
		}
		log.Info().Str("call_id", d.CallID).Str("user", d.User).Str("code", d.Code).Strs("queued", res.Connectors).Msg("wrap-up queued")
		writeJSON(w, http.StatusAccepted, queued{ID: res.ActivityID, Connectors: nonNil(res.Connectors), Repeated: res.Repeated})
	}
}

// POST /api/callbacks {"number", "queue", "subject", "requested_at"}: 202
// once queued; 404 for a queue without a callback profile.
func callbacks(cb Callbacks, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := fields(w, r, maxCallbackBody)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if cb == nil {
			http.Error(w, "callback requests need a CRM connector (crm:)", http.StatusServiceUnavailable)
			return
		}
		at, err := parseTime(f["requested_at"])
		if err != nil {
			http.Error(w, "requested_at: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		req := crmsync.CallbackRequest{ID: r.Header.Get("Idempotency-Key"), Number: number(f["number"]), Queue: f["queue"],
			Subject: f["subject"], RequestedAt: at}
		res, err := cb.Request(r.Context(), req)
		switch {
		case errors.Is(err, crmsync.ErrNoProfile):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case errors.Is(err, crmsync.ErrBadCallback):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		case err != nil:
			log.Warn().Err(err).Str("queue", req.Queue).Msg("callback request not queued")
			http.Error(w, "callback request not queued: the store is unavailable", http.StatusServiceUnavailable)
			return
		}
		log.Info().Str("number", phone.Mask(req.Number)).Str("queue", req.Queue).Str("id", res.ID).Strs("queued", res.Connectors).Msg("callback request queued")
		writeJSON(w, http.StatusAccepted, queued{ID: res.ID, Connectors: nonNil(res.Connectors), Repeated: res.Repeated})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
