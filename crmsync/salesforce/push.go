package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Field lengths of Task (Object Reference for the Salesforce Platform,
// Task): Subject 255, CallObject 255, CallDisposition 255, Description
// 32000.
const (
	maxSubject     = 255
	maxString      = 255
	maxDescription = 32000
)

// Key prefixes of the ids WhoId accepts (Contact, Lead); every other
// record goes in WhatId. A Task on a lead has no WhatId (Salesforce refuses
// one: "If WhoId refers to a lead, WhatId must be blank").
const (
	prefixContact = "003"
	prefixLead    = "00Q"
)

// Task is a create body: field API names as Salesforce spells them.
type Task map[string]any

// plan is everything decided about one activity before any request.
type plan struct {
	id   string // the activity id: CallObject, and the external id
	task Task
}

// plan maps a delivery to its Task. It makes no request: the user
// directory and the recognizer are in memory.
func (s *Salesforce) plan(dl crmsync.Delivery) (*plan, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, errors.New("activity without id")
	}
	if len(a.ID) > maxString {
		return nil, errors.New("activity id longer than CallObject holds")
	}
	m := callinfo.Match(s.rec, a)
	callType := "Inbound"
	switch {
	case a.Internal:
		callType = "Internal"
	case a.Direction == bridge.Outbound:
		callType = "Outbound"
	}
	status := s.cfg.Status
	if a.State != bridge.Connected {
		status = s.cfg.MissedStatus
	}
	t := Task{
		"Subject":               s.subjects.Subject(a, m, as.Template, maxSubject),
		"TaskSubtype":           "Call",
		"Status":                status,
		"Priority":              "Normal",
		"CallType":              callType,
		"CallDurationInSeconds": callinfo.Seconds(a.TalkSeconds),
		"CallObject":            a.ID,
		"CallDisposition":       callinfo.Outcome(a),
		"ActivityDate":          a.StartedAt.UTC().Format(time.DateOnly),
		"Description":           callinfo.Truncate(callinfo.Description(a), maxDescription),
	}
	if owner, _ := s.users.Load().Owner(as, s.cfg.DefaultOwner); owner != "" {
		t["OwnerId"] = owner
	}
	if m != nil {
		switch {
		case strings.HasPrefix(m.ID, prefixLead):
			t["WhoId"] = m.ID
		case strings.HasPrefix(m.ID, prefixContact):
			t["WhoId"] = m.ID
			if m.Org != "" {
				t["WhatId"] = m.Org
			}
		default:
			t["WhatId"] = m.ID
		}
	}
	if as.Template != "" {
		t[s.cfg.TemplateField] = callinfo.Truncate(as.Template, maxString)
	}
	return &plan{id: a.ID, task: t}, nil
}

// Push implements crmsync.Connector: it writes the activity as a Task,
// exactly once (see README.md).
func (s *Salesforce) Push(ctx context.Context, dl crmsync.Delivery) error {
	p, err := s.plan(dl)
	if err != nil {
		s.c.Pushed("failed")
		return crmerr.Permanent(s.c.Errorf("%w", err))
	}
	if s.doubt.Written(p.id) {
		s.c.Pushed("existed") // written by this process already
		return nil
	}
	if s.cfg.ExternalIDField != "" {
		return s.upsert(ctx, p)
	}
	if _, suspect := s.doubt.Suspect(p.id, dl.Activity.EndedAt); suspect {
		found, err := s.existing(ctx, []string{p.id})
		if err != nil {
			s.c.Pushed("failed")
			return err
		}
		if found[p.id] != "" {
			s.doubt.Wrote(p.id)
			s.c.Pushed("existed")
			return nil
		}
	}
	r, err := s.c.DoJSON(ctx, "create", http.MethodPost, s.api+"sobjects/Task", p.task, nil)
	if err != nil {
		s.doubt.Mark(p.id) // the Task may have been created
		s.c.Pushed("failed")
		return err
	}
	if !r.OK() {
		if r.Status >= 500 {
			s.doubt.Mark(p.id)
		}
		s.c.Pushed("failed")
		return s.c.Fail("create", r)
	}
	s.doubt.Wrote(p.id)
	s.c.Pushed("created")
	return nil
}

