package crmsync

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
)

// Connector writes activities to one CRM.
type Connector interface {
	Name() string
	// Push writes d.Activity, idempotent on d.Activity.ID: pushing the same
	// activity twice leaves one record in the CRM. Errors are classified with
	// package crmerr; unclassified errors are retried.
	Push(ctx context.Context, d Delivery) error
}

// BatchPusher is a connector that can write many activities in one request
// (Dynamics' $batch). When a backlog builds (a claim brings more jobs than
// there are free workers), the dispatcher hands it such chunks, so a CRM
// outage drains at the speed the CRM allows requests, not activities.
type BatchPusher interface {
	PushBatch(ctx context.Context, ds []Delivery) []error // one error (or nil) per delivery
}

// Refresher is implemented by connectors holding a credential that can be
// renewed (an OAuth token, a secret file). After a push fails with
// crmerr.ErrUnauthorized the worker calls Refresh once and pushes again.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Assigner says where an activity goes in the CRM; the Policy is one. The
// dispatcher asks it once per delivery, just before the push, so a user
// mapping learnt since the activity was queued applies.
type Assigner interface {
	Assign(a bridge.Activity) Assignment
}
