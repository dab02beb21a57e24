package pipedrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
)

// CallLog is a create body (AddCallLogRequest in Pipedrive's OpenAPI).
type CallLog struct {
	UserID          int    `json:"user_id,omitempty"`
	Subject         string `json:"subject"`
	Duration        string `json:"duration"`
	Outcome         string `json:"outcome"`
	FromPhoneNumber string `json:"from_phone_number,omitempty"`
	ToPhoneNumber   string `json:"to_phone_number"`
	StartTime       string `json:"start_time"`
	EndTime         string `json:"end_time"`
	PersonID        int    `json:"person_id,omitempty"`
	OrgID           int    `json:"org_id,omitempty"`
	Note            string `json:"note"`
}

// maxSubject bounds the subject, marker included.
const maxSubject = 255

// Marker is what ends a call log's subject: " · ref " and ten hex digits
// of a hash of the activity id. The call activity Pipedrive creates for
// the call log is named after the subject (AddCallLogRequest.subject, "the
// name of the activity this call is attached to"), so the marker can be
// found among the owner's activities; call logs themselves can only be
// listed for the token's own user. Forty bits make two of one owner's
// calls in three days share a marker with odds below one in a million.
func Marker(activityID string) string {
	h := sha256.Sum256([]byte(activityID))
	return " · ref " + hex.EncodeToString(h[:5])
}

// pdTime writes a time as call logs want it: UTC, "YYYY-MM-DD HH:MM:SS".
func pdTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

// outcome is the call log's outcome (connected, no_answer, busy, …).
func outcome(a bridge.Activity) string {
	switch {
	case a.State == bridge.Connected:
		return "connected"
	case a.Reason == bridge.ReasonBusy:
		return "busy"
	}
	return "no_answer"
}

// note is the call's description as HTML, the template code on a line of
// its own (call logs have no custom fields).
func note(a bridge.Activity, template string) string {
	lines := strings.Split(callinfo.Description(a), "\n")
	if template != "" {
		lines = append(lines, "Template: "+template)
	}
	for i, l := range lines {
		lines[i] = html.EscapeString(l)
	}
	return "<p>" + strings.Join(lines, "<br>") + "</p>"
}

// callLog maps a delivery to its call log. It makes no request.
func (p *Pipedrive) callLog(dl crmsync.Delivery) (*CallLog, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, errors.New("activity without id")
	}
	m := callinfo.Match(p.rec, a)
	marker := Marker(a.ID)
	subject := p.subjects.Subject(a, m, as.Template, maxSubject-len([]rune(marker))) + marker
	end := a.EndedAt
	if end.Before(a.StartedAt) {
		end = a.StartedAt
	}
	cl := &CallLog{
		Subject: subject, Duration: strconv.Itoa(callinfo.Seconds(a.TalkSeconds)), Outcome: outcome(a),
		StartTime: pdTime(a.StartedAt), EndTime: pdTime(end), Note: note(a, as.Template),
	}
	local := a.LocalNumber
	if a.Direction == bridge.Outbound {
		cl.FromPhoneNumber, cl.ToPhoneNumber = local, callinfo.Number(a)
	} else {
		to := local
		if a.DDI != "" {
			to = a.DDI
		}
		cl.FromPhoneNumber, cl.ToPhoneNumber = callinfo.Number(a), to
	}
	if cl.ToPhoneNumber == "" {
		cl.ToPhoneNumber = "unknown" // required by the API
	}
	if owner, _ := p.users.Load().Owner(as, p.cfg.DefaultOwner); owner != "" {
		id, err := strconv.Atoi(owner)
		if err != nil {
			return nil, errors.New("owner " + owner + " is not a Pipedrive user id")
		}
		cl.UserID = id
	}
	if m != nil {
		id, _ := strconv.Atoi(m.ID)
		switch m.Kind {
		case "person":
			cl.PersonID = id
			if org, err := strconv.Atoi(m.Org); err == nil {
				cl.OrgID = org
			}
		default:
			cl.OrgID = id
		}
	}
	return cl, nil
}

// Push implements crmsync.Connector: it adds the call log, exactly once
// (see README.md).
func (p *Pipedrive) Push(ctx context.Context, dl crmsync.Delivery) error {
	cl, err := p.callLog(dl)
	if err != nil {
		p.c.Pushed("failed")
		return crmerr.Permanent(p.c.Errorf("%w", err))
	}
	id := dl.Activity.ID
	if p.doubt.Written(id) {
		p.c.Pushed("existed")
		return nil
	}
	if _, suspect := p.doubt.Suspect(id, dl.Activity.EndedAt); suspect {
		found, err := p.find(ctx, cl, Marker(id))
		if err != nil {
			p.c.Pushed("failed")
			return err
		}
		if found {
			p.doubt.Wrote(id)
			p.c.Pushed("existed")
			return nil
		}
	}
	r, err := p.c.DoJSON(ctx, "create", http.MethodPost, p.cfg.URL+"/api/v1/callLogs", cl, nil)
	if err != nil {
		p.doubt.Mark(id)
		p.c.Pushed("failed")
		return err
	}
	if !r.OK() {
		if r.Status >= 500 {
			p.doubt.Mark(id)
		}
		p.c.Pushed("failed")
		return p.c.Fail("create", r)
	}
	p.doubt.Wrote(id)
	p.c.Pushed("created")
	return nil
}

// find looks for the owner's call activity carrying marker, due the day
// before to the day after the call started (due dates follow the user's
// time zone).
func (p *Pipedrive) find(ctx context.Context, cl *CallLog, marker string) (bool, error) {
	start, _ := time.Parse(time.DateTime, cl.StartTime)
	q := url.Values{"type": {"call"}, "limit": {"500"},
		"start_date": {start.AddDate(0, 0, -1).Format(time.DateOnly)}, "end_date": {start.AddDate(0, 0, 1).Format(time.DateOnly)}}
	if cl.UserID != 0 {
		q.Set("user_id", strconv.Itoa(cl.UserID))
	}
	for next, pages := 0, 0; ; pages++ {
		if pages > 1000 {
			return false, crmerr.Permanent(p.c.Errorf("find: too many pages, giving up"))
		}
		q.Set("start", strconv.Itoa(next))
		r, err := p.c.Do(ctx, "find", http.MethodGet, p.cfg.URL+"/api/v1/activities?"+q.Encode(), nil, nil)
		if err != nil {
			return false, err
		}
		if !r.OK() {
			return false, p.c.Fail("find", r)
		}
		var res struct {
			Data []struct {
				Subject string `json:"subject"`
			} `json:"data"`
			AdditionalData struct {
				Pagination struct {
					More      bool `json:"more_items_in_collection"`
					NextStart int  `json:"next_start"`
				} `json:"pagination"`
			} `json:"additional_data"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return false, p.c.Unexpected("find", err)
		}
		for _, a := range res.Data {
			if strings.HasSuffix(a.Subject, marker) {
				return true, nil
			}
		}
		if !res.AdditionalData.Pagination.More || res.AdditionalData.Pagination.NextStart <= next {
			return false, nil
		}
		next = res.AdditionalData.Pagination.NextStart
	}
}
