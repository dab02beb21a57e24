package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
)

// Default association types from a call (Associations v4, "Association
// type IDs": call to contact 194, call to company 182).
const (
	assocCallContact = 194
	assocCallCompany = 182
)

// searchSettle is how long after a possibly successful create a search
// may still miss the call: HubSpot's search index trails writes ("changes
// … take several seconds to propagate", CRM search API). A lost answer is
// trusted to the search only after this.
const searchSettle = 30 * time.Second

// maxTitle bounds hs_call_title (a single-line text property).
const maxTitle = 255

// Input is one call to create: properties as HubSpot names them (values
// are strings) and its associations.
type Input struct {
	Properties   map[string]string `json:"properties"`
	Associations []Association     `json:"associations,omitempty"`
}

// Association links the call to a record.
type Association struct {
	To struct {
		ID string `json:"id"`
	} `json:"to"`
	Types []AssociationType `json:"types"`
}

// AssociationType is a HubSpot-defined association type.
type AssociationType struct {
	Category string `json:"associationCategory"`
	TypeID   int    `json:"associationTypeId"`
}

func assoc(id string, typ int) Association {
	a := Association{Types: []AssociationType{{Category: "HUBSPOT_DEFINED", TypeID: typ}}}
	a.To.ID = id
	return a
}

// status is hs_call_status for the activity (calls API: BUSY, CANCELED,
// COMPLETED, FAILED, MISSED, NO_ANSWER, …).
func status(a bridge.Activity) string {
	switch {
	case a.State == bridge.Connected:
		return "COMPLETED"
	case a.Direction == bridge.Inbound:
		return "MISSED"
	case a.Reason == bridge.ReasonBusy:
		return "BUSY"
	case a.Reason == bridge.ReasonCancel:
		return "CANCELED"
	case a.Reason == bridge.ReasonFailed || a.Reason == bridge.ReasonRejected:
		return "FAILED"
	}
	return "NO_ANSWER"
}

// input maps a delivery to its call. It makes no request.
func (h *HubSpot) input(dl crmsync.Delivery) (*Input, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, errors.New("activity without id")
	}
	m := callinfo.Match(h.rec, a)
	dir := "INBOUND"
	from, to := callinfo.Number(a), a.LocalNumber
	if a.DDI != "" {
		to = a.DDI
	}
	if a.Direction == bridge.Outbound {
		dir, from, to = "OUTBOUND", a.LocalNumber, callinfo.Number(a)
	}
	p := map[string]string{
		"hs_timestamp":        a.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"hs_call_title":       h.subjects.Subject(a, m, as.Template, maxTitle),
		"hs_call_body":        callinfo.Description(a),
		"hs_call_direction":   dir,
		"hs_call_status":      status(a),
		"hs_call_duration":    strconv.FormatInt(int64(callinfo.Seconds(a.TalkSeconds))*1000, 10), // milliseconds
		"hs_call_from_number": from,
		"hs_call_to_number":   to,
		h.cfg.MarkerProperty:  a.ID,
	}
	if owner, _ := h.users.Load().Owner(as, h.cfg.DefaultOwner); owner != "" {
		p["hubspot_owner_id"] = owner
	}
	if as.Template != "" {
		p[h.cfg.TemplateProperty] = callinfo.Truncate(as.Template, maxTitle)
	}
	in := &Input{Properties: p}
	if m != nil {
		switch m.EntitySet {
		case "contacts":
			in.Associations = append(in.Associations, assoc(m.ID, assocCallContact))
			if m.Org != "" {
				in.Associations = append(in.Associations, assoc(m.Org, assocCallCompany))
			}
		case "companies":
			in.Associations = append(in.Associations, assoc(m.ID, assocCallCompany))
		}
	}
	return in, nil
}