// upsert writes the Task keyed by its external id: created the first time,
// the same Task updated on a retry.
func (s *Salesforce) upsert(ctx context.Context, p *plan) error {
	target := s.api + "sobjects/Task/" + s.cfg.ExternalIDField + "/" + url.PathEscape(p.id)
	r, err := s.c.DoJSON(ctx, "upsert", http.MethodPatch, target, p.task, nil)
	if err != nil {
		s.c.Pushed("failed")
		return err
	}
	switch {
	case r.Status == http.StatusCreated:
		s.doubt.Wrote(p.id)
		s.c.Pushed("created")
	case r.OK():
		s.doubt.Wrote(p.id)
		s.c.Pushed("existed") // 200 (API 46.0+) or 204: updated, so written before
	default:
		s.c.Pushed("failed")
		return s.c.Fail("upsert", r)
	}
	return nil
}

// existing looks ids up by CallObject and returns the Task id of each
// found. SOQL string comparison ignores case, as activity ids are
// lower-case hex; several Tasks for one id cannot arise from callbridge.
func (s *Salesforce) existing(ctx context.Context, ids []string) (map[string]string, error) {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = soqlString(id)
	}
	q := "SELECT Id, CallObject FROM Task WHERE CallObject IN (" + strings.Join(quoted, ", ") + ")"
	found := map[string]string{}
	err := s.query(ctx, "find", q, func(rows []json.RawMessage) error {
		for _, raw := range rows {
			var row struct{ Id, CallObject string }
			if err := json.Unmarshal(raw, &row); err != nil {
				return s.c.Unexpected("find", err)
			}
			for _, id := range ids {
				if strings.EqualFold(id, row.CallObject) {
					found[id] = row.Id
				}
			}
		}
		return nil
	})
	return found, err
}

// maxPages bounds one SOQL query's pages (2,000 records each).
const maxPages = 100_000

// query runs a SOQL query, following nextRecordsUrl, calling fn with each
// page's records.
func (s *Salesforce) query(ctx context.Context, op, soql string, fn func([]json.RawMessage) error) error {
	next := s.api + "query?q=" + strings.ReplaceAll(url.QueryEscape(soql), "+", "%20")
	for pages := 0; next != ""; pages++ {
		if pages >= maxPages {
			return crmerr.Permanent(s.c.Errorf("%s: more than %d pages, giving up", op, maxPages))
		}
		r, err := s.c.Do(ctx, op, http.MethodGet, next, nil, nil)
		if err != nil {
			return err
		}
		if !r.OK() {
			return s.c.Fail(op, r)
		}
		var page struct {
			Done    bool              `json:"done"`
			Next    string            `json:"nextRecordsUrl"`
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return s.c.Unexpected(op, err)
		}
		if err := fn(page.Records); err != nil {
			return err
		}
		next = ""
		if !page.Done && page.Next != "" {
			// nextRecordsUrl is a path: /services/data/vXX.X/query/01g…
			next = s.cfg.URL + page.Next
		}
	}
	return nil
}

// soqlString quotes s as a SOQL string literal (SOQL and SOSL Reference,
// "Quoted String Escape Sequences").
func soqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\"", `\"`)
	return "'" + r.Replace(s) + "'"
}

// PushBatch implements crmsync.BatchPusher with sObject Collections: up to
// BatchSize Tasks a request, each with its own result (allOrNone false).
// Activities that may be written already are looked up with one SOQL
// query per chunk (or upserted, with an external id field).
func (s *Salesforce) PushBatch(ctx context.Context, ds []crmsync.Delivery) []error {
	errs := make([]error, len(ds))
	for start := 0; start < len(ds); start += s.cfg.BatchSize {
		end := min(start+s.cfg.BatchSize, len(ds))
		s.pushChunk(ctx, ds[start:end], errs[start:end])
	}
	return errs
}

