package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

// crmQueue is a Dataverse queue as a callback request needs it.
type crmQueue struct {
	id        string
	owner     string // systemuserid or teamid
	ownerTeam bool
}

// openRequest is an open phonecall to the same number in the same queue.
type openRequest struct {
	ID          string `json:"activityid"`
	Subject     string `json:"subject"`
	Scheduled   string `json:"scheduledstart"`
	Description string `json:"description"`
}

// PushCallback implements crmsync.CallbackWriter: the request becomes an
// open outgoing phonecall to the caller, regarding their CRM record when
// recognised, owned by the application user (ownership api_user) or by
// the queue's owner (queue_owner), and added to the CRM queue with
// AddToQueue. Duplicates are judged against the queue as Dataverse holds
// it: the open phonecalls to the same number with an active item in that
// queue. ignore: none written; bundle: written, and each open request's
// description names the others. Idempotent on cb.ID: the phonecall's id
// derives from it, and a retry only completes what is missing.
func (d *Dynamics) PushCallback(ctx context.Context, cb crmsync.Callback) error {
	log := d.log.With().Str("callback", cb.ID).Str("queue", cb.Queue).Logger()
	err := d.pushCallback(ctx, log, cb)
	if err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		log.Debug().Err(err).Msg("dynamics callback request failed")
	}
	return err
}

func (d *Dynamics) pushCallback(ctx context.Context, log zerolog.Logger, cb crmsync.Callback) error {
	id := RecordID("callback:" + cb.ID)
	number := cb.E164
	if number == "" {
		number = cb.Number
	}
	q, err := d.queue(ctx, cb.CRMQueue)
	if err != nil {
		return err
	}
	exists, err := d.phonecallExists(ctx, id)
	if err != nil {
		return err
	}
	open, err := d.openRequests(ctx, q.id, number, id)
	if err != nil {
		return err
	}
	outcome := "existed"
	if !exists {
		if cb.Duplicates == crmsync.DuplicatesIgnore && len(open) > 0 {
			d.metrics.pushes.WithLabelValues(d.name, "duplicate").Inc()
			log.Info().Str("open_request", open[0].ID).Msg("callback request not written: the number has an open one in the queue")
			return nil
		}
		body := d.callbackBody(cb, number, id, q, open)
		r, err := d.do(ctx, "create", http.MethodPost, "phonecalls", marshal(body), nil)
		if err != nil {
			return err
		}
		switch {
		case r.status >= 200 && r.status <= 299:
			outcome = "created"
		case !alreadyExists(r):
			return d.fail("create", r)
		}
	}
	if err := d.enqueue(ctx, q.id, id); err != nil {
		return err
	}
	if cb.Duplicates == crmsync.DuplicatesBundle {
		line := fmt.Sprintf("Also requested: %s (%s)", dvTime(cb.RequestedAt), id)
		for _, o := range open {
			if strings.Contains(o.Description, id) {
				continue
			}
			desc := appendDescription(o.Description, line)
			r, err := d.do(ctx, "update", http.MethodPatch, "phonecalls("+o.ID+")", marshal(Phonecall{"description": desc}), http.Header{"If-Match": {"*"}})
			if err != nil {
				return err
			}
			if r.status < 200 || r.status > 299 {
				return d.fail("update", r)
			}
		}
	}
	d.metrics.pushes.WithLabelValues(d.name, outcome).Inc()
	return nil
}

// queue finds the CRM queue by queueid or by name, with its owner.
func (d *Dynamics) queue(ctx context.Context, ref string) (*crmQueue, error) {
	cond := "name eq " + odataString(ref)
	if isGUID(ref) {
		cond = "queueid eq " + strings.ToLower(ref)
	}
	q := url.Values{"$select": {"queueid,_ownerid_value"}, "$filter": {cond}, "$top": {"2"}}
	r, err := d.do(ctx, "queue", http.MethodGet, "queues?"+queryString(q), nil,
		http.Header{"Prefer": {`odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`}})
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, d.fail("queue", r)
	}
	var page struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: queue: undecodable answer", d.name), 0)
	}
	switch len(page.Value) {
	case 0:
		return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: no CRM queue %q (callbacks.profiles[].crm_queue)", d.name, ref))
	case 1:
	default:
		return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: several CRM queues are named %q: give its queueid", d.name, ref))
	}
	v := page.Value[0]
	out := &crmQueue{}
	out.id, _ = v["queueid"].(string)
	out.owner, _ = v["_ownerid_value"].(string)
	kind, _ := v["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"].(string)
	out.ownerTeam = kind == "team"
	if !isGUID(out.id) {
		return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: queue: answer without a queueid", d.name), 0)
	}
	return out, nil
}