// Push implements crmsync.Connector: it creates the call, exactly once
// (see README.md).
func (h *HubSpot) Push(ctx context.Context, dl crmsync.Delivery) error {
	in, err := h.input(dl)
	if err != nil {
		h.c.Pushed("failed")
		return crmerr.Permanent(h.c.Errorf("%w", err))
	}
	id := dl.Activity.ID
	if h.doubt.Written(id) {
		h.c.Pushed("existed") // written by this process already
		return nil
	}
	if since, suspect := h.doubt.Suspect(id, dl.Activity.EndedAt); suspect {
		found, err := h.find(ctx, []string{id})
		if err != nil {
			h.c.Pushed("failed")
			return err
		}
		if found[id] {
			h.doubt.Wrote(id)
			h.c.Pushed("existed")
			return nil
		}
		if wait := searchSettle - h.now().Sub(since); wait > 0 {
			h.c.Pushed("failed")
			return crmerr.Retryable(h.c.Errorf("create: an earlier create may have succeeded and the search index lags: looking again"), wait)
		}
	}
	r, err := h.c.DoJSON(ctx, "create", http.MethodPost, h.cfg.URL+"/crm/v3/objects/calls", in, nil)
	if err != nil {
		h.doubt.Mark(id)
		h.c.Pushed("failed")
		return err
	}
	if !r.OK() {
		if r.Status >= 500 {
			h.doubt.Mark(id)
		}
		h.c.Pushed("failed")
		return h.c.Fail("create", r)
	}
	h.doubt.Wrote(id)
	h.c.Pushed("created")
	return nil
}

// searchFilter is one filter of a CRM search (the SDK's Filter model).
type searchFilter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        string   `json:"value,omitempty"`
	Values       []string `json:"values,omitempty"`
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []map[string]string `json:"sorts,omitempty"`
	Properties []string            `json:"properties"`
	Limit      int                 `json:"limit"`
	After      string              `json:"after,omitempty"`
}

func newSearch(limit int, props []string, filters ...searchFilter) *searchRequest {
	s := &searchRequest{Properties: props, Limit: limit}
	s.FilterGroups = make([]struct {
		Filters []searchFilter `json:"filters"`
	}, 1)
	s.FilterGroups[0].Filters = filters
	return s
}

// page is a list or search answer.
type page struct {
	Results []struct {
		ID         string             `json:"id"`
		Properties map[string]*string `json:"properties"`
		UpdatedAt  time.Time          `json:"updatedAt"`
		Archived   bool               `json:"archived"`
	} `json:"results"`
	Paging struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

func prop(ps map[string]*string, k string) string {
	if v := ps[k]; v != nil {
		return *v
	}
	return ""
}

// find searches calls by marker, up to 100 ids at a time.
func (h *HubSpot) find(ctx context.Context, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	for start := 0; start < len(ids); start += MaxBatchSize {
		chunk := ids[start:min(start+MaxBatchSize, len(ids))]
		req := newSearch(MaxBatchSize, []string{h.cfg.MarkerProperty}, searchFilter{PropertyName: h.cfg.MarkerProperty, Operator: "IN", Values: chunk})
		r, err := h.c.DoJSON(ctx, "find", http.MethodPost, h.cfg.URL+"/crm/v3/objects/calls/search", req, nil)
		if err != nil {
			return nil, err
		}
		if !r.OK() {
			return nil, h.c.Fail("find", r)
		}
		var pg page
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return nil, h.c.Unexpected("find", err)
		}
		for _, res := range pg.Results {
			found[prop(res.Properties, h.cfg.MarkerProperty)] = true
		}
	}
	return found, nil
}

// PushBatch implements crmsync.BatchPusher with the batch create endpoint,
// up to BatchSize calls a request. Calls that may exist already are
// searched first, 100 markers a search. A batch HubSpot refuses whole (one
// invalid input fails them all) is pushed again one by one, so each
// activity gets its own answer.
func (h *HubSpot) PushBatch(ctx context.Context, ds []crmsync.Delivery) []error {
	errs := make([]error, len(ds))
	for start := 0; start < len(ds); start += h.cfg.BatchSize {
		end := min(start+h.cfg.BatchSize, len(ds))
		h.pushChunk(ctx, ds[start:end], errs[start:end])
	}
	return errs
}

