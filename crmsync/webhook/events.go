package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// EventHeader names the kind of event a request carries.
const EventHeader = "X-Callbridge-Event"

// Events.
const (
	// EventActivity: the body is an activity (docs/activity.md); with
	// "completed": false it waits for its wrap-up.
	EventActivity = "activity"
	// EventUpdate: the body is an Update of an activity sent before.
	EventUpdate = "activity.update"
	// EventCallback: the body is a CallbackEvent.
	EventCallback = "callback"
)

// PushOpen implements crmsync.Updater: Push, with "completed": false in
// the body: an activity update with "complete": true follows.
func (w *Webhook) PushOpen(ctx context.Context, d crmsync.Delivery) error {
	a := d.Activity
	b := w.body(d)
	b.Completed = false
	body, err := encode(&b)
	if err != nil {
		return crmerr.Permanent(fmt.Errorf("webhook %s: encode activity: %w", w.name, err))
	}
	return w.post(ctx, EventActivity, a.ID, body, a.CallID, a.User)
}

// Update is the body of an activity.update event.
type Update struct {
	Event string `json:"event"` // "activity.update"
	// ID is the update's own id, also its Idempotency-Key.
	ID string `json:"id"`
	// ActivityID is the id of the activity sent before.
	ActivityID string `json:"activity_id"`
	CallID     string `json:"call_id"`
	User       string `json:"user"`
	// WrapUp is the agent's disposition, as an activity body's wrap_up
	// has it; nil for a completion at wrapup.timeout.
	WrapUp *WrapUp `json:"wrap_up"`
	// Complete: the activity is done (its wrap-up came, or
	// wrapup.timeout passed).
	Complete bool `json:"complete"`
}

// Update implements crmsync.Updater: one activity.update event,
// Idempotency-Key the update's id.
func (w *Webhook) Update(ctx context.Context, u crmsync.UpdateRequest) error {
	body := appendUpdate(make([]byte, 0, 256), &Update{Event: EventUpdate, ID: u.ID, ActivityID: u.ActivityID, CallID: u.CallID,
		User: u.User, WrapUp: wrapUpOf(u.Wrapup), Complete: u.Complete})
	return w.post(ctx, EventUpdate, u.ID, body, u.CallID, u.User)
}

// CallbackEvent is the body of a callback event.
type CallbackEvent struct {
	Event string `json:"event"` // "callback"
	crmsync.Callback
	// Group is the same for every request from one number to one queue:
	// a receiver links (duplicates: bundle) or drops (ignore) requests by
	// it, since only it knows which are still open.
	Group string `json:"group"`
}

// PushCallback implements crmsync.CallbackWriter: one callback event,
// Idempotency-Key "callback:<id>". The duplicate rule travels in the body
// for the receiver to apply.
func (w *Webhook) PushCallback(ctx context.Context, cb crmsync.Callback) error {
	num := cb.E164
	if num == "" {
		num = cb.Number
	}
	h := sha256.Sum256([]byte(cb.Queue + "\x00" + num))
	ev := CallbackEvent{Event: EventCallback, Callback: cb, Group: hex.EncodeToString(h[:12])}
	ev.RequestedAt = cb.RequestedAt.UTC().Truncate(time.Millisecond)
	body, err := json.Marshal(ev)
	if err != nil {
		return crmerr.Permanent(fmt.Errorf("webhook %s: encode callback: %w", w.name, err))
	}
	return w.post(ctx, EventCallback, "callback:"+cb.ID, body, "", "")
}