func (d *Dynamics) phonecallExists(ctx context.Context, id string) (bool, error) {
	r, err := d.do(ctx, "read", http.MethodGet, "phonecalls("+id+")?$select=activityid", nil, nil)
	switch {
	case err != nil:
		return false, err
	case r.status == http.StatusOK:
		return true, nil
	case r.status == http.StatusNotFound:
		return false, nil
	}
	return false, d.fail("read", r)
}

// openRequests are the open phonecalls to number, other than self, with
// an active item in queue.
func (d *Dynamics) openRequests(ctx context.Context, queue, number, self string) ([]openRequest, error) {
	q := url.Values{"$select": {"activityid,subject,scheduledstart,description"},
		"$filter": {"phonenumber eq " + odataString(number) + " and statecode eq 0"}, "$top": {"50"}}
	r, err := d.do(ctx, "find", http.MethodGet, "phonecalls?"+queryString(q), nil, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, d.fail("find", r)
	}
	var page struct {
		Value []openRequest `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: find: undecodable answer", d.name), 0)
	}
	var out []openRequest
	for _, o := range page.Value {
		if strings.EqualFold(o.ID, self) || !isGUID(o.ID) {
			continue
		}
		in, err := d.inQueue(ctx, queue, o.ID)
		if err != nil {
			return nil, err
		}
		if in {
			out = append(out, o)
		}
	}
	return out, nil
}

// inQueue says whether phonecall id has an active item in queue.
func (d *Dynamics) inQueue(ctx context.Context, queue, id string) (bool, error) {
	q := url.Values{"$select": {"queueitemid"}, "$top": {"1"},
		"$filter": {"_objectid_value eq " + strings.ToLower(id) + " and _queueid_value eq " + strings.ToLower(queue) + " and statecode eq 0"}}
	r, err := d.do(ctx, "find", http.MethodGet, "queueitems?"+queryString(q), nil, nil)
	if err != nil {
		return false, err
	}
	if r.status != http.StatusOK {
		return false, d.fail("find", r)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		return false, crmerr.Retryable(fmt.Errorf("dynamics %s: find: undecodable answer", d.name), 0)
	}
	return len(page.Value) > 0, nil
}

// enqueue puts phonecall id in queue with AddToQueue unless it is there.
func (d *Dynamics) enqueue(ctx context.Context, queue, id string) error {
	in, err := d.inQueue(ctx, queue, id)
	if err != nil || in {
		return err
	}
	body := map[string]any{"Target": map[string]any{"activityid": id, "@odata.type": "Microsoft.Dynamics.CRM.phonecall"}}
	r, err := d.do(ctx, "queue", http.MethodPost, "queues("+strings.ToLower(queue)+")/Microsoft.Dynamics.CRM.AddToQueue", marshal(body), nil)
	if err != nil {
		return err
	}
	if r.status < 200 || r.status > 299 {
		return d.fail("queue", r)
	}
	return nil
}

// callbackBody is the create body of a callback request's phonecall.
func (d *Dynamics) callbackBody(cb crmsync.Callback, number, id string, q *crmQueue, open []openRequest) Phonecall {
	var b strings.Builder
	fmt.Fprintf(&b, "Callback request from %s in queue %s, requested %s.\nRequest id: %s", number, cb.Queue, dvTime(cb.RequestedAt), cb.ID)
	if cb.Duplicates == crmsync.DuplicatesBundle {
		for _, o := range open {
			fmt.Fprintf(&b, "\nAlso requested: %s (%s)", o.Scheduled, o.ID)
		}
	}
	body := Phonecall{
		"activityid":     id,
		"subject":        truncate(strings.Join(strings.Fields(cb.Subject), " "), maxSubject),
		"phonenumber":    number,
		"directioncode":  true, // the call to make is outgoing
		"scheduledstart": dvTime(cb.RequestedAt),
		"description":    truncate(b.String(), maxDescription),
	}
	if cb.Ownership == crmsync.OwnerQueue && isGUID(q.owner) {
		set := "systemusers"
		if q.ownerTeam {
			set = "teams"
		}
		body["ownerid@odata.bind"] = "/" + set + "(" + q.owner + ")"
	}
	to := Party{"addressused": number}
	if m, ok := d.recognize(cb); ok {
		body["regardingobjectid_"+m.Entity+"_phonecall@odata.bind"] = "/" + m.EntitySet + "(" + m.ID + ")"
		to = Party{"partyid_" + m.Entity + "@odata.bind": "/" + m.EntitySet + "(" + m.ID + ")"}
	}
	to["participationtypemask"] = 2 // to recipient
	body["phonecall_activity_parties"] = []Party{to}
	return body
}

func (d *Dynamics) recognize(cb crmsync.Callback) (phoneindex.Candidate, bool) {
	if d.rec == nil {
		return phoneindex.Candidate{}, false
	}
	var m phoneindex.Match
	var ok bool
	if cb.E164 != "" {
		m, ok = d.rec.LookupE164(cb.E164)
	} else {
		m, ok = d.rec.Lookup(cb.Number)
	}
	return m.Best, ok
}