func (h *HubSpot) pushChunk(ctx context.Context, ds []crmsync.Delivery, errs []error) {
	inputs := make([]*Input, len(ds))
	var idx []int
	var suspects []string
	since := map[string]time.Time{}
	for i, dl := range ds {
		in, err := h.input(dl)
		if err != nil {
			errs[i] = crmerr.Permanent(h.c.Errorf("%w", err))
			h.c.Pushed("failed")
			continue
		}
		if h.doubt.Written(dl.Activity.ID) {
			h.c.Pushed("existed")
			continue
		}
		inputs[i] = in
		idx = append(idx, i)
		if t, ok := h.doubt.Suspect(dl.Activity.ID, dl.Activity.EndedAt); ok {
			suspects = append(suspects, dl.Activity.ID)
			since[dl.Activity.ID] = t
		}
	}
	if len(suspects) > 0 {
		found, err := h.find(ctx, suspects)
		if err != nil {
			for _, i := range idx {
				errs[i] = err
			}
			h.c.Metrics.Pushes.WithLabelValues(h.name, "failed").Add(float64(len(idx)))
			return
		}
		kept := idx[:0]
		for _, i := range idx {
			id := ds[i].Activity.ID
			t, suspect := since[id]
			switch {
			case found[id]:
				h.doubt.Wrote(id)
				h.c.Pushed("existed")
			case suspect && searchSettle-h.now().Sub(t) > 0:
				errs[i] = crmerr.Retryable(h.c.Errorf("batch: an earlier create may have succeeded and the search index lags: looking again"), searchSettle-h.now().Sub(t))
				h.c.Pushed("failed")
			default:
				kept = append(kept, i)
			}
		}
		idx = kept
	}
	if len(idx) == 0 {
		return
	}
	body := struct {
		Inputs []*Input `json:"inputs"`
	}{}
	for _, i := range idx {
		body.Inputs = append(body.Inputs, inputs[i])
	}
	r, err := h.c.DoJSON(ctx, "batch", http.MethodPost, h.cfg.URL+"/crm/v3/objects/calls/batch/create", body, nil)
	if err == nil && !r.OK() && r.Status >= 400 && r.Status < 500 && r.Status != http.StatusTooManyRequests && r.Status != http.StatusUnauthorized {
		// Refused whole for one input's sake: each on its own.
		for _, i := range idx {
			errs[i] = h.Push(ctx, ds[i])
		}
		return
	}
	if err == nil && !r.OK() {
		err = h.c.Fail("batch", r)
	}
	var pg page
	if err == nil {
		if jerr := json.Unmarshal(r.Body, &pg); jerr != nil {
			err = h.c.Unexpected("batch", jerr)
		}
	}
	if err != nil {
		for _, i := range idx {
			errs[i] = err
			if crmerr.Status(err) == 0 || crmerr.Status(err) >= 500 {
				h.doubt.Mark(ds[i].Activity.ID)
			}
		}
		h.c.Metrics.Pushes.WithLabelValues(h.name, "failed").Add(float64(len(idx)))
		return
	}
	// Results come in no promised order: match them by marker.
	created := map[string]bool{}
	for _, res := range pg.Results {
		created[prop(res.Properties, h.cfg.MarkerProperty)] = true
	}
	for _, i := range idx {
		id := ds[i].Activity.ID
		if created[id] {
			h.doubt.Wrote(id)
			h.c.Pushed("created")
			continue
		}
		h.doubt.Mark(id) // a partial answer: it may or may not be there
		errs[i] = crmerr.Retryable(h.c.Errorf("batch: no result for activity %s", id), 0)
		h.c.Pushed("failed")
	}
}
