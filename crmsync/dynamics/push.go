package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// Push implements crmsync.Connector: it writes dl.Activity as a phonecall,
// owned and titled as dl.Assignment says, and completes it. It is
// idempotent on the activity's ID.
func (d *Dynamics) Push(ctx context.Context, dl crmsync.Delivery) error {
	return d.push(ctx, dl, false)
}

// PushOpen implements crmsync.Updater: Push, leaving the phonecall open
// for its wrap-up (Update completes it).
func (d *Dynamics) PushOpen(ctx context.Context, dl crmsync.Delivery) error {
	return d.push(ctx, dl, true)
}

func (d *Dynamics) push(ctx context.Context, dl crmsync.Delivery, open bool) error {
	a := dl.Activity
	log := d.log.With().Str("call_id", a.CallID).Str("user", a.User).Logger()
	p, err := d.plan(dl)
	if err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		return crmerr.Permanent(fmt.Errorf("dynamics %s: %w", d.name, err))
	}
	if open {
		p.complete = nil
	}
	if d.cfg.StartMargin > 0 {
		dup, own, err := d.findExisting(ctx, a, p)
		if err != nil {
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			log.Debug().Err(err).Msg("dynamics start-margin query failed")
			return err
		}
		if dup != "" && !own {
			d.metrics.pushes.WithLabelValues(d.name, "duplicate").Inc()
			log.Info().Str("duplicate_of", dup).Msg("dynamics phonecall already recorded within the start margin")
			return nil
		}
		if own {
			return d.finish(ctx, log, p, "existed")
		}
	}
	r, err := d.do(ctx, "create", http.MethodPost, "phonecalls", marshal(p.body), nil)
	if err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		log.Debug().Err(err).Msg("dynamics create failed")
		return err
	}
	outcome := "created"
	if r.status < 200 || r.status > 299 {
		if !alreadyExists(r) {
			err := d.fail("create", r)
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			log.Debug().Int("status", r.status).Err(err).Msg("dynamics create refused")
			return err
		}
		// A retry after a create that succeeded: only the completion
		// may be missing.
		outcome = "existed"
		return d.finish(ctx, log, p, outcome)
	}
	return d.complete(ctx, log, p, outcome, false)
}

// alreadyExists recognises Dataverse refusing a create because the
// primary key is taken: 412 with 0x80040237 (also accepted with other
// statuses carrying the code).
func alreadyExists(r *response) bool {
	code, _ := errorCode(r.body)
	return code == codeDuplicateKey || (r.status == http.StatusPreconditionFailed && code == "")
}

// finish completes an existing phonecall unless it already is.
func (d *Dynamics) finish(ctx context.Context, log zerolog.Logger, p *plan, outcome string) error {
	return d.complete(ctx, log, p, outcome, true)
}

// complete sets the final state. When check is set the phonecall existed
// before this push: its state is read first, since Dataverse refuses to
// update a closed activity.
func (d *Dynamics) complete(ctx context.Context, log zerolog.Logger, p *plan, outcome string, check bool) error {
	if p.complete == nil {
		d.metrics.pushes.WithLabelValues(d.name, outcome).Inc()
		return nil
	}
	if check {
		r, err := d.do(ctx, "read", http.MethodGet, "phonecalls("+p.id+")?$select=statecode,statuscode", nil, nil)
		if err != nil {
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			return err
		}
		if r.status != http.StatusOK {
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			return d.fail("read", r)
		}
		var cur completion
		if err := json.Unmarshal(r.body, &cur); err != nil {
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			return crmerr.Retryable(fmt.Errorf("dynamics %s: read: undecodable answer", d.name), 0)
		}
		if cur.State != stateOpen {
			d.metrics.pushes.WithLabelValues(d.name, outcome).Inc()
			return nil // closed already, by us or by a person: leave it
		}
	}
	r, err := d.do(ctx, "complete", http.MethodPatch, "phonecalls("+p.id+")", marshal(p.complete), http.Header{"If-Match": {"*"}})
	if err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		log.Debug().Err(err).Msg("dynamics completion failed")
		return err
	}
	if r.status < 200 || r.status > 299 {
		err := d.fail("complete", r)
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		log.Debug().Int("status", r.status).Err(err).Msg("dynamics completion refused")
		return err
	}
	d.metrics.pushes.WithLabelValues(d.name, outcome).Inc()
	return nil
}

// findExisting looks for a phonecall of the same owner and number starting
// within ± the start margin. own says it is this activity's own record (a
// retry); otherwise dup is another record's id.
func (d *Dynamics) findExisting(ctx context.Context, a bridge.Activity, p *plan) (dup string, own bool, err error) {
	if p.number == "" {
		return "", false, nil
	}
	m := d.cfg.StartMargin
	conds := []string{}
	if p.owner != "" {
		conds = append(conds, "_ownerid_value eq "+p.owner)
	}
	conds = append(conds,
		"phonenumber eq "+odataString(p.number),
		"actualstart ge "+dvTime(a.StartedAt.Add(-m)),
		"actualstart le "+dvTime(a.StartedAt.Add(m)))
	q := url.Values{"$select": {"activityid"}, "$filter": {strings.Join(conds, " and ")}, "$top": {"10"}}
	r, err := d.do(ctx, "find", http.MethodGet, "phonecalls?"+queryString(q), nil, nil)
	if err != nil {
		return "", false, err
	}
	if r.status != http.StatusOK {
		return "", false, d.fail("find", r)
	}
	var page struct {
		Value []struct {
			ID string `json:"activityid"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		return "", false, crmerr.Retryable(fmt.Errorf("dynamics %s: find: undecodable answer", d.name), 0)
	}
	for _, v := range page.Value {
		if strings.EqualFold(v.ID, p.id) {
			return v.ID, true, nil
		}
	}
	if len(page.Value) > 0 {
		return page.Value[0].ID, false, nil
	}
	return "", false, nil
}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// queryString encodes q with %20 for spaces: OData reads '+' literally in
// some places.
func queryString(q url.Values) string { return strings.ReplaceAll(q.Encode(), "+", "%20") }
