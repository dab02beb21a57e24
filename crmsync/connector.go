package crmsync

import (
	"context"

	"github.com/callbridge/callbridge/bridge"
)

// Connector writes activities to one CRM.
type Connector interface {
	Name() string
	// Push writes a. It is idempotent on a.ID: pushing the same activity
	// twice leaves one activity in the CRM. Errors are classified with
	// package crmerr; unclassified errors are retried.
	Push(ctx context.Context, a bridge.Activity) error
}

// Refresher is implemented by connectors holding a credential that can be
// renewed (an OAuth token, a secret file). After a push fails with
// crmerr.ErrUnauthorized the worker calls Refresh once and pushes again.
type Refresher interface {
	Refresh(ctx context.Context) error
}
