package crmsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// skipped is a task with nothing (more) to do for its connector: the
// settle stage acks it and counts it as "skipped".
type skipped struct{ why string }

func (s *skipped) Error() string { return "skipped: " + s.why }

// waiting is a task whose activity is not delivered yet: the settle stage
// gives it back for a later attempt, never to the dead letters.
type waiting struct{ why string }

func (w *waiting) Error() string { return "waiting: " + w.why }

// maxWait caps the backoff of a waiting task, so an update follows its
// activity's delivery within half a minute.
const maxWait = 30 * time.Second

// runOne takes one claimed job through the connector and settle stages:
// an activity push (open or not) or a task.
func (d *Dispatcher) runOne(drain context.Context, log zerolog.Logger, c Connector, j Job) {
	d.settle.Settle(drain, log, c, j, d.pushOne(drain, c, j))
}

// pushOne pushes j (an activity, an open push or a task) to c.
func (d *Dispatcher) pushOne(drain context.Context, c Connector, j Job) error {
	switch {
	case j.Task != nil:
		return d.push.Task(drain, c, d.store, j)
	case j.Open:
		return d.push.Open(drain, c, d.assign.Delivery(j))
	default:
		return d.push.One(drain, c, d.assign.Delivery(j))
	}
}

// Open pushes d to be completed by a later update: with Updater.PushOpen
// when c has it, else with Push (the activity is written completed; the
// update that would have completed it is skipped).
func (s Push) Open(drain context.Context, c Connector, d Delivery) error {
	u, ok := c.(Updater)
	if !ok {
		return s.One(drain, c, d)
	}
	return s.call(drain, c, func(ctx context.Context) error { return u.PushOpen(ctx, d) })
}

// Task runs task job j on c. Its order with its activity is kept here: an
// update waits until its activity (Task.After) is delivered to c, gives
// up at Task.GiveUpAt when c never got the activity (the policy dropped
// it), and follows it to the dead letters. A task made moot by another
// job (Task.SkipIf) is skipped, and so is one c cannot do.
func (s Push) Task(drain context.Context, c Connector, st Store, j Job) error {
	t := j.Task
	state := func(id string) (JobState, error) {
		ctx, cancel := context.WithTimeout(drain, 5*time.Second)
		defer cancel()
		return st.JobState(ctx, c.Name(), id)
	}
	if t.SkipIf != "" {
		js, err := state(t.SkipIf)
		if err != nil {
			return crmerr.Retryable(fmt.Errorf("job state of %s: %w", t.SkipIf, err), 0)
		}
		if js == JobQueued || js == JobDelivered {
			return &skipped{why: t.SkipIf + " is " + js.String()}
		}
	}
	if t.After != "" {
		js, err := state(t.After)
		switch {
		case err != nil:
			return crmerr.Retryable(fmt.Errorf("job state of %s: %w", t.After, err), 0)
		case js == JobDead:
			return crmerr.Permanent(fmt.Errorf("activity %s is in the dead letters; retry it, then this", t.After))
		case js == JobQueued:
			return &waiting{why: "activity " + t.After + " not delivered yet"}
		case js == JobUnknown && !t.GiveUpAt.IsZero() && time.Now().After(t.GiveUpAt):
			return &skipped{why: "no activity " + t.After + " was queued for this connector"}
		case js == JobUnknown:
			return &waiting{why: "activity " + t.After + " not queued yet"}
		}
	}
	switch {
	case t.Update != nil:
		u, ok := c.(Updater)
		if !ok {
			return &skipped{why: "the connector cannot update activities"}
		}
		return s.call(drain, c, func(ctx context.Context) error { return u.Update(ctx, *t.Update) })
	case t.Callback != nil:
		cw, ok := c.(CallbackWriter)
		if !ok {
			return &skipped{why: "the connector does not take callback requests"}
		}
		return s.call(drain, c, func(ctx context.Context) error { return cw.PushCallback(ctx, *t.Callback) })
	}
	return crmerr.Permanent(errors.New("task with nothing to do"))
}

// settleTask records the outcomes only tasks have; it reports false for
// any other outcome, which Settle then records as for a push.
func (s Settle) settleTask(ctx context.Context, log zerolog.Logger, j Job, err error) (result string, serr error, done bool) {
	var sk *skipped
	var w *waiting
	switch {
	case errors.As(err, &sk):
		log.Info().Str("task", j.ID()).Str("why", sk.why).Msg("task skipped")
		return "skipped", s.Store.Ack(ctx, j), true
	case errors.As(err, &w):
		wait := min(s.Backoff.Wait(j.Attempt+1), maxWait)
		log.Debug().Str("task", j.ID()).Str("why", w.why).Dur("retry_in", wait).Msg("task waiting")
		return "waiting", s.Store.Nack(ctx, j, time.Now().Add(wait), w.Error()), true
	}
	return "", nil, false
}