func (s *Salesforce) pushChunk(ctx context.Context, ds []crmsync.Delivery, errs []error) {
	plans := make([]*plan, len(ds))
	var idx []int // activities to send, in record order
	var suspects []string
	for i, dl := range ds {
		p, err := s.plan(dl)
		if err != nil {
			errs[i] = crmerr.Permanent(s.c.Errorf("%w", err))
			s.c.Pushed("failed")
			continue
		}
		if s.doubt.Written(p.id) {
			s.c.Pushed("existed")
			continue
		}
		plans[i] = p
		idx = append(idx, i)
		if _, ok := s.doubt.Suspect(p.id, dl.Activity.EndedAt); ok && s.cfg.ExternalIDField == "" {
			suspects = append(suspects, p.id)
		}
	}
	if len(suspects) > 0 {
		found, err := s.existing(ctx, suspects)
		if err != nil {
			for _, i := range idx {
				errs[i] = err
			}
			s.c.Metrics.Pushes.WithLabelValues(s.name, "failed").Add(float64(len(idx)))
			return
		}
		kept := idx[:0]
		for _, i := range idx {
			if found[plans[i].id] != "" {
				s.doubt.Wrote(plans[i].id)
				s.c.Pushed("existed")
				continue
			}
			kept = append(kept, i)
		}
		idx = kept
	}
	if len(idx) == 0 {
		return
	}
	records := make([]Task, len(idx))
	for k, i := range idx {
		rec := Task{"attributes": map[string]string{"type": "Task"}}
		for f, v := range plans[i].task {
			rec[f] = v
		}
		if s.cfg.ExternalIDField != "" {
			rec[s.cfg.ExternalIDField] = plans[i].id
		}
		records[k] = rec
	}
	body := map[string]any{"allOrNone": false, "records": records}
	op, method, target := "batch", http.MethodPost, s.api+"composite/sobjects"
	if s.cfg.ExternalIDField != "" {
		op, method, target = "batch upsert", http.MethodPatch, s.api+"composite/sobjects/Task/"+s.cfg.ExternalIDField
	}
	r, err := s.c.DoJSON(ctx, op, method, target, body, nil)
	if err == nil && !r.OK() {
		err = s.c.Fail(op, r)
	}
	var results []saveResult
	if err == nil {
		if jerr := json.Unmarshal(r.Body, &results); jerr != nil {
			err = s.c.Unexpected(op, jerr)
		}
	}
	if err != nil {
		for _, i := range idx {
			errs[i] = err
			if crmerr.Status(err) == 0 || crmerr.Status(err) >= 500 {
				s.doubt.Mark(plans[i].id)
			}
		}
		s.c.Metrics.Pushes.WithLabelValues(s.name, "failed").Add(float64(len(idx)))
		return
	}
	for k, i := range idx {
		if k >= len(results) {
			errs[i] = crmerr.Retryable(s.c.Errorf("%s: no result for record %d", op, k+1), 0)
			s.doubt.Mark(plans[i].id)
			s.c.Pushed("failed")
			continue
		}
		res := results[k]
		if res.Success {
			s.doubt.Wrote(plans[i].id)
			if res.Created != nil && !*res.Created {
				s.c.Pushed("existed")
			} else {
				s.c.Pushed("created")
			}
			continue
		}
		errs[i] = s.recordError(op, res.Errors)
		s.c.Pushed("failed")
	}
}

// saveResult is one record's outcome in an sObject Collections answer.
type saveResult struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Created *bool  `json:"created"` // upserts only
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

// recordError classifies one record's failure in a collection: like a 400
// answer, unless its code says otherwise.
func (s *Salesforce) recordError(op string, errs []struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}) error {
	if len(errs) == 0 {
		return crmerr.Retryable(s.c.Errorf("%s: record failed without a reason", op), 0)
	}
	e := errs[0]
	f := classify(e.StatusCode, e.Message, e.Fields)
	return s.c.FailWith(op, &rest.Response{Status: http.StatusBadRequest, Header: http.Header{}}, f)
}
