package crmsync

import (
	"context"
	"errors"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Store errors.
var (
	// ErrNotFound: no dead letter (or job) with that id.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: the job's lease ran out and another worker took it
	// over, so this worker may no longer reschedule or dead-letter it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Store is the durable queue behind delivery, and the shared memory of the
// policy's start-margin rule. Implementations are safe for concurrent use,
// and several processes may share one store (Redis) without delivering a job
// twice while its lease holds.
type Store interface {
	// Enqueue adds a job delivering a to connector. It is idempotent on
	// (connector, a.ID): an activity already queued, dead or delivered is
	// not added again, and added is false.
	Enqueue(ctx context.Context, connector string, a bridge.Activity) (added bool, err error)

	// EnqueueJob adds j (an activity, possibly to be pushed open, or a
	// task) for connector, due at due (zero or past: at once). It is
	// idempotent on (connector, j.ID()) as Enqueue is. Only j's Activity,
	// Open and Task are read.
	EnqueueJob(ctx context.Context, connector string, j Job, due time.Time) (added bool, err error)

	// JobState says where the job with id (an activity id or a task id)
	// stands in connector's queue.
	JobState(ctx context.Context, connector, id string) (JobState, error)

	// Claim leases up to req.Max jobs of req.Connector that are due, to
	// req.Worker for req.Lease. Jobs whose lease ran out without an Ack
	// (a worker crashed) are claimed again. When nothing is due, Claim may
	// wait up to req.Wait for work before returning none.
	Claim(ctx context.Context, req ClaimRequest) ([]Job, error)

	// Ack records j as delivered and removes it. Acking a job that was
	// already acked (by a worker that lost its lease) is not an error.
	Ack(ctx context.Context, j Job) error

	// Nack gives j back, to be claimed again at retryAt, with lastErr
	// recorded and its attempt count increased. ErrLeaseLost if another
	// worker holds it now.
	Nack(ctx context.Context, j Job, retryAt time.Time, lastErr string) error

	// DeadLetter moves j to the dead-letter store with reason. ErrLeaseLost
	// if another worker holds it now.
	DeadLetter(ctx context.Context, j Job, reason string) error

	// DeadLetters lists up to limit dead letters (limit <= 0: all), of one
	// connector or of all when connector is "", oldest first.
	DeadLetters(ctx context.Context, connector string, limit int) ([]DeadLetter, error)

	// Retry puts the dead letter with id (an activity's or a task's) back
	// in the queue (of every connector where it is dead), attempts reset.
	// ErrNotFound if there is none.
	Retry(ctx context.Context, id string) error

	// RetryAll requeues every dead letter of connector ("" for all) and
	// returns how many.
	RetryAll(ctx context.Context, connector string) (int, error)

	// Purge deletes every dead letter of connector ("" for all) and returns
	// how many. Purged activities stay known, so they are not enqueued
	// again.
	Purge(ctx context.Context, connector string) (int, error)

	// Stats reports every connector's queue.
	Stats(ctx context.Context) ([]QueueStats, error)

	// ReserveStart is the start-margin check: if an activity of k.User
	// with k.Remote started within ±k.Margin of k.Start (inclusive) is
	// already reserved under another id and may be the same call, it
	// returns that id; otherwise it reserves k.Start for k.ID and returns
	// "". A reservation may be the same call unless it holds a call id of
	// k.Source other than k.CallID: one source's two call ids are two
	// calls. A duplicate's source and call id join the reservation it
	// matched, so one reservation never takes in two calls of one source.
	// Of several matches the nearest start wins, the earlier on a tie.
	// Only the keys' own times count, never the store's clock. Check and
	// reserve are one atomic step, so of two racing duplicates exactly
	// one is accepted. Reserving the same id again returns "".
	ReserveStart(ctx context.Context, k StartKey) (duplicateOf string, err error)

	// Close releases the store. In-flight leases simply run out.
	Close() error
}

// ClaimRequest asks a store for work.
type ClaimRequest struct {
	Connector string
	Worker    string        // who holds the lease (unique per process and connector)
	Max       int           // at most this many jobs
	Lease     time.Duration // how long the worker may hold them without acking
	Wait      time.Duration // how long to wait for work when none is due
}

// Job is one activity to push to one connector, as claimed by a worker.
type Job struct {
	Connector string
	// Activity is the activity to push; for a task, the activity it is
	// about (id, call and user only), if any.
	Activity bridge.Activity
	// Open asks for the activity to be pushed open (Updater.PushOpen),
	// to be completed by a later update.
	Open bool
	// Task, when set, makes this job a task rather than a push.
	Task       *Task
	Attempt    int       // failed attempts so far
	LastError  string    // of the last failed attempt
	EnqueuedAt time.Time // first enqueued
	Worker     string    // lease holder
	// Handle is the store's own reference to this lease.
	Handle string
	// Reclaimed says the job was taken over from a worker whose lease ran
	// out: it may have been pushed already.
	Reclaimed bool
}

// ID is the job's id: its task's, else its activity's.
func (j Job) ID() string {
	if j.Task != nil {
		return j.Task.ID
	}
	return j.Activity.ID
}

// DeadLetter is a job that will not be retried without an operator.
type DeadLetter struct {
	Connector  string          `json:"connector"`
	Activity   bridge.Activity `json:"activity"`
	Open       bool            `json:"open,omitempty"`
	Task       *Task           `json:"task,omitempty"`
	Attempts   int             `json:"attempts"`
	Reason     string          `json:"reason"`
	EnqueuedAt time.Time       `json:"enqueued_at"`
	DiedAt     time.Time       `json:"died_at"`
}

// ID is the dead job's id: its task's, else its activity's.
func (d DeadLetter) ID() string {
	if d.Task != nil {
		return d.Task.ID
	}
	return d.Activity.ID
}

// QueueStats describes one connector's queue.
type QueueStats struct {
	Connector string `json:"connector"`
	Ready     int64  `json:"ready"`     // due, waiting for a worker
	InFlight  int64  `json:"in_flight"` // leased to a worker
	Delayed   int64  `json:"delayed"`   // waiting for a retry time
	Dead      int64  `json:"dead"`      // in the dead-letter store
	Delivered int64  `json:"delivered"` // acked since the store was created
}

// StartKey identifies an activity for the start-margin rule.
type StartKey struct {
	User   string
	Remote string
	Start  time.Time
	Margin time.Duration
	ID     string
	// Source and CallID are the call as its source reported it (ari and
	// the linkedid, sip and the Call-ID). Either empty: unknown, like a
	// call another system wrote, which may be the same as any other.
	Source string
	CallID string
}

// Known reports whether k names its call: a source and a call id.
func (k StartKey) Known() bool { return k.Source != "" && k.CallID != "" }
