package crmsync

import (
	"context"
	"time"
)

// Updater is a connector that can change an activity it wrote before: an
// agent's wrap-up code and notes, and the completion of an activity left
// open for its wrap-up (wrapup.complete_on_wrap). Like BatchPusher it is
// found by type assertion; a connector without it gets neither open pushes
// nor updates (its activities are written completed, without wrap-up).
type Updater interface {
	// PushOpen writes d.Activity exactly as Push would, idempotent on
	// d.Activity.ID in the same way, except that the CRM record is left
	// open (not completed): a later Update with Complete set closes it.
	PushOpen(ctx context.Context, d Delivery) error
	// Update applies u to the activity with id u.ActivityID, which was
	// pushed before (the dispatcher runs an update only once its
	// activity's push is delivered). It is idempotent on u.ID: applying
	// the same update twice leaves the record as applying it once. An
	// update of a record that is already completed still writes its
	// fields (reopening and closing it again where the CRM requires) and
	// leaves it completed. Errors are classified with crmerr, as Push's.
	Update(ctx context.Context, u UpdateRequest) error
}

// UpdateRequest is a change to an activity already in the CRM.
type UpdateRequest struct {
	// ID identifies the update: repeats of one ID are one update.
	ID string `json:"id"`
	// ActivityID is the bridge.Activity.ID of the activity to change;
	// CallID and User are its call and user, for receivers that key on
	// them and for logs.
	ActivityID string `json:"activity_id"`
	CallID     string `json:"call_id"`
	User       string `json:"user"`
	// Wrapup, when set, is written to the connector's wrap-up field(s).
	Wrapup *Wrapup `json:"wrapup,omitempty"`
	// Complete closes the activity if it is still open. Without it an
	// open activity stays open and a completed one completed.
	Complete bool `json:"complete,omitempty"`
}

// Wrapup is an agent's disposition of a call: a code from wrapup.codes and
// free-text notes.
type Wrapup struct {
	Code  string    `json:"code"`
	Notes string    `json:"notes,omitempty"`
	At    time.Time `json:"at"` // when the disposition was given
}

// CallbackWriter is a connector that writes callback requests ("call me
// back") into the CRM: Dynamics a phonecall in a CRM queue, the webhook a
// callback event. Found by type assertion; a connector without it is not
// given callback requests.
type CallbackWriter interface {
	// PushCallback writes cb, idempotent on cb.ID. The connector applies
	// cb.Duplicates against what the CRM holds: with DuplicatesIgnore a
	// request from a number that already has an open request in the same
	// CRM queue is not written (and that is a success).
	PushCallback(ctx context.Context, cb Callback) error
}

// Callback is one callback request, with its queue's profile applied.
type Callback struct {
	// ID is the request id: the caller's Idempotency-Key, else derived
	// from number, queue and requested_at.
	ID string `json:"id"`
	// Number is as the caller gave it; E164 is it normalised ("" when it
	// does not normalise).
	Number string `json:"number"`
	E164   string `json:"number_e164,omitempty"`
	// Queue is the PBX queue the request came from; CRMQueue the CRM
	// queue it goes to (callbacks.profiles[].crm_queue).
	Queue    string `json:"queue"`
	CRMQueue string `json:"crm_queue"`
	// Subject is the request's subject, or its profile's, or the global
	// one.
	Subject     string    `json:"subject"`
	RequestedAt time.Time `json:"requested_at"`
	// Ownership is OwnerAPIUser or OwnerQueue; Duplicates is
	// DuplicatesBundle or DuplicatesIgnore.
	Ownership  string `json:"ownership"`
	Duplicates string `json:"duplicates"`
}

// Callback ownership rules.
const (
	// OwnerAPIUser: the request is owned by callbridge's own CRM user.
	OwnerAPIUser = "api_user"
	// OwnerQueue: it is owned by the owner of the CRM queue.
	OwnerQueue = "queue_owner"
)

// Callback duplicate rules.
const (
	// DuplicatesBundle: every request is written, and the open requests
	// from the same number in the same queue are linked to each other.
	DuplicatesBundle = "bundle"
	// DuplicatesIgnore: a request from a number that has an open request
	// in the same queue is not written.
	DuplicatesIgnore = "ignore"
)

// Task is a queued job that is not an activity push: an update of an
// activity, or a callback request. It travels through the same durable
// queue as activities, per connector, idempotent on ID.
type Task struct {
	ID       string         `json:"id"`
	Update   *UpdateRequest `json:"update,omitempty"`
	Callback *Callback      `json:"callback,omitempty"`
	// After names a job (an activity id) of the same connector that must
	// be delivered before this task runs. Until then the task waits, up
	// to GiveUpAt; a task whose After job is dead goes to the dead
	// letters too.
	After    string    `json:"after,omitempty"`
	GiveUpAt time.Time `json:"give_up_at,omitempty"`
	// SkipIf names a job of the same connector whose existence (queued or
	// delivered) makes this task unnecessary: the wrap-up that completes
	// an activity makes its timeout's completion moot.
	SkipIf string `json:"skip_if,omitempty"`
}

// JobState is where a job stands in one connector's queue.
type JobState int

// Job states.
const (
	// JobUnknown: never enqueued, or forgotten (markers are kept for the
	// store's marker retention).
	JobUnknown JobState = iota
	// JobQueued: enqueued and neither delivered nor dead: ready, leased,
	// waiting for a retry (or purged from the dead letters).
	JobQueued
	// JobDelivered: acked.
	JobDelivered
	// JobDead: in the dead letters.
	JobDead
)

func (s JobState) String() string {
	switch s {
	case JobQueued:
		return "queued"
	case JobDelivered:
		return "delivered"
	case JobDead:
		return "dead"
	}
	return "unknown"
}
